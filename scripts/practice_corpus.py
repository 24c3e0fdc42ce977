"""Assemble the practice-run analyzer's labelled lines (docs/data.md, "Practice-run lines").

    python scripts/practice_corpus.py RAW_DIR

RAW_DIR holds what the writers and the collector delivered (JSON Lines, {"text", "labels", ...}):
train_w1.jsonl, train_w2.jsonl, train_w4.jsonl, train_w5.jsonl (writers who never saw the patterns;
the fourth and fifth wrote the labels the earlier rounds found hardest), train_real.jsonl (real
people's phrasings from public pages, rewritten as lines to the partner, site domain only),
heldout_w3.jsonl with heldout_check.jsonl and heldout_adjudicated.jsonl (the first held-out set:
a third writer's lines, a blind second labelling, the settled disagreements; looked at once, now
training lines), heldout2_w6.jsonl with heldout2_check.jsonl and heldout2_adjudicated.jsonl (the
second, made the same way by a sixth writer; looked at once, now training lines),
heldout3_w7.jsonl with heldout3_check.jsonl and heldout3_adjudicated.jsonl (the current held-out
set, by a seventh writer), train_w8.jsonl and train_real2.jsonl (the third round: an eighth
writer and a second round of public phrasings, for the labels the second set found hardest),
first_texts.jsonl
with first_relabelled.jsonl (the first lines, tests/practice/invitation_*.yml, labelled again
with the current guide: they predate the pitfalls tricks and labelling), and relabel_N_texts.jsonl
with relabel_N.jsonl (every other training line labelled again, blind, by a second labeller: where
the writer and the second labeller differ, the second labelling is kept, as the held-out lines
were labelled the same way).

Writes bot/rehearsal/corpus/train.jsonl and tests/practice/heldout.jsonl (the current held-out
set: the lines on which both labellings agree, and the disagreements as adjudicated). A line of the held-out set is never in the training lines (same text once
normalised).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Dict, List

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bot.rehearsal.analyzer import LABELS  # noqa: E402

TRAIN_OUT = ROOT / "bot" / "rehearsal" / "corpus" / "train.jsonl"
HELDOUT_OUT = ROOT / "tests" / "practice" / "heldout.jsonl"
FIRST_SETS = {"first_dev": "invitation_lines.yml", "first_holdout": "invitation_holdout.yml"}


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


def main(raw: Path) -> None:
    test = heldout(raw, "heldout3", "w7")
    test_keys = {key(row["text"]) for row in test}
    train: List[Dict[str, Any]] = []
    seen = set(test_keys)
    texts = {row["id"]: row["text"] for row in read_jsonl(raw / "first_texts.jsonl")}
    relabelled = {key(texts[row["id"]]): row["labels"] for row in read_jsonl(raw / "first_relabelled.jsonl")}
    for source, name in FIRST_SETS.items():
        for item in yaml.safe_load((ROOT / "tests" / "practice" / name).read_text(encoding="utf-8"))["items"]:
            labels = list(item.get("techniques") or []) + list(item.get("pitfalls") or [])
            labels = relabelled.get(key(item["text"]), labels)
            train.append({"text": item["text"], "labels": clean_labels(labels), "source": source})
    # The first held-out set (written by a third writer, looked at once on 2026-12-07), then learnt from.
    for row in heldout(raw, "heldout", "w3"):
        train.append({"text": row["text"], "labels": row["labels"], "source": "writer_3"})
    # The second held-out set (a sixth writer, looked at once on 2026-12-07), then learnt from.
    for row in heldout(raw, "heldout2", "w6"):
        train.append({"text": row["text"], "labels": row["labels"], "source": "writer_6"})
    for name, source in (
        ("train_w1.jsonl", "writer_1"),
        ("train_w2.jsonl", "writer_2"),
        ("train_w4.jsonl", "writer_4"),
        ("train_w5.jsonl", "writer_5"),
        ("train_real.jsonl", "public"),
        ("train_w8.jsonl", "writer_8"),
        ("train_real2.jsonl", "public"),
    ):
        for row in read_jsonl(raw / name):
            src = source
            if source == "public":
                site = str(row.get("source", "unknown"))
                src = site if site.startswith("public:") else f"public:{site}"
            train.append(
                {"text": " ".join(str(row["text"]).split()), "labels": clean_labels(row["labels"]), "source": src}
            )
    second: Dict[str, List[str]] = {}
    for n in (1, 2, 3, 4, 5):
        texts = {row["id"]: row["text"] for row in read_jsonl(raw / f"relabel_{n}_texts.jsonl")}
        second.update({key(texts[row["id"]]): row["labels"] for row in read_jsonl(raw / f"relabel_{n}.jsonl")})
    for row in train:
        if row["source"] not in ("first_dev", "first_holdout", "writer_3", "writer_6") and key(row["text"]) in second:
            row["labels"] = clean_labels(second[key(row["text"])])
    kept = []
    for row in train:
        k = key(row["text"])
        if k and k not in seen:
            seen.add(k)
            kept.append(row)
    TRAIN_OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(TRAIN_OUT, "w", encoding="utf-8") as f:
        for row in kept:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    if test:
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
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
