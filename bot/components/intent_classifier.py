"""Intent classifier: a logistic regression over sentence meaning and n-grams.

Why not DIET for intents: on our 40 intents and ~3,300 examples, DIET overfitted the sparse
n-grams (5-fold macro F1 0.63, confidently wrong on short messages such as "good day" or
"can you book a table for two"). The same split classified by a regularised logistic regression
over [sentence embedding, tf-idf of the word and character n-gram counts] gave about 0.82
(docs/nlu-evaluation.md has the figures). DIET still runs, for the entities only.

Input: the features the pipeline already computed for `text`:
- dense sentence features (SentenceEmbeddingFeaturizer, all-MiniLM-L6-v2), multiplied by
  `dense_weight`;
- sparse sentence features of each CountVectorsFeaturizer, turned into sublinear tf-idf and
  L2-normalised per featurizer (scikit-learn's TfidfTransformer; so the char n-grams do not drown
  the words).

Output: `intent` and `intent_ranking` like Rasa's own classifiers, so the SafetyGate and the
FallbackClassifier that follow work unchanged.

Persistence: plain arrays (.npz) and JSON, no pickle, so loading a model file cannot run code.
Prediction is the multinomial softmax of the stored coefficients.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (FEATURE_TYPE_SENTENCE, INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY,
                                       PREDICTED_CONFIDENCE_KEY, TEXT)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

# A message's sentence features of `text`: sparse ones by featurizer, and the dense ones.
Features = Tuple[Dict[Text, sp.csr_matrix], Optional[np.ndarray]]


def _sentence_features(message: Message) -> Features:
    """Sparse sentence features of `text` by featurizer (origin), and the dense ones concatenated."""
    sparse: Dict[Text, sp.csr_matrix] = {}
    dense: List[np.ndarray] = []
    for feature in message.features:
        if feature.attribute != TEXT or feature.type != FEATURE_TYPE_SENTENCE:
            continue
        origin = feature.origin if isinstance(feature.origin, str) else "+".join(feature.origin)
        if feature.is_sparse():
            sparse[origin] = sp.csr_matrix(feature.features)
        else:
            dense.append(np.asarray(feature.features, dtype=np.float32).reshape(1, -1))
    return sparse, (np.concatenate(dense, axis=1) if dense else None)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class SentenceIntentClassifier(GraphComponent, IntentClassifier):
    """Logistic regression over the pipeline's sentence features (see module docstring)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "C": 10.0,               # inverse regularisation strength (chosen by 5-fold CV)
            "dense_weight": 2.0,     # scale of the sentence embedding against the tf-idf blocks
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
        self._transformers: Dict[Text, TfidfTransformer] = {}
        self.coef: Optional[np.ndarray] = None
        self.intercept: Optional[np.ndarray] = None

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        for key in ("C", "dense_weight"):
            if not isinstance(config.get(key), (int, float)) or config[key] <= 0:
                raise InvalidConfigException(f"SentenceIntentClassifier: '{key}' must be a positive number")
        if int(config.get("ranking_length", 0)) < 1:
            raise InvalidConfigException("SentenceIntentClassifier: 'ranking_length' must be at least 1")

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SentenceIntentClassifier":
        return cls(config, model_storage, resource)

    # --- features -------------------------------------------------------------------------

    def _counts(self, per_message: List[Features], origin: Text, width: int) -> sp.csr_matrix:
        rows = []
        for sparse, _ in per_message:
            row = sparse.get(origin)
            rows.append(row if row is not None and row.shape[1] == width
                        else sp.csr_matrix((1, width), dtype=np.float32))
        return sp.vstack(rows).tocsr()

    def _matrix(self, per_message: List[Features]) -> sp.csr_matrix:
        blocks: List[sp.csr_matrix] = []
        for origin in self.origins:
            tfidf = self._tfidf(origin)
            blocks.append(tfidf.transform(self._counts(per_message, origin, len(tfidf.idf_))))
        dense_rows = [d for _, d in per_message]
        width = next((d.shape[1] for d in dense_rows if d is not None), 0)
        if width:
            dense = np.vstack([d if d is not None else np.zeros((1, width), np.float32) for d in dense_rows])
            blocks.append(sp.csr_matrix(dense * float(self._config["dense_weight"])))
        if not blocks:
            raise InvalidConfigException("SentenceIntentClassifier found no sentence features for 'text': put "
                                         "CountVectorsFeaturizer and/or SentenceEmbeddingFeaturizer before it")
        return sp.hstack(blocks).tocsr()

    def _tfidf(self, origin: Text) -> TfidfTransformer:
        """Sublinear tf, smooth idf, L2 norm per featurizer (the idf is what gets stored)."""
        if origin not in self._transformers:
            transformer = TfidfTransformer(sublinear_tf=True)
            transformer.idf_ = self.idf[origin]
            self._transformers[origin] = transformer
        return self._transformers[origin]

    # --- training -------------------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression

        examples = [e for e in training_data.intent_examples if e.get(TEXT) and e.get(INTENT)]
        labels = [e.get(INTENT) for e in examples]
        if len(set(labels)) < 2:
            logger.warning("SentenceIntentClassifier needs at least two intents; not trained")
            return self._resource
        per_message = [_sentence_features(e) for e in examples]
        self.origins = sorted({origin for sparse, _ in per_message for origin in sparse})
        self.idf, self._transformers = {}, {}
        for origin in self.origins:
            width = max(sparse[origin].shape[1] for sparse, _ in per_message if origin in sparse)
            counts = self._counts(per_message, origin, width)
            self.idf[origin] = TfidfTransformer(sublinear_tf=True).fit(counts).idf_.astype(np.float32)
        X = self._matrix(per_message)
        model = LogisticRegression(C=float(self._config["C"]), max_iter=int(self._config["max_iter"]),
                                   solver="lbfgs", random_state=42)
        model.fit(X, labels)
        self.classes = [str(c) for c in model.classes_]
        self.coef = model.coef_.astype(np.float32)
        self.intercept = model.intercept_.astype(np.float32)
        if self.coef.shape[0] == 1:  # two classes: sklearn stores one row
            self.coef = np.vstack([-self.coef, self.coef]) / 2
            self.intercept = np.array([-self.intercept[0], self.intercept[0]], dtype=np.float32) / 2
        self.persist()
        return self._resource

    # --- prediction -----------------------------------------------------------------------

    def probabilities(self, messages: List[Message]) -> np.ndarray:
        logits = self._matrix([_sentence_features(m) for m in messages]) @ self.coef.T + self.intercept
        logits = np.asarray(logits) - np.max(logits, axis=1, keepdims=True)
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
            np.savez(directory / "weights.npz", coef=self.coef, intercept=self.intercept,
                     **{f"idf_{i}": self.idf[o] for i, o in enumerate(self.origins)})
            (directory / "meta.json").write_text(json.dumps({"classes": self.classes, "origins": self.origins}))

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "SentenceIntentClassifier":
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
