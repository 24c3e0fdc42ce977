"""The safety gate: a Rasa NLU component that checks every message for danger.

It runs after the intent classifier and before FallbackClassifier (see config.yml). When the danger patterns
(bot/safety/danger_patterns.yml) match, it forces the danger intent of the most urgent tier with
confidence 1.0 and rewrites the intent ranking, so neither FallbackClassifier's threshold and
ambiguity checks nor the dialogue policies can send a disclosure anywhere else. When the intent
classifier itself puts a danger intent on top (a paraphrase the patterns miss) with at least
`danger_min_confidence`, that prediction is kept and lifted above the fallback threshold when the message also
carries weak risk evidence (see `weak_evidence` in the patterns file). Without any risk word the
classifier must be surer, `danger_alone_min_confidence`, and the patterns must not have excused the
message as an idiom (a disclosure in plain words: "I told my doctor I fell off a step stool, that's
what I always tell her"); otherwise the danger intents are removed from the ranking and the next
best intent stands.

Two more readings before the classifier's, both without an action server:
- an empty or whitespace-only message becomes `nlu_fallback` (the fallback says it was empty);
- a message in another language (bot/safety/language.py) becomes `non_english`, or
  `non_english_danger` when it carries danger words the bot knows in that language or the
  classifier reads danger in it with `danger_alone_min_confidence`: a short "English only" note,
  with the hotline for the second. The classifier's own guesses of these two intents are removed
  when the message is English.

The decision never depends on an action server or a database.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.safety import language
from bot.safety.detector import DANGER_INTENTS, TIER_IMMEDIATE, TIER_TO_INTENT, DangerDetector, default_detector

logger = logging.getLogger(__name__)

SAFETY_KEY = "safety"


def override_intent(message: Message, intent_name: Text, source: Text, tier: Optional[Text] = None,
                    categories: Optional[List[Text]] = None, classifier_confidence: Optional[float] = None) -> None:
    """Force `intent_name` as the message's intent and put it alone on top of the ranking."""
    previous = message.get(INTENT_RANKING_KEY) or []
    ranking = [{INTENT_NAME_KEY: intent_name, PREDICTED_CONFIDENCE_KEY: 1.0}]
    ranking += [
        {INTENT_NAME_KEY: r[INTENT_NAME_KEY], PREDICTED_CONFIDENCE_KEY: 0.0}
        for r in previous
        if r.get(INTENT_NAME_KEY) != intent_name
    ]
    message.set(INTENT, {INTENT_NAME_KEY: intent_name, PREDICTED_CONFIDENCE_KEY: 1.0}, add_to_output=True)
    message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
    # Only the tier and categories: never the text or what matched.
    message.set(
        SAFETY_KEY,
        {"source": source, "tier": tier, "categories": list(categories or []),
         "classifier_confidence": classifier_confidence},
        add_to_output=True,
    )


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class SafetyGate(GraphComponent):
    """Detects danger in every message and overrides the intent (see module docstring)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"danger_min_confidence": 0.35, "danger_alone_min_confidence": 0.9}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["spacy"]

    def __init__(self, config: Dict[Text, Any], detector: Optional[DangerDetector] = None) -> None:
        self._config = {**self.get_default_config(), **(config or {})}
        self._detector = detector

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SafetyGate":
        # Load the spaCy pipeline, the patterns and the word lists with the model, not on the first message.
        language.warm_up()
        return cls(config, default_detector())

    @property
    def detector(self) -> DangerDetector:
        if self._detector is None:
            self._detector = default_detector()
        return self._detector

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self.check(message)
        return messages

    def check(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        if not text.strip():
            override_intent(message, "nlu_fallback", "empty")
            return
        result = self.detector.detect(text)
        intent = message.get(INTENT) or {}
        name = intent.get(INTENT_NAME_KEY)
        confidence = intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0
        if not result.is_danger:
            spoken = language.detect(text)
            if not spoken.english:
                danger = spoken.danger or (name in DANGER_INTENTS
                                           and confidence >= self._config["danger_alone_min_confidence"])
                override_intent(message, language.NON_ENGLISH_DANGER_INTENT if danger else language.NON_ENGLISH_INTENT,
                                "language", categories=[spoken.language or "unknown"])
                return
            if name in language.LANGUAGE_INTENTS:
                self._demote(message, language.LANGUAGE_INTENTS)
                intent = message.get(INTENT) or {}
                name = intent.get(INTENT_NAME_KEY)
                confidence = intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0
        if result.is_danger:
            tier = result.tier
            if (name == TIER_TO_INTENT[TIER_IMMEDIATE] and tier != TIER_IMMEDIATE
                    and confidence >= self._config["danger_min_confidence"]):
                # The patterns found danger and the classifier reads it as happening now ("he broke
                # the door down and he's inside"): the more urgent reply, which also carries every
                # line of the other tiers. The classifier can only raise a tier, never lower it.
                tier = TIER_IMMEDIATE
            override_intent(message, TIER_TO_INTENT[tier], "patterns", tier, list(result.categories))
            return
        if name not in DANGER_INTENTS:
            return
        if not result.weak_evidence and (confidence < self._config["danger_alone_min_confidence"] or result.idiom):
            # The classifier alone, with no risk word at all: trusted only when it is sure and the
            # patterns have not read the risky words as an idiom ("hit the gym"). Below that its
            # danger intents fire on ordinary talk too (measured in tests/eval_safety.py and
            # docs/safety-evaluation.md), so the message goes to the next best intent.
            self._demote(message, DANGER_INTENTS)
        elif confidence >= self._config["danger_min_confidence"]:
            override_intent(message, name, "classifier", classifier_confidence=round(confidence, 4))

    @staticmethod
    def _demote(message: Message, intents: Any) -> None:
        """Remove `intents` from the ranking; the next best intent stands."""
        ranking = [r for r in (message.get(INTENT_RANKING_KEY) or []) if r.get(INTENT_NAME_KEY) not in intents]
        if not ranking:
            return
        top = ranking[0]
        message.set(INTENT, {INTENT_NAME_KEY: top[INTENT_NAME_KEY], PREDICTED_CONFIDENCE_KEY: top[PREDICTED_CONFIDENCE_KEY]}, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
