"""Precision and recall of the practice-run analyzer per technique and pitfall.

    python -m tests.eval_invitation [dev|holdout|both]     (make eval-practice)

The development set (tests/practice/invitation_lines.yml) is what the patterns were tuned on;
the held-out set (invitation_holdout.yml) was written at the same time by the same helper, blind
to the analyzer, and kept out of tuning: its figures are the honest estimate.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, List

import yaml

from bot.nlp import invitation

SETS = {"dev": "invitation_lines.yml", "holdout": "invitation_holdout.yml"}
DIR = Path(__file__).resolve().parent / "practice"


def load(name: str) -> List[Dict[str, Any]]:
    return yaml.safe_load((DIR / SETS[name]).read_text(encoding="utf-8"))["items"]


def score(items: List[Dict[str, Any]]) -> Dict[str, Any]:
    counts = {label: {"tp": 0, "fp": 0, "fn": 0} for label in invitation.LABELS}
    errors = []
    for item in items:
        result = invitation.analyze(item["text"])
        found = set(result.labels)
        expected = set(item.get("techniques") or []) | set(item.get("pitfalls") or [])
        for label in invitation.LABELS:
            if label in found and label in expected:
                counts[label]["tp"] += 1
            elif label in found:
                counts[label]["fp"] += 1
            elif label in expected:
                counts[label]["fn"] += 1
        if found != expected:
            errors.append((item["text"], sorted(expected - found), sorted(found - expected)))
    per_label = {}
    for label, c in counts.items():
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        per_label[label] = {"precision": precision, "recall": recall, "support": c["tp"] + c["fn"]}
    tp = sum(c["tp"] for c in counts.values())
    fp = sum(c["fp"] for c in counts.values())
    fn = sum(c["fn"] for c in counts.values())
    return {"per_label": per_label, "micro_precision": tp / (tp + fp) if tp + fp else 1.0,
            "micro_recall": tp / (tp + fn) if tp + fn else 1.0, "exact": 1 - len(errors) / len(items),
            "errors": errors, "items": len(items)}


def report(name: str, verbose: bool = False) -> Dict[str, Any]:
    result = score(load(name))
    print(f"\n{name}: {result['items']} lines, exact match {result['exact']:.1%}, "
          f"micro precision {result['micro_precision']:.1%}, micro recall {result['micro_recall']:.1%}")
    print(f"{'label':<18}{'precision':>10}{'recall':>8}{'support':>9}")
    for label, s in result["per_label"].items():
        print(f"{label:<18}{s['precision']:>10.2f}{s['recall']:>8.2f}{s['support']:>9}")
    if verbose:
        for text, missed, extra in result["errors"]:
            print(f"  {text!r}: missed {missed} extra {extra}")
    return result


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "both"
    for name in (["dev", "holdout"] if which == "both" else [which]):
        report(name, verbose="-v" in sys.argv)
