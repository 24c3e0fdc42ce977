"""Setting a message's intent for certain (a button title typed, a resume code typed): the intent at
confidence 1.0 first in the ranking, the classifier's others after it at 0.0, so the FallbackClassifier
and the policies see the same thing as for a button tap."""

from __future__ import annotations

from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message


def force_intent(message: Message, intent: str) -> None:
    previous = message.get(INTENT_RANKING_KEY) or []
    message.set(INTENT, {INTENT_NAME_KEY: intent, PREDICTED_CONFIDENCE_KEY: 1.0}, add_to_output=True)
    message.set(
        INTENT_RANKING_KEY,
        [{INTENT_NAME_KEY: intent, PREDICTED_CONFIDENCE_KEY: 1.0}]
        + [
            {INTENT_NAME_KEY: r[INTENT_NAME_KEY], PREDICTED_CONFIDENCE_KEY: 0.0}
            for r in previous
            if r.get(INTENT_NAME_KEY) != intent
        ],
        add_to_output=True,
    )
