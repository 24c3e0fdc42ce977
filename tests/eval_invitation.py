"""Precision and recall of the practice-run analyzer per technique and pitfall.

    python -m tests.eval_invitation [heldout|train] [--patterns-only] [-v]     (make eval-practice)

`heldout` (the default) is tests/practice/heldout4.jsonl, the fourth held-out set: lines by a writer
who saw neither the patterns nor the training lines, labelled twice blind (docs/data.md). It is the honest figure;
docs/practice-run.md keeps its first look. `train` scores the training lines (the model has seen
them: a check that it learnt them, not a result). `--patterns-only` scores the patterns without the
model, to see what each layer adds. The figures are written to results/eval_practice.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List

from bot.rehearsal import analyzer as invitation
from bot.rehearsal import model as invitation_model

ROOT = Path(__file__).resolve().parents[1]
SETS = {"heldout": ROOT / "tests" / "practice" / "heldout4.jsonl", "train": invitation_model.CORPUS}
RESULTS = ROOT / "results" / "eval_practice.json"


def load(name: str) -> List[Dict[str, Any]]:
    return invitation_model.read_lines(SETS[name])


def score(items: List[Dict[str, Any]], use_model: bool = True) -> Dict[str, Any]:
    counts = {label: {"tp": 0, "fp": 0, "fn": 0} for label in invitation.LABELS}
    errors = []
    for item in items:
        found = set(invitation.analyze(item["text"], use_model=use_model).labels)
        expected = set(item.get("labels") or [])
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
    return {
        "per_label": per_label,
        "micro_precision": tp / (tp + fp) if tp + fp else 1.0,
        "micro_recall": tp / (tp + fn) if tp + fn else 1.0,
        "exact": 1 - len(errors) / len(items),
        "errors": errors,
        "items": len(items),
    }


def report(name: str, use_model: bool = True, verbose: bool = False) -> Dict[str, Any]:
    result = score(load(name), use_model)
    layers = "patterns + model" if use_model else "patterns only"
    print(
        f"\n{name} ({layers}): {result['items']} lines, exact match {result['exact']:.1%}, "
        f"micro precision {result['micro_precision']:.1%}, micro recall {result['micro_recall']:.1%}"
    )
    print(f"{'label':<18}{'precision':>10}{'recall':>8}{'support':>9}")
    for label, s in result["per_label"].items():
        print(f"{label:<18}{s['precision']:>10.2f}{s['recall']:>8.2f}{s['support']:>9}")
    if verbose:
        for text, missed, extra in result["errors"]:
            print(f"  {text!r}: missed {missed} extra {extra}")
    return result


if __name__ == "__main__":
    names = [a for a in sys.argv[1:] if not a.startswith("-")] or ["heldout"]
    use_model = "--patterns-only" not in sys.argv
    results = {name: report(name, use_model, verbose="-v" in sys.argv) for name in names}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps({n: {k: v for k, v in r.items() if k != "errors"} for n, r in results.items()}, indent=2),
        encoding="utf-8",
    )
