"""Assemble the practice-run analyzer's labelled lines (docs/data.md, "Practice-run lines").

    python scripts/practice_corpus.py [RAW_DIR]     (default: tests/practice/round4)

Rounds 1 to 3 (2026-11 to 2026-12-07) are bot/rehearsal/corpus/train.jsonl as they were assembled
then, each line with its source (writers 1-6 and 8, the first lines relabelled, two rounds of
public phrasings, each labelled twice blind; docs/data.md). Their raw deliveries were not kept, so
the fourth round is added on top of that file, from files kept in the repository:

- tests/practice/heldout3.jsonl, the third held-out set (a seventh writer's lines, labelled twice
  blind, looked at once on 2026-12-07), becomes training lines (source `writer_7`);
- RAW_DIR/train_w10.jsonl, a tenth writer's lines for the labels the third set found hardest
  (blame, pressure, sarcasm) and look-alikes, with RAW_DIR/train_w10_check.jsonl, a second blind
  labelling, kept where the two differ (as in every earlier round);
- RAW_DIR/heldout4_w9.jsonl with heldout4_check.jsonl (a blind second labelling) and
  heldout4_adjudicated.jsonl (the disagreements settled with the guide): the fourth held-out set,
  written to tests/practice/heldout4.jsonl (the lines on which both labellings agree, and the
  disagreements as adjudicated).

Running it again gives the same files: the fourth round's sources are replaced, never added twice.
A line of the held-out set is never a training line (same text once normalised).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bot.rehearsal.analyzer import LABELS  # noqa: E402

TRAIN_OUT = ROOT / "bot" / "rehearsal" / "corpus" / "train.jsonl"
PRACTICE = ROOT / "tests" / "practice"
HELDOUT_OUT = PRACTICE / "heldout4.jsonl"
PREVIOUS_HELDOUT = PRACTICE / "heldout3.jsonl"
ROUND4_SOURCES = ("writer_7", "writer_10")


def key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def read_jsonl(path: Path) -> List[Dict[str, Any]]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def clean_labels(labels: Any) -> List[str]:
    unknown = set(labels or []) - set(LABELS)
    if unknown:
        raise ValueError(f"unknown labels {sorted(unknown)}")
    return [label for label in LABELS if label in set(labels or [])]


def heldout(raw: Path, name: str, writer: str) -> List[Dict[str, Any]]:
    """A writer's lines, labelled twice: where the labellings agree, or as adjudicated."""
    written = read_jsonl(raw / f"{name}_{writer}.jsonl")
    check = {row["id"]: row for row in read_jsonl(raw / f"{name}_check.jsonl")}
    settled = {row["id"]: row for row in read_jsonl(raw / f"{name}_adjudicated.jsonl")}
    rows = []
    for row in written:
        first = set(clean_labels(row["labels"]))
        second = set(clean_labels(check[row["id"]]["labels"])) if row["id"] in check else None
        if second is None:
            continue
        if first == second:
            labels, how = first, "agreed"
        elif row["id"] in settled:
            labels, how = set(clean_labels(settled[row["id"]]["labels"])), "adjudicated"
        else:
            continue
        rows.append({"id": row["id"], "text": row["text"], "labels": clean_labels(labels), "labelling": how})
    return rows


def assemble(raw: Path) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """The training lines and the held-out lines of the fourth round (the module's docstring)."""
    test = heldout(raw, "heldout4", "w9")
    base = [row for row in read_jsonl(TRAIN_OUT) if row["source"] not in ROUND4_SOURCES]
    train: List[Dict[str, Any]] = list(base)
    for row in read_jsonl(PREVIOUS_HELDOUT):
        train.append({"text": row["text"], "labels": clean_labels(row["labels"]), "source": "writer_7"})
    second = {row["id"]: row["labels"] for row in read_jsonl(raw / "train_w10_check.jsonl")}
    for row in read_jsonl(raw / "train_w10.jsonl"):
        labels = second.get(row["id"], row["labels"])
        train.append(
            {"text": " ".join(str(row["text"]).split()), "labels": clean_labels(labels), "source": "writer_10"}
        )
    seen = {key(row["text"]) for row in test}
    kept = []
    for row in train:
        k = key(row["text"])
        if k and k not in seen:
            seen.add(k)
            kept.append(row)
    return kept, test


def main(raw: Path) -> None:
    kept, test = assemble(raw)
    if not test:
        sys.exit(f"no held-out lines in {raw}: heldout4_w9.jsonl and heldout4_check.jsonl are needed")
    with open(TRAIN_OUT, "w", encoding="utf-8") as f:
        for row in kept:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(HELDOUT_OUT, "w", encoding="utf-8") as f:
        for row in test:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"train: {len(kept)} lines; held-out: {len(test)} lines")
    for label in LABELS:
        print(
            f"  {label:<18} train {sum(label in r['labels'] for r in kept):>4}   held-out "
            f"{sum(label in r['labels'] for r in test):>3}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]) if len(sys.argv) == 2 else PRACTICE / "round4")
