"""The learned layer of the practice-run analyzer: which techniques and pitfalls a line shows.

The patterns (patterns.yml) only know the phrasings someone wrote down: on lines written
by people who never saw them they found half of what was there (docs/practice-run.md). This model
reads the rest. One logistic regression per label (a line can show several) over the line's
sentence embedding (all-MiniLM-L6-v2, the encoder the NLU ships) and the tf-idf of its word and
character n-grams, trained on the labelled lines of `corpus/train.jsonl` (who wrote
them and how they were labelled: docs/data.md).

Each label's patterns are kept only where they are right often enough on the training lines
(`PATTERN_PRECISION`: the patterns for "I/we" language counted plain requests with "we" and
"together", 45% precision, and are left to the model). Each label's threshold is chosen on
out-of-fold probabilities (5-fold cross-validation on the training lines), together with the kept
patterns: among thresholds where patterns-or-model keep `TARGET_PRECISION`, the best F1. These
settings and C and the embedding's weight were chosen on out-of-fold figures of the training lines
(docs/practice-run.md).

Training takes ~20 s on two cores and is deterministic (lbfgs, data in file order). The model is
built by `make train` (`python -m bot.rehearsal.analyzer --build`) into build/invitation/, named by a
hash of the training lines and this file's settings, and built on first use if missing.
Persistence: arrays (.npz) and JSON, no pickle.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.nlu import ngrams

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus" / "train.jsonl"
BUILD_DIR = ROOT / "build" / "invitation"

WORDS = {"analyzer": "word", "ngram_range": (1, 3), "min_df": 2, "token_pattern": r"(?u)\b\w+\b|n't|'\w+"}
CHARS = {"analyzer": "char_wb", "ngram_range": (2, 5), "min_df": 2}
C = 10.0
DENSE_WEIGHT = 1.0
FOLDS = 5
TARGET_PRECISION = 0.80  # per label, on out-of-fold lines, patterns and model together (docs/practice-run.md)
PATTERN_PRECISION = 0.7  # a label's patterns are used when at least this precise on the training lines
MIN_THRESHOLD = 0.25
SETTINGS = {
    "words": WORDS,
    "chars": CHARS,
    "C": C,
    "dense_weight": DENSE_WEIGHT,
    "folds": FOLDS,
    "target_precision": TARGET_PRECISION,
    "min_threshold": MIN_THRESHOLD,
    "pattern_precision": PATTERN_PRECISION,
    "version": 2,
}


def read_lines(path: Path = CORPUS) -> List[Dict[str, object]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _encode(texts: Sequence[str]) -> np.ndarray:
    from bot.nlu.sentence_encoder import shared_encoder

    return np.asarray(shared_encoder().encode(list(texts)), dtype=np.float64)


@dataclass
class InvitationModel:
    labels: Tuple[str, ...]
    words: TfidfVectorizer
    chars: TfidfVectorizer
    coef: np.ndarray  # (labels, features): [dense | words | chars]
    intercept: np.ndarray  # (labels,)
    thresholds: np.ndarray  # (labels,)
    use_patterns: Optional[np.ndarray] = None  # (labels,) bool: the label's patterns are trusted

    # ------------------------------------------------------------------ training
    @classmethod
    def fit(
        cls, texts: Sequence[str], embeddings: np.ndarray, targets: np.ndarray, labels: Sequence[str]
    ) -> "InvitationModel":
        """One logistic regression per label; thresholds 0.5 (`tune` sets them)."""
        words, chars = ngrams.vectorizer(WORDS), ngrams.vectorizer(CHARS)
        x = ngrams.stacked(embeddings, DENSE_WEIGHT, words.fit_transform(texts), chars.fit_transform(texts))
        coef = np.zeros((len(labels), x.shape[1]))
        intercept = np.full(len(labels), -30.0)  # a label without examples is never found
        for i in range(len(labels)):
            y = targets[:, i]
            if 0 < y.sum() < len(y):
                model = LogisticRegression(C=C, max_iter=3000, class_weight="balanced")
                model.fit(x, y)
                coef[i], intercept[i] = model.coef_[0], model.intercept_[0]
        return cls(tuple(labels), words, chars, coef, intercept, np.full(len(labels), 0.5), np.ones(len(labels), bool))

    def probabilities(self, texts: Sequence[str], embeddings: Optional[np.ndarray] = None) -> np.ndarray:
        if embeddings is None:
            embeddings = _encode(texts)
        x = ngrams.stacked(embeddings, DENSE_WEIGHT, self.words.transform(texts), self.chars.transform(texts))
        logits = np.asarray(x @ self.coef.T) + self.intercept
        return 1.0 / (1.0 + np.exp(-logits))

    def found(self, probabilities: np.ndarray) -> List[List[str]]:
        return [
            [label for label, p, t in zip(self.labels, row, self.thresholds) if p >= t]
            for row in np.atleast_2d(probabilities)
        ]

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(
            directory / "model.npz",
            coef=self.coef,
            intercept=self.intercept,
            thresholds=self.thresholds,
            use_patterns=self.use_patterns,
            words_idf=self.words.idf_,
            chars_idf=self.chars.idf_,
        )
        meta = {
            "labels": list(self.labels),
            "words_vocabulary": ngrams.vocabulary(self.words),
            "chars_vocabulary": ngrams.vocabulary(self.chars),
        }
        (directory / "model.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "InvitationModel":
        meta = json.loads((directory / "model.json").read_text(encoding="utf-8"))
        with np.load(directory / "model.npz", allow_pickle=False) as arrays:
            words = ngrams.restored(WORDS, meta["words_vocabulary"], arrays["words_idf"])
            chars = ngrams.restored(CHARS, meta["chars_vocabulary"], arrays["chars_idf"])
            return cls(
                tuple(meta["labels"]),
                words,
                chars,
                arrays["coef"],
                arrays["intercept"],
                arrays["thresholds"],
                arrays["use_patterns"],
            )


def targets_of(rows: Sequence[Dict[str, object]], labels: Sequence[str]) -> np.ndarray:
    return np.array([[1 if label in (row.get("labels") or []) else 0 for label in labels] for row in rows])


def out_of_fold(
    texts: Sequence[str], embeddings: np.ndarray, targets: np.ndarray, labels: Sequence[str], folds: int = FOLDS
) -> np.ndarray:
    """Each line's probabilities from a model trained without its fold (folds by position, fixed)."""
    probabilities = np.zeros(targets.shape)
    fold_of = np.arange(len(texts)) % folds
    for fold in range(folds):
        train, test = fold_of != fold, fold_of == fold
        model = InvitationModel.fit(
            [t for t, keep in zip(texts, train) if keep], embeddings[train], targets[train], labels
        )
        probabilities[test] = model.probabilities([t for t, keep in zip(texts, test) if keep], embeddings[test])
    return probabilities


