"""Intent classifier: a logistic regression over sentence meaning and n-grams.

Why not DIET for intents: on our 40 intents and ~3,300 examples, DIET overfitted the sparse
n-grams (5-fold macro F1 0.63, confidently wrong on short messages such as "good day" or
"can you book a table for two"). The same split classified by a regularised logistic regression
over [sentence embedding, tf-idf of the word and character n-gram counts] gave about 0.82
(docs/nlu-evaluation.md has the figures). Entities: bot/nlu/entity_extractor.py.

Input: the features the pipeline already computed for `text`:
- dense sentence features (SentenceEmbeddingFeaturizer, all-MiniLM-L6-v2), multiplied by
  `dense_weight`;
- sparse sentence features of each CountVectorsFeaturizer, turned into sublinear tf-idf and
  L2-normalised per featurizer (so the char n-grams do not drown the words): the idf is fitted by
  scikit-learn's TfidfTransformer, the transform is `tfidf` below, bit-equal to TfidfTransformer's
  (tests/test_intent_classifier.py compares them) and used by training and prediction alike.

Output: `intent` and `intent_ranking` like Rasa's own classifiers, so the SafetyGate and the
FallbackClassifier that follow work unchanged.

Persistence: plain arrays (.npz) and JSON, no pickle, so loading a model file cannot run code.
Prediction is the multinomial softmax of the stored coefficients. It computes each message's logits
directly, block by block (the tf-idf of each featurizer's non-zero counts times the matching rows of
the coefficients, then the dense block), instead of building the sparse feature matrix: stacking
1-row sparse matrices, sklearn's input validation and scipy copying the coefficients for every
product cost ~3-6 ms per message, the direct sums ~0.2 ms, with the same probabilities (to 1e-15).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
import scipy.sparse as sp
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    FEATURE_TYPE_SENTENCE,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfTransformer

logger = logging.getLogger(__name__)

# A message's sentence features of `text`: sparse ones by featurizer (1-row matrices as the
# featurizer made them), and the dense ones.
Features = Tuple[Dict[Text, sp.spmatrix], Optional[np.ndarray]]


def tfidf_entries(
    data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, idf: np.ndarray
) -> Tuple[np.ndarray, np.ndarray]:
    """scikit-learn's TfidfTransformer(sublinear_tf=True) (L2 norm) with this idf, bit for bit, on CSR arrays.

    The one implementation of the formula, for the training matrix (`tfidf`) and for each message
    (`_logits`): 1 + log(count), times the column's idf, each row divided by its L2 norm. Takes
    the arrays of a CSR matrix of counts without duplicate entries (as `tocsr()` leaves them) and
    returns the tf-idf row by row as (data, indices) for the same `indptr`.

    So that the floats are the very same as TfidfTransformer's (and training is unchanged), it
    takes its steps: the counts become float64 unless already float (its FLOAT_DTYPES), the idf is
    used as float64, each row's entries come out in reverse order (scipy's product with the idf
    diagonal does that) and each norm adds the squares one after another in that order (sklearn's
    `normalize`; numpy's sum would add them pairwise).
    """
    lengths = np.diff(indptr)
    starts = np.repeat(indptr[:-1], lengths)
    position = np.arange(len(data)) - starts  # of each entry in its row
    reverse = starts + np.repeat(lengths, lengths) - 1 - position
    indices = indices[reverse]
    dtype = data.dtype if data.dtype in (np.float64, np.float32, np.float16) else np.float64
    values = data[reverse].astype(dtype)
    np.log(values, out=values)
    values += 1
    values = values.astype(np.float64) * np.asarray(idf, dtype=np.float64)[indices]
    # Each row's sum of squares added up in entry order: accumulate along a (rows x longest row) array.
    squares = np.zeros((len(lengths), int(lengths.max(initial=0)) + 1))
    squares[np.repeat(np.arange(len(lengths)), lengths), position] = values * values
    norms = np.sqrt(np.add.accumulate(squares, axis=1)[:, -1])
    norms[norms == 0.0] = 1.0  # an empty row stays empty
    values /= np.repeat(norms, lengths)
    return values, indices


def tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """TfidfTransformer(sublinear_tf=True) with this idf: `transform(counts)`, the same floats (see tfidf_entries)."""
    data, indices = tfidf_entries(counts.data, counts.indices, counts.indptr, idf)
    return sp.csr_matrix((data, indices, counts.indptr.copy()), shape=counts.shape)


def _row_entries(row: sp.spmatrix) -> Tuple[np.ndarray, np.ndarray]:
    """A 1-row sparse matrix's (data, columns) as `sp.csr_matrix(row)` holds them, without building it
    when the featurizer's matrix is already in that form (sorted columns, no duplicates)."""
    if sp.isspmatrix_coo(row) and (row.nnz < 2 or bool(np.all(row.col[1:] > row.col[:-1]))):
        return row.data, row.col
    csr = sp.csr_matrix(row)
    return csr.data, csr.indices


def _sentence_features(message: Message) -> Features:
    """Sparse sentence features of `text` by featurizer (origin), and the dense ones concatenated."""
    sparse: Dict[Text, sp.spmatrix] = {}
    dense: List[np.ndarray] = []
    for feature in message.features:
        if feature.attribute != TEXT or feature.type != FEATURE_TYPE_SENTENCE:
            continue
        origin = feature.origin if isinstance(feature.origin, str) else "+".join(feature.origin)
        if feature.is_sparse():
            sparse[origin] = feature.features
        else:
            dense.append(np.asarray(feature.features, dtype=np.float32).reshape(1, -1))
    return sparse, (np.concatenate(dense, axis=1) if dense else None)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class SentenceIntentClassifier(GraphComponent, IntentClassifier):
    """Logistic regression over the pipeline's sentence features (see module docstring)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "C": 10.0,  # inverse regularisation strength (chosen by 5-fold CV)
            "dense_weight": 2.0,  # scale of the sentence embedding against the tf-idf blocks
            "max_iter": 5000,
            "ranking_length": 10,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn"]

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self._config = {**self.get_default_config(), **config}
        self.validate_config(self._config)
        self._model_storage = model_storage
        self._resource = resource
        self.classes: List[Text] = []
        self.origins: List[Text] = []
        self.idf: Dict[Text, np.ndarray] = {}
        self.coef: Optional[np.ndarray] = None
        self.intercept: Optional[np.ndarray] = None
        self._coef_by_feature: Optional[np.ndarray] = None  # prediction's layout of coef, made on first use
        self._intercept64: Optional[np.ndarray] = None
        self._dense_coef: Optional[np.ndarray] = None

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        for key in ("C", "dense_weight"):
            if not isinstance(config.get(key), (int, float)) or config[key] <= 0:
                raise InvalidConfigException(f"SentenceIntentClassifier: '{key}' must be a positive number")
        if int(config.get("ranking_length", 0)) < 1:
            raise InvalidConfigException("SentenceIntentClassifier: 'ranking_length' must be at least 1")

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceIntentClassifier":
        return cls(config, model_storage, resource)

    # --- features -------------------------------------------------------------------------

    def _counts(self, per_message: List[Features], origin: Text, width: int) -> sp.csr_matrix:
        rows = []
        for sparse, _ in per_message:
            row = sparse.get(origin)
            rows.append(
                sp.csr_matrix(row)
                if row is not None and row.shape[1] == width
                else sp.csr_matrix((1, width), dtype=np.float32)
            )
        return sp.vstack(rows).tocsr()

    def _matrix(self, per_message: List[Features]) -> sp.csr_matrix:
        """The training matrix: [tf-idf of each featurizer's counts..., dense features * dense_weight]."""
        blocks: List[sp.csr_matrix] = []
        for origin in self.origins:
            blocks.append(tfidf(self._counts(per_message, origin, len(self.idf[origin])), self.idf[origin]))
        dense_rows = [d for _, d in per_message]
        width = next((d.shape[1] for d in dense_rows if d is not None), 0)
        if width:
            dense = np.vstack([d if d is not None else np.zeros((1, width), np.float32) for d in dense_rows])
            blocks.append(sp.csr_matrix(dense * float(self._config["dense_weight"])))
        if not blocks:
            raise InvalidConfigException(
                "SentenceIntentClassifier found no sentence features for 'text': put "
                "CountVectorsFeaturizer and/or SentenceEmbeddingFeaturizer before it"
            )
        return sp.hstack(blocks).tocsr()

    # --- training -------------------------------------------------------------------------

    def labelled_examples(self, training_data: TrainingData) -> Tuple[List[Message], List[Text]]:
        """The examples to learn from and their labels: here every message with an intent."""
        examples = [e for e in training_data.intent_examples if e.get(TEXT) and e.get(INTENT)]
        return examples, [e.get(INTENT) for e in examples]

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression

        examples, labels = self.labelled_examples(training_data)
        if len(set(labels)) < 2:
            logger.warning(f"{type(self).__name__} needs at least two labels; not trained")
            return self._resource
        per_message = [_sentence_features(e) for e in examples]
        self.origins = sorted({origin for sparse, _ in per_message for origin in sparse})
        self.idf = {}
        for origin in self.origins:
            width = max(sparse[origin].shape[1] for sparse, _ in per_message if origin in sparse)
            counts = self._counts(per_message, origin, width)
            self.idf[origin] = TfidfTransformer(sublinear_tf=True).fit(counts).idf_.astype(np.float32)
        X = self._matrix(per_message)
        model = LogisticRegression(
            C=float(self._config["C"]), max_iter=int(self._config["max_iter"]), solver="lbfgs", random_state=42
        )
        model.fit(X, labels)
        self.classes = [str(c) for c in model.classes_]
        self.coef = model.coef_.astype(np.float32)
        self.intercept = model.intercept_.astype(np.float32)
        if self.coef.shape[0] == 1:  # two classes: sklearn stores one row
            self.coef = np.vstack([-self.coef, self.coef]) / 2
            self.intercept = np.array([-self.intercept[0], self.intercept[0]], dtype=np.float32) / 2
        self._coef_by_feature = None
        self.persist()
        return self._resource

    # --- prediction -----------------------------------------------------------------------

    def _logits(self, features: Features) -> np.ndarray:
        """One message's logits: its row of the training matrix times the coefficients, block by block."""
        sparse, dense = features
        logits = self._intercept64.copy()
        offset = 0
        for origin in self.origins:
            idf = self.idf[origin]
            row = sparse.get(origin)
            if row is not None and row.shape[1] == len(idf) and row.nnz:  # otherwise a row of zeros
                data, columns = _row_entries(row)
                values, columns = tfidf_entries(data, columns, np.array([0, len(data)]), idf)
                logits += values @ self._coef_by_feature[offset + columns]
            offset += len(idf)
        if dense is not None and self._dense_coef is not None:
            # float32 product as in the training matrix, then float64 like the rest
            logits += (dense[0] * float(self._config["dense_weight"])).astype(np.float64) @ self._dense_coef
        return logits

    def probabilities(self, messages: List[Message]) -> np.ndarray:
        if self._coef_by_feature is None:
            # The training matrix is float64, so sklearn and scipy computed the logits in float64:
            # so does prediction. One row per feature, so that a message's non-zero features are
            # gathered as contiguous rows; the dense block's rows (if trained with one) apart.
            self._coef_by_feature = np.ascontiguousarray(self.coef.T, dtype=np.float64)
            self._intercept64 = np.asarray(self.intercept, dtype=np.float64)
            sparse_width = sum(len(self.idf[o]) for o in self.origins)
            has_dense = len(self._coef_by_feature) > sparse_width
            self._dense_coef = self._coef_by_feature[sparse_width:] if has_dense else None
        logits = np.vstack([self._logits(_sentence_features(m)) for m in messages])
        logits -= np.max(logits, axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def process(self, messages: List[Message]) -> List[Message]:
        todo = [m for m in messages if m.get(TEXT)]
        if self.coef is None or not todo:
            for message in todo:
                message.set(INTENT, {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
            return messages
        probabilities = self.probabilities(todo)
        length = int(self._config["ranking_length"])
        for message, row in zip(todo, probabilities):
            order = np.argsort(-row, kind="stable")[:length]
            ranking = [{INTENT_NAME_KEY: self.classes[i], PREDICTED_CONFIDENCE_KEY: float(row[i])} for i in order]
            message.set(INTENT, dict(ranking[0]), add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    # --- persistence ----------------------------------------------------------------------

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(
                directory / "weights.npz",
                coef=self.coef,
                intercept=self.intercept,
                **{f"idf_{i}": self.idf[o] for i, o in enumerate(self.origins)},
            )
            (directory / "meta.json").write_text(json.dumps({"classes": self.classes, "origins": self.origins}))

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "SentenceIntentClassifier":
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as directory:
                meta = json.loads((directory / "meta.json").read_text())
                with np.load(directory / "weights.npz", allow_pickle=False) as arrays:
                    component.coef = arrays["coef"]
                    component.intercept = arrays["intercept"]
                    component.origins = list(meta["origins"])
                    component.idf = {o: arrays[f"idf_{i}"] for i, o in enumerate(component.origins)}
                component.classes = list(meta["classes"])
        except (ValueError, FileNotFoundError, KeyError) as error:
            logger.warning(f"SentenceIntentClassifier has no trained weights ({error}); it predicts nothing")
        return component
