"""Several questions in one message ("how long does this step take?? and is this private, he
looks at my phone").

The intent classifier gives one intent a message, so the bot answered one question and dropped the
other. This component reads a message of a few sentences question by question (split at question
marks, sentence ends, semicolons and "and / also / plus" before a question word) and classifies
each question with a small logistic regression over its sentence embedding (the same
all-MiniLM-L6-v2 vector), trained on the NLU examples of the questions the bot answers with a
fixed reply (`practical/<key>`, `ask_device_safety`) against every other example (the model:
clause_model.py). A question the
main answer does not already cover, named with confidence, is kept in the parse data as
`more_questions` (labels in the order asked); the action that gives the main answer adds theirs
(bot/actions/questions.py, `answer_more_questions`).

Only questions count: a part that starts with a question word or ends with a question mark. A
message that is one question and little else is answered by the main answer alone; "he says it's
a waste of money. is it confidential?" gets the objection's answer and the question's. Runs after the answer selector (it needs
the main answer's key) and after the safety gate, which the actions that answer a disclosure never
mix with these answers.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.clause_model import SentenceLinearModel
from bot.nlu.sentence_features import sentence_vector  # the message's sentence embedding

logger = logging.getLogger(__name__)

KEY = "more_questions"
PARTS_KEY = "question_parts"
OTHER = "other"
RETRIEVAL_INTENT = "practical"
# Questions with a fixed answer the actions can add after the main one.
ANSWERABLE = ("ask_device_safety",)
# A part without a question mark is a question when it opens like one: an auxiliary first ("is it
# confidential", "can we do it online"), or a question word and then an auxiliary or one of a few
# words ("how long does it take", "what happens in the first session"). "When he gets angry I shut
# down" and "what I did was shout" are not.
AUXILIARIES = {
    "is", "are", "am", "was", "were", "can", "could", "do", "does", "did", "will", "would", "should",
    "shall", "may", "have", "has", "isn't", "aren't", "can't", "don't", "doesn't", "won't",
}  # fmt: skip
WH_WORDS = {"how", "what", "whats", "what's", "when", "where", "why", "who", "which"}
AFTER_WH = AUXILIARIES | {"much", "long", "many", "often", "happens", "about", "if", "kind", "sort", "type", "'s"}
QUESTION_WORDS = AUXILIARIES | WH_WORDS
# Sentence ends, and "and / also / plus" (after a comma or not) when a question word follows.
_SENTENCES = re.compile(r"(?<=[?.!;])(?=[^?.!;])\s*|\n+")
# Words a question may open with before its question word: "and is this private", "also, how long".
_LEAD = re.compile(r"^(?:(?:and|also|plus|oh|btw|so|but|wait|ok|okay|um|hm+|sorry|then)\b[\s,]*)+", re.IGNORECASE)
_JOINS = re.compile(
    r",?\s+\b(?:and|also|plus|and also|oh and|btw)\b\s*,?\s+(?=(?:" + "|".join(sorted(QUESTION_WORDS)) + r")\b)",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z']+")


def questions(text: str) -> List[str]:
    """The parts of `text` that are questions, in order."""
    out: List[str] = []
    for sentence in _SENTENCES.split(text or ""):
        for part in _JOINS.split(sentence):
            part = part.strip(" ,")
            words = _WORD.findall(_LEAD.sub("", part).lower())
            if len(words) < 3:
                continue
            if part.endswith("?") or words[0] in AUXILIARIES or (words[0] in WH_WORDS and words[1] in AFTER_WH):
                out.append(part)
    return out


def label_of(example: Message) -> str:
    intent = example.get(INTENT) or ""
    if intent == RETRIEVAL_INTENT:
        return example.get_full_intent() or OTHER
    return intent if intent in ANSWERABLE else OTHER


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class QuestionClauses(SentenceLinearModel):
    ARRAYS = "questions.npz"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "C": 10.0,
            "min_confidence": 0.5,  # each question's label, "other" included
            "max_words": 80,  # longer messages are stories: the main answer stands alone
            "max_questions": 2,  # added answers, at most
        }

    # ------------------------------------------------------------------ training
    def train(self, training_data: TrainingData) -> Resource:
        vectors, labels = [], []
        for example in training_data.intent_examples:
            vector = sentence_vector(example)
            text = example.get(TEXT) or ""
            if vector is None or not text or text.startswith("/") or len(text.split()) > 25:
                continue  # questions are short: the long real passages would blur them
            vectors.append(vector)
            labels.append(label_of(example))
        # Balanced: "other" has far more examples and would swallow short questions.
        self.fit(vectors, labels, balanced=True)
        self.persist()
        return self._resource

    # ------------------------------------------------------------------ every message
    def labels(self, parts: List[str]) -> List[Optional[str]]:
        """Each question's label, or None where no answerable question is named with confidence."""
        from bot.nlu.sentence_encoder import shared_encoder

        texts = [_LEAD.sub("", part) or part for part in parts]
        rows = self.probabilities(shared_encoder().encode(texts))
        out: List[Optional[str]] = []
        for row in rows:
            best = int(np.argmax(row))
            name = self.classes[best]
            out.append(name if name != OTHER and row[best] >= float(self._config["min_confidence"]) else None)
        return out

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self.read(message)
        return messages

    def read(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        if not text or text.startswith("/") or len(text.split()) > int(self._config["max_words"]):
            return
        parts = questions(text)
        if parts:
            # Read by the steps: a message that asks something is not saved as an answer unasked.
            message.set(PARTS_KEY, parts, add_to_output=True)
        words = len(_WORD.findall(text.lower()))
        if self.coef is None or not parts or (len(parts) == 1 and len(_WORD.findall(parts[0].lower())) > 0.7 * words):
            return  # one question and little else: the main answer is its answer
        covered = {main_label(message)}
        found: List[str] = []
        for name in self.labels(parts):
            if name and name not in covered and name not in found:
                found.append(name)
        # The main answer covers one of the questions; when it is not one of these (an objection,
        # a step's answer), every question named is added.
        found = found[: int(self._config["max_questions"])]
        if found:
            message.set(KEY, found, add_to_output=True)


def main_label(message: Message) -> Optional[str]:
    """What the main answer will answer, in this component's labels."""
    intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
    if intent == RETRIEVAL_INTENT:
        selector = message.get("response_selector") or {}
        chosen = (selector.get(RETRIEVAL_INTENT) or selector.get("default") or {}).get("response") or {}
        return chosen.get("intent_response_key") or RETRIEVAL_INTENT
    return intent