def choose_thresholds(probabilities: np.ndarray, targets: np.ndarray, by_patterns: np.ndarray) -> np.ndarray:
    """Per label: among thresholds where patterns-or-model keeps TARGET_PRECISION, the best F1
    (the highest precision when none reaches it)."""
    chosen = np.full(targets.shape[1], 0.5)
    grid = np.round(np.arange(MIN_THRESHOLD, 0.96, 0.01), 2)
    for i in range(targets.shape[1]):
        best: Tuple[float, ...] = ()
        for t in grid:
            found = (probabilities[:, i] >= t) | by_patterns[:, i].astype(bool)
            tp = float(np.sum(found & (targets[:, i] == 1)))
            fp = float(np.sum(found & (targets[:, i] == 0)))
            fn = float(np.sum(~found & (targets[:, i] == 1)))
            precision = tp / (tp + fp) if tp + fp else 1.0
            recall = tp / (tp + fn) if tp + fn else 1.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            key = (precision >= TARGET_PRECISION, f1 if precision >= TARGET_PRECISION else precision, -t)
            if not best or key > best:
                best, chosen[i] = key, t
    return chosen


def train(
    rows: Sequence[Dict[str, object]], labels: Sequence[str], patterns: Optional[Callable[[str], Sequence[str]]] = None
) -> InvitationModel:
    texts = [str(row["text"]) for row in rows]
    embeddings = _encode(texts)
    targets = targets_of(rows, labels)
    by_patterns = np.zeros(targets.shape)
    if patterns is not None:
        for r, text in enumerate(texts):
            for label in patterns(text):
                by_patterns[r, list(labels).index(label)] = 1
    found = by_patterns.sum(axis=0)
    precision = np.divide((by_patterns * targets).sum(axis=0), found, out=np.zeros(len(labels)), where=found > 0)
    use_patterns = precision >= PATTERN_PRECISION
    oof = out_of_fold(texts, embeddings, targets, labels)
    model = InvitationModel.fit(texts, embeddings, targets, labels)
    model.thresholds = choose_thresholds(oof, targets, by_patterns * use_patterns)
    model.use_patterns = use_patterns
    return model


def fingerprint(path: Path = CORPUS) -> str:
    digest = hashlib.sha256(path.read_bytes())
    digest.update(json.dumps(SETTINGS, sort_keys=True).encode())
    patterns = Path(__file__).with_name("patterns.yml")
    if patterns.exists():
        digest.update(patterns.read_bytes())
    return digest.hexdigest()[:16]


def build(
    labels: Sequence[str], patterns: Optional[Callable[[str], Sequence[str]]] = None, directory: Path = BUILD_DIR
) -> Path:
    """The model for the current training lines, trained and saved unless already there."""
    target = directory / fingerprint()
    if not (target / "model.npz").exists():
        logger.info(f"training the practice-run analyzer's model into {target}")
        model = train(read_lines(), labels, patterns)
        tmp = directory / f"{target.name}.tmp{os.getpid()}"
        model.save(tmp)
        try:
            tmp.rename(target)  # atomic; another process may have built it meanwhile
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


@functools.lru_cache(maxsize=1)
def default_model(labels: Tuple[str, ...], patterns: Callable[[str], Sequence[str]]) -> Optional[InvitationModel]:
    """The trained model, or None when it cannot be built (the patterns still work alone).
    `patterns`: the analyzer's pattern layer (invitation.pattern_labels), passed in so that this
    module imports nothing from the analyzer."""
    try:
        return InvitationModel.load(build(labels, patterns))
    except Exception:  # an analyzer without its model is weaker, never a crash in a practice run
        logger.exception("practice-run analyzer model unavailable; patterns only")
        return None
