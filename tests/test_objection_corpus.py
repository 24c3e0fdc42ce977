"""The real objection corpus (docs/data.md): well formed, private, split without leaks, and the
NLU examples generated from its train split up to date."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SPLITS = {
    "train": REPO_ROOT / "bot" / "corpus" / "objections" / "train.jsonl",
    "dev": REPO_ROOT / "bot" / "corpus" / "objections" / "dev.jsonl",
    "test": REPO_ROOT / "tests" / "objections" / "real_test.jsonl",
}
GUIDE = REPO_ROOT / "docs" / "objection-labelling-guide.md"
RESERVED = (
    "galkesten",
    "Domestic-Violence-Classifier",
    "jlfud",
    "4300-Flask-React-Template",
    "evolevelynli",
    "reddit_classification_project",
)


def units(split):
    with open(SPLITS[split], encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def guide_labels():
    return set(re.findall(r"^\| `([a-z_]+)` \|", GUIDE.read_text(encoding="utf-8"), flags=re.MULTILINE))


@pytest.mark.parametrize("split", SPLITS)
def test_every_unit_is_labelled_with_the_guide_s_labels(split):
    labels = guide_labels()
    assert {"cost", "refusal", "good_news", "q_find", "none"} <= labels
    rows = units(split)
    assert len(rows) > 100
    for row in rows:
        assert set(row) >= {"id", "text", "main", "second", "safety", "site", "kind"}
        assert row["main"] in labels and (row["second"] == "" or row["second"] in labels), row["id"]
        assert 4 <= len(row["text"].split()) <= 120, row["id"]


@pytest.mark.parametrize("split", SPLITS)
def test_no_links_user_names_or_reserved_sources(split):
    for row in units(split):
        assert not re.search(r"https?://|www\.|/u/|\bu/[A-Za-z0-9_-]+|@[A-Za-z0-9_]{3,}", row["text"]), row["id"]
        assert "/" not in row["site"].split("/", 1)[0] and not row["site"].startswith("http")
        assert not any(name.lower() in json.dumps(row).lower() for name in RESERVED)


def test_the_splits_share_no_passage():
    def norm(text):
        return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())

    seen = {}
    for split in SPLITS:
        for row in units(split):
            key = norm(row["text"])
            assert seen.setdefault(key, split) == split, (row["id"], split, seen[key])


def test_the_generated_nlu_examples_are_up_to_date():
    done = subprocess.run(
        [sys.executable, "scripts/objection_corpus.py", "--check"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_test_or_dev_passage_is_trained_on():
    nlu = (REPO_ROOT / "bot" / "data" / "nlu").glob("*.yml")
    trained = "\n".join(p.read_text(encoding="utf-8") for p in nlu)
    for split in ("dev", "test"):
        for row in units(split):
            assert " ".join(row["text"].split()) not in trained, (split, row["id"])


def test_safety_flagged_passages_are_not_taught_as_objections():
    from scripts.objection_corpus import intent_for

    for row in units("train"):
        if row["safety"]:
            assert intent_for(row) is None, row["id"]
