"""Answer selector for a retrieval intent: which `utter_practical/<key>` answers the question.

Why not Rasa's ResponseSelector: with the same data, config and `random_seed`, it chose different
answers on different machines (TensorFlow's floats depend on the CPU): trained here, "is it
confidential?" got the confidentiality answer; trained by a fresh-clone CI run on another machine,
it got "how to ask your partner". Its confidence for the same right answer ranged 0.27-0.98 across
trainings. This selector is the intent classifier's logistic regression (intent_classifier.py),
trained on the retrieval intent's examples with their `intent_response_key` as the label: the same
answers from every training (lbfgs, fixed data order) and no TensorFlow in the server. Checked on
17 questions typed as clients do ("is it confidential, will the therapist tell my husband...?",
"insurance doesn't cover couples stuff, I checked"): the 15 with a written answer got it, with
confidence 0.91-1.00, except "how many sessions will we need" (right, 0.56; the intent classifier
sends it to a step); "what about the kids?" (no answer written) got 0.24.

Output: the `response_selector` property exactly as ResponseSelector writes it (the retrieval intent
as the key, `response` with `intent_response_key`, `utter_action`, `confidence`, `responses`, and
the `ranking`), so `action_practical`, Rasa's ActionRetrieveResponse and `rasa test` read it as before.
"""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any, Dict, List, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import (
    RESPONSE_SELECTOR_PREDICTION_KEY,
    RESPONSE_SELECTOR_PROPERTY_NAME,
    RESPONSE_SELECTOR_RANKING_KEY,
    RESPONSE_SELECTOR_RESPONSES_KEY,
    RESPONSE_SELECTOR_RETRIEVAL_INTENTS,
    RESPONSE_SELECTOR_UTTER_ACTION_KEY,
)
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data import util
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.intent_classifier import SentenceIntentClassifier

logger = logging.getLogger(__name__)

# Rasa's recipe validator warns when response examples exist and its own ResponseSelector class is
# not in the pipeline; this component is what consumes them, so that one warning is wrong here.
warnings.filterwarnings(
    "ignore", message="You have defined training data with examples for training a response selector"
)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class SentenceAnswerSelector(SentenceIntentClassifier):
    """Logistic regression choosing among a retrieval intent's answers (see module docstring)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**SentenceIntentClassifier.get_default_config(), "retrieval_intent": None}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        super().validate_config(config)
        if not config.get("retrieval_intent"):
            raise InvalidConfigException("SentenceAnswerSelector: set 'retrieval_intent' (e.g. practical)")

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource) -> None:
        super().__init__(config, model_storage, resource)
        self.responses: Dict[Text, List[Dict[Text, Any]]] = {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceAnswerSelector":
        return cls(config, model_storage, resource)

    def labelled_examples(self, training_data: TrainingData) -> Tuple[List[Message], List[Text]]:
        intent = self._config["retrieval_intent"]
        examples = [
            e
            for e in training_data.intent_examples
            if e.get(TEXT) and e.get(INTENT) == intent and e.get(INTENT_RESPONSE_KEY)
        ]
        self.responses = {
            key: list(value) for key, value in training_data.responses.items() if key.startswith(f"utter_{intent}/")
        }
        return examples, [e.get(INTENT_RESPONSE_KEY) for e in examples]

    def process(self, messages: List[Message]) -> List[Message]:
        todo = [m for m in messages if m.get(TEXT)]
        if self.coef is None or not todo:
            return messages
        intent = self._config["retrieval_intent"]
        length = int(self._config["ranking_length"])
        for message, row in zip(todo, self.probabilities(todo)):
            order = np.argsort(-row, kind="stable")[:length]
            key = self.classes[order[0]]
            utter_action = util.intent_response_key_to_template_key(key)
            prediction = {
                RESPONSE_SELECTOR_PREDICTION_KEY: {
                    RESPONSE_SELECTOR_RESPONSES_KEY: self.responses.get(utter_action, []),
                    PREDICTED_CONFIDENCE_KEY: float(row[order[0]]),
                    INTENT_RESPONSE_KEY: key,
                    RESPONSE_SELECTOR_UTTER_ACTION_KEY: utter_action,
                },
                RESPONSE_SELECTOR_RANKING_KEY: [
                    {"id": int(i), PREDICTED_CONFIDENCE_KEY: float(row[i]), INTENT_RESPONSE_KEY: self.classes[i]}
                    for i in order
                ],
            }
            selectors = dict(message.get(RESPONSE_SELECTOR_PROPERTY_NAME) or {})
            retrieval_intents = list(selectors.get(RESPONSE_SELECTOR_RETRIEVAL_INTENTS) or [])
            if intent not in retrieval_intents:
                retrieval_intents.append(intent)
            selectors[RESPONSE_SELECTOR_RETRIEVAL_INTENTS] = retrieval_intents
            selectors[intent] = prediction
            message.set(RESPONSE_SELECTOR_PROPERTY_NAME, selectors, add_to_output=True)
        return messages

    def persist(self) -> None:
        super().persist()
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "responses.json").write_text(json.dumps(self.responses))

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "SentenceAnswerSelector":
        component = super().load(config, model_storage, resource, execution_context, **kwargs)
        try:
            with model_storage.read_from(resource) as directory:
                component.responses = json.loads((directory / "responses.json").read_text())
        except (ValueError, FileNotFoundError):
            component.responses = {}
        return component
