"""Merge two independent labellings of the real-world units, measure their agreement, list the
disagreements for adjudication, and (given the adjudications) write the corpus splits.

Not run by `make` (the raw units are not in the repository); docs/data.md says how it was used.

    python scripts/real_corpus_merge.py agreement --units units.jsonl --labels DIR
    python scripts/real_corpus_merge.py disagreements --units units.jsonl --labels DIR --out DIR --parts 2
    python scripts/real_corpus_merge.py split --units units.jsonl --labels DIR --adjudicated DIR

`DIR` holds batch_<n>.A.jsonl and batch_<n>.B.jsonl (one labeller each, docs/labelling-guide.md).
Splits are by source post (every unit of a post in one split): 60% train, 20% dev, 20% test.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO_ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("label", "tier", "self_harm", "kind", "perpetrator")
OUTPUTS = {
    "train": REPO_ROOT / "bot" / "safety" / "corpus" / "train.jsonl",
    "dev": REPO_ROOT / "bot" / "safety" / "corpus" / "dev.jsonl",
    "test": REPO_ROOT / "tests" / "safety" / "real_test.jsonl",
}


def read_jsonl(path: Path) -> List[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def labels(directory: Path, who: str) -> Dict[str, dict]:
    found: Dict[str, dict] = {}
    for path in sorted(glob.glob(str(directory / f"batch_*.{who}.jsonl"))):
        for row in read_jsonl(Path(path)):
            found[row["id"]] = row
    return found


def key(row: dict) -> Tuple:
    """What must agree: the label, the tier and self-harm kind of explicit danger, the kind of an
    indirect sign, and whether the writer is the one who did it."""
    label = row.get("label")
    return (
        label,
        row.get("tier") if label == "explicit" else None,
        row.get("self_harm") if label == "explicit" and row.get("tier") == "self_harm" else None,
        row.get("kind") if label == "indirect" else None,
        bool(row.get("perpetrator")),
    )


def kappa(a: Sequence, b: Sequence) -> float:
    """Cohen's kappa of two labellings of the same items."""
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb.get(k, 0) for k in ca) / (n * n)
    return (observed - expected) / (1 - expected) if expected < 1 else 1.0


def risk(row: dict) -> str:
    label = row.get("label")
    if label == "explicit":
        return "self_harm" if row.get("tier") == "self_harm" else "explicit"
    return "indirect" if label == "indirect" else "none"


def agreement(units: List[dict], a: Dict[str, dict], b: Dict[str, dict]) -> Dict[str, float]:
    ids = [u["id"] for u in units if u["id"] in a and u["id"] in b]
    both_explicit = [i for i in ids if a[i]["label"] == b[i]["label"] == "explicit"]
    both_indirect = [i for i in ids if a[i]["label"] == b[i]["label"] == "indirect"]
    return {
        "units": len(ids),
        "label (5 classes) agreement": sum(a[i]["label"] == b[i]["label"] for i in ids) / len(ids),
        "label (5 classes) kappa": kappa([a[i]["label"] for i in ids], [b[i]["label"] for i in ids]),
        "risk (explicit / self-harm / indirect / none) kappa": kappa(
            [risk(a[i]) for i in ids], [risk(b[i]) for i in ids]
        ),
        "tier kappa, where both said explicit": kappa(
            [a[i].get("tier") for i in both_explicit], [b[i].get("tier") for i in both_explicit]
        ),
        "kind kappa, where both said indirect": kappa(
            [a[i].get("kind") for i in both_indirect], [b[i].get("kind") for i in both_indirect]
        ),
        "full agreement (label, tier, kind, perpetrator)": sum(key(a[i]) == key(b[i]) for i in ids) / len(ids),
    }


def split_of(post: str) -> str:
    bucket = int(hashlib.sha1(f"split:{post}".encode()).hexdigest(), 16) % 10
    return "train" if bucket < 6 else "dev" if bucket < 8 else "test"


def final_label(unit_id: str, a: dict, b: dict, adjudicated: Dict[str, dict]) -> Optional[dict]:
    if unit_id in adjudicated:  # a disagreement, or an agreed label sent back by the consistency review
        chosen = adjudicated[unit_id]
    elif key(a) == key(b):
        chosen = a
    else:
        return None
    return {field: chosen[field] for field in FIELDS if chosen.get(field) not in (None, False)}


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["agreement", "disagreements", "split"])
    parser.add_argument("--units", type=Path, required=True)
    parser.add_argument("--labels", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--parts", type=int, default=1)
    parser.add_argument("--adjudicated", type=Path)
    args = parser.parse_args(argv)
    units = read_jsonl(args.units)
    a, b = labels(args.labels, "A"), labels(args.labels, "B")
    if args.command == "agreement":
        for name, value in agreement(units, a, b).items():
            print(f"{name:55} {value:.3f}" if isinstance(value, float) else f"{name:55} {value}")
        return
    if args.command == "disagreements":
        rows = [
            {
                "id": u["id"],
                "text": u["text"],
                "labeller_1": {k: v for k, v in a[u["id"]].items() if k != "id"},
                "labeller_2": {k: v for k, v in b[u["id"]].items() if k != "id"},
            }
            for u in units
            if key(a[u["id"]]) != key(b[u["id"]])
        ]
        args.out.mkdir(parents=True, exist_ok=True)
        for part in range(args.parts):
            with open(args.out / f"disagreements_{part + 1}.jsonl", "w", encoding="utf-8") as f:
                for row in rows[part :: args.parts]:
                    f.write(json.dumps(row) + "\n")
        print(len(rows), "disagreements in", args.parts, "parts")
        return
    adjudicated: Dict[str, dict] = {}
    for path in sorted(glob.glob(str(args.adjudicated / "adjudicated_*.jsonl"))):
        for row in read_jsonl(Path(path)):
            adjudicated[row["id"]] = row
    out: Dict[str, List[dict]] = {name: [] for name in OUTPUTS}
    missing = []
    # A post's units share a group number (for grouped cross-validation); the post itself is not kept.
    groups: Dict[str, int] = {}
    for unit in units:
        label = final_label(unit["id"], a[unit["id"]], b[unit["id"]], adjudicated)
        if label is None:
            missing.append(unit["id"])
            continue
        agreed = key(a[unit["id"]]) == key(b[unit["id"]]) and unit["id"] not in adjudicated
        out[split_of(unit["post"])].append(
            {
                "id": unit["id"],
                "text": unit["text"],
                **label,
                "stratum": unit["stratum"],
                "source": unit["source"],
                "group": groups.setdefault(unit["post"], len(groups) + 1),
                "agreed": agreed,
            }
        )
    if missing:
        raise SystemExit(f"{len(missing)} disagreements without an adjudication, e.g. {missing[:5]}")
    for name, rows in out.items():
        OUTPUTS[name].parent.mkdir(parents=True, exist_ok=True)
        with open(OUTPUTS[name], "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(name, len(rows), dict(Counter(r["label"] for r in rows)))


if __name__ == "__main__":
    main()
