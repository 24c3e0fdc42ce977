"""Two objections in one short message ("counseling is for sissies, and a waste of money").

The intent classifier reads a message as a whole and gives one intent: with two reasons in it, the
probability is split between them, so it may pick either, or neither clearly (then the fallback asks
"did you mean...?"). This component reads a short message clause by clause (split at commas,
semicolons, sentence ends and "and / but / also / plus"), each clause with a small logistic
regression over its sentence embedding (the same all-MiniLM-L6-v2 vector), trained on the NLU
examples: objection intents against everything else (classes balanced). A clause is also read
as reported speech ("he says ..."), since later clauses often have no subject. Only messages whose
first intent is an objection (or whose two first intents both are) are read this way. When two clauses name two different
objections with confidence, the first one named is the main one (the labelling guide's rule) and
becomes the intent; the other is kept as `second_objection` in the parse data, and
`action_offer_second_objection` offers it after the answer (bot/actions/objections.py).

Runs after the intent classifier and before the safety gate, which still overrides any intent.
Persistence: plain arrays (.npz) and JSON, no pickle.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.clause_model import SentenceLinearModel
from bot.nlu.sentence_features import sentence_vector  # the message's sentence embedding

logger = logging.getLogger(__name__)

PREFIX = "report_objection_"
OTHER = "other"
SECOND_KEY = "second_objection"
_CLAUSES = re.compile(r"[,;.!?]+|\b(?:and|but|also|plus|as well as)\b", re.IGNORECASE)


def clauses(text: str) -> List[str]:
    return [c.strip() for c in _CLAUSES.split(text or "") if len(c.split()) >= 2]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class ObjectionClauses(SentenceLinearModel):
    ARRAYS = "clauses.npz"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "C": 10.0,
            "min_confidence": 0.5,  # each clause's objection, from the clause classifier
            "max_words": 40,  # longer messages are stories: the whole-message intent stands
        }

    # ------------------------------------------------------------------ training
    def train(self, training_data: TrainingData) -> Resource:
        vectors, labels = [], []
        for example in training_data.intent_examples:
            vector = sentence_vector(example)
            intent = example.get(INTENT) or ""
            text = example.get(TEXT) or ""
            if vector is None or not text or text.startswith("/") or len(text.split()) > 25:
                continue  # clauses are short: the long real passages would blur them
            vectors.append(vector)
            labels.append(intent if intent.startswith(PREFIX) else OTHER)
        # Balanced: "other" has ten times the examples and would swallow short clauses.
        self.fit(vectors, labels, balanced=True)
        self.persist()
        return self._resource

    # ------------------------------------------------------------------ every message
    def objections_in(self, text: str) -> List[str]:
        """The objection intents named by the clauses, in the order they are named."""
        parts = clauses(text)
        if len(parts) < 2 or self.coef is None:
            return []
        from bot.nlu.sentence_encoder import shared_encoder

        # A clause after the first often has no subject ("..., and a waste of money"): it is also read
        # as reported speech, and the best reading counts.
        variants = [[part, f"he says {part}", f"he says it's {part}"] for part in parts]
        rows = self.probabilities(shared_encoder().encode([v for group in variants for v in group]))
        other = self.classes.index(OTHER) if OTHER in self.classes else None
        found: List[str] = []
        for i in range(len(parts)):
            group = rows[3 * i : 3 * i + 3].copy()
            if other is not None:
                group[:, other] = 0.0
            row, column = np.unravel_index(int(np.argmax(group)), group.shape)
            name = self.classes[column]
            if group[row, column] >= float(self._config["min_confidence"]) and name not in found:
                found.append(name)
        return found

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self.read(message)
        return messages

    def read(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        ranking = message.get(INTENT_RANKING_KEY) or []
        top = [(r.get(INTENT_NAME_KEY) or "") for r in ranking[:2]]
        # Only where the classifier heard an objection: first, or both of the two it hesitates between.
        if (
            not text
            or text.startswith("/")
            or len(text.split()) > int(self._config["max_words"])
            or not top
            or not (top[0].startswith(PREFIX) or all(t.startswith(PREFIX) for t in top))
        ):
            return
        found = self.objections_in(text)
        if len(found) < 2:
            return
        main, second = found[0], found[1]
        rest = [r for r in ranking if r.get(INTENT_NAME_KEY) not in (main, second)]
        total = sum(float(r.get(PREDICTED_CONFIDENCE_KEY) or 0) for r in rest) or 1.0
        message.set(INTENT, {INTENT_NAME_KEY: main, PREDICTED_CONFIDENCE_KEY: 0.9}, add_to_output=True)
        message.set(
            INTENT_RANKING_KEY,
            [
                {INTENT_NAME_KEY: main, PREDICTED_CONFIDENCE_KEY: 0.9},
                {INTENT_NAME_KEY: second, PREDICTED_CONFIDENCE_KEY: 0.05},
            ]
            + [
                {
                    INTENT_NAME_KEY: r[INTENT_NAME_KEY],
                    PREDICTED_CONFIDENCE_KEY: 0.05 * float(r.get(PREDICTED_CONFIDENCE_KEY) or 0) / total,
                }
                for r in rest
            ],
            add_to_output=True,
        )
        message.set(SECOND_KEY, second, add_to_output=True)
