"""The shared part of the components that read a message piece by piece (objection_clauses.py,
question_clauses.py): a multinomial logistic regression over the sentence embedding of each piece,
trained on the NLU examples, persisted as plain arrays (.npz) and JSON, no pickle."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)


class SentenceLinearModel(GraphComponent):
    """Subclasses name their arrays' file (`ARRAYS`) and train with `fit`."""

    ARRAYS = "model.npz"

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self._config = {**self.get_default_config(), **(config or {})}
        self._model_storage = model_storage
        self._resource = resource
        self.classes: List[str] = []
        self.coef: Optional[np.ndarray] = None
        self.intercept: Optional[np.ndarray] = None

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceLinearModel":
        return cls(config, model_storage, resource)

    def fit(self, vectors: Sequence[np.ndarray], labels: Sequence[str], balanced: bool) -> None:
        """Fits when there are more than two classes (else the component reads nothing)."""
        from sklearn.linear_model import LogisticRegression

        if len(set(labels)) > 2:
            model = LogisticRegression(
                C=float(self._config["C"]), max_iter=3000, class_weight="balanced" if balanced else None
            )
            model.fit(np.stack(vectors), list(labels))
            self.classes = [str(c) for c in model.classes_]
            self.coef = model.coef_.astype(np.float64)
            self.intercept = model.intercept_.astype(np.float64)

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            if self.coef is not None:
                np.savez(Path(directory) / self.ARRAYS, coef=self.coef, intercept=self.intercept)
                (Path(directory) / "classes.json").write_text(json.dumps(self.classes))

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "SentenceLinearModel":
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as directory:
                arrays = np.load(Path(directory) / cls.ARRAYS, allow_pickle=False)
                component.coef, component.intercept = arrays["coef"], arrays["intercept"]
                component.classes = json.loads((Path(directory) / "classes.json").read_text())
        except (ValueError, FileNotFoundError, KeyError) as error:
            logger.warning(f"{cls.__name__} has no trained model ({error}); messages are read whole")
        return component

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = vectors.astype(np.float64) @ self.coef.T + self.intercept
        if len(self.classes) == 2:  # sklearn's binary case: one row of coefficients
            logits = np.hstack([-logits, logits])
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)
