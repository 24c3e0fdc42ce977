"""Word and character n-gram tf-idf, as the learned classifiers beside the sentence embedding use
it (the safety classifier, bot/safety/classifier.py; the practice-run model, bot/rehearsal/model.py):
one way to make the vectorizers, to stack their features with the embedding, and to keep them as
plain JSON and arrays (no pickle) and get the same features back after loading."""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer


def vectorizer(params: Dict[str, Any], vocabulary: Optional[Dict[str, int]] = None) -> TfidfVectorizer:
    """Sublinear tf-idf, lower-cased, float64, with these analyzer settings (and a fixed vocabulary)."""
    return TfidfVectorizer(lowercase=True, sublinear_tf=True, dtype=np.float64, vocabulary=vocabulary, **params)


def vocabulary(fitted: TfidfVectorizer) -> Dict[str, int]:
    """A fitted vectorizer's vocabulary, ready for JSON."""
    return {k: int(v) for k, v in fitted.vocabulary_.items()}


def restored(params: Dict[str, Any], vocabulary_: Dict[str, int], idf: np.ndarray) -> TfidfVectorizer:
    """The vectorizer as saved: the same features as the fitted one (the safety classifier's tests check it)."""
    rebuilt = vectorizer(params, vocabulary_)
    rebuilt.idf_ = idf
    return rebuilt


def stacked(embeddings: np.ndarray, dense_weight: float, *blocks: sp.spmatrix) -> sp.csr_matrix:
    """[embedding * dense_weight | n-gram blocks...], one row per text."""
    dense = sp.csr_matrix(np.asarray(embeddings, dtype=np.float64).reshape(blocks[0].shape[0], -1) * dense_weight)
    return sp.hstack([dense, *blocks]).tocsr()
