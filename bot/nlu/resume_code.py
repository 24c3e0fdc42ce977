"""A resume code typed alone ("maple-river-cloud-tiger") gets the intent `enter_resume_code`.

Codes are four words from the bot's own list (bot/progress/codes.py), which no classifier could learn;
a message that is exactly such a code (case, spaces or hyphens aside) is one, with confidence 1.0.
Runs after the intent classifier and the button titles, before the safety gate (which still checks
every message; no word of the list is a danger word).
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.forced_intent import force_intent
from bot.progress.codes import normalise

INTENT_NAME = "enter_resume_code"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class ResumeCodeMatcher(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "ResumeCodeMatcher":
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if not text or text.startswith("/") or len(text) > 60 or normalise(text) is None:
                continue
            force_intent(message, INTENT_NAME)
        return messages
