"""The safety gate: a Rasa NLU component that triages every message before anything else answers it.

It runs after the intent classifier and before FallbackClassifier (config.yml), on every message,
inside forms and practice runs too. For each message it asks three readers and lets triage.py
decide (escalate / coercive control / check in / own violence / continue):

- the danger patterns (detector.py, danger_patterns.yml): precise, on lemmas, with idioms and
  negation excused;
- the safety classifier (classifier.py), trained here, with the model, on the labelled real-world
  corpus (corpus/, docs/data.md), writers' messages (corpus/synthetic.jsonl) and the NLU data's
  safety intents: it reads what the patterns do not know. A long message is also read sentence
  by sentence, so a disclosure in passing is not drowned by the rest;
- the intent classifier's reading, already on the message.

When the outcome is not "continue", the gate forces its intent with confidence 1.0 and rewrites
the ranking, so neither FallbackClassifier's thresholds nor the dialogue policies can send the
message anywhere else, and adds a `safety_kind` entity (what was seen: "strangulation",
"monitoring", ...) that the replies name. Two intents keep the intent classifier's reading even
with a quiet sign in the message, since they are answered first and the check-in follows:
`ask_device_safety` ("he checks my phone, how do I hide this chat?") and `partner_nearby` ("he
just got home"). With "continue", the classifier's own guesses of the gate's intents are removed
and the next best intent stands.

Two more readings before that, both without an action server:
- an empty or whitespace-only message becomes `nlu_fallback` (the fallback says it was empty);
- a message in another language (language.py) becomes `non_english`, or `non_english_danger` when
  it carries danger words the bot knows in that language.

The decision never depends on an action server, a database or earlier turns (what adds up over a
conversation is the dialogue's job: bot/data/rules/safety.yml).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.sentence_features import sentence_vector
from bot.safety import language, triage
from bot.safety.classifier import LABELS, SafetyClassifier, corpus_label
from bot.safety.detector import DANGER_INTENTS, DangerDetector, default_detector

logger = logging.getLogger(__name__)

SAFETY_KEY = "safety"
KIND_ENTITY = "safety_kind"
REPO_ROOT = Path(__file__).resolve().parents[2]
# Intents answered first even when the message also carries a quiet sign (the check-in follows).
ANSWER_FIRST_INTENTS = frozenset({"ask_device_safety", "partner_nearby"})
ANSWER_FIRST_MIN_CONFIDENCE = 0.5
# The intent classifier's intents that stand for a class of the safety classifier (training data).
INTENT_CLASSES = {
    "disclose_immediate_danger": "immediate",
    "disclose_violence": "violence",
    "disclose_self_harm": "self_harm",
    "disclose_child_at_risk": "child",
    "disclose_warning_sign": "sign",
    "disclose_own_violence": "own",
    "disclose_coercive_control": "sign",
}
# Which of several kinds a reply names first: the gravest.
KIND_PRIORITY = (
    "strangulation",
    "weapon",
    "threat_to_kill",
    "immediate",
    "sexual",
    "physical",
    "child",
    "threat",
    "named_abuse",
    "unsafe",
    "self_harm",
    "own_violence",
    "monitoring",
    "money",
    "isolation",
    "control",
    "sexual_coercion",
    "fear",
    "emotional",
    "hurt",
)
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
MAX_SENTENCES = 6
MIN_WORDS_TO_SPLIT = 20


def override_intent(
    message: Message,
    intent_name: Text,
    source: Text,
    tier: Optional[Text] = None,
    categories: Optional[List[Text]] = None,
    classifier_confidence: Optional[float] = None,
    outcome: Optional[Text] = None,
    kinds: Sequence[Text] = (),
) -> None:
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
    mark(message, source, tier, categories, classifier_confidence, outcome, kinds)


def mark(
    message: Message,
    source: Text,
    tier: Optional[Text] = None,
    categories: Optional[List[Text]] = None,
    classifier_confidence: Optional[float] = None,
    outcome: Optional[Text] = None,
    kinds: Sequence[Text] = (),
) -> None:
    """What the gate saw, for the actions (only the tier, outcome and kinds: never the text or
    what matched), and the `safety_kind` entity the replies name."""
    message.set(
        SAFETY_KEY,
        {
            "source": source,
            "tier": tier,
            "categories": list(categories or []),
            "classifier_confidence": classifier_confidence,
            "outcome": outcome,
            "kinds": list(kinds),
        },
        add_to_output=True,
    )
    if kinds:
        kinds = sorted(kinds, key=lambda k: KIND_PRIORITY.index(k) if k in KIND_PRIORITY else len(KIND_PRIORITY))
        text = message.get(TEXT) or ""
        entities = [e for e in (message.get(ENTITIES) or []) if e.get("entity") != KIND_ENTITY]
        entities.append(
            {
                "entity": KIND_ENTITY,
                "value": kinds[0],
                "start": 0,
                "end": len(text),
                "confidence_entity": 1.0,
                "extractor": "SafetyGate",
            }
        )
        message.set(ENTITIES, entities, add_to_output=True)


def corpus_files(config: Dict[Text, Any]) -> List[Path]:
    directory = REPO_ROOT / config["corpus_dir"]
    return [directory / f"{name}.jsonl" for name in config["corpus_parts"]]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class SafetyGate(GraphComponent):
    """Triages every message and overrides the intent (see module docstring)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **triage.DEFAULTS,
            # The safety classifier's training data besides the NLU examples: the real-world
            # corpus's train split and the writers' messages (never the test split).
            "corpus_dir": "bot/safety/corpus",
            "corpus_parts": ["train", "dev", "synthetic"],
            "nlu_weight": 0.5,
            "synthetic_weight": 0.7,
            "C": 1.0,
            "dense_weight": 2.0,
            # class weights half-way to balanced (bot/safety/classifier.py)
            "balance": 0.5,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["spacy", "sklearn"]

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """The corpus files are training data Rasa does not see: a change to them retrains."""
        config = {**cls.get_default_config(), **config}
        digest = hashlib.sha256()
        for path in corpus_files(config):
            digest.update(path.name.encode())
            digest.update(path.read_bytes() if path.exists() else b"missing")
        return digest.hexdigest()

    def __init__(
        self,
        config: Dict[Text, Any],
        detector: Optional[DangerDetector] = None,
        classifier: Optional[SafetyClassifier] = None,
        model_storage: Optional[ModelStorage] = None,
        resource: Optional[Resource] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **(config or {})}
        self._detector = detector
        self.classifier = classifier
        self._model_storage = model_storage
        self._resource = resource
        self._encoder = None

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
        return cls(config, default_detector(), None, model_storage, resource)

    @property
    def detector(self) -> DangerDetector:
        if self._detector is None:
            self._detector = default_detector()
        return self._detector

    # ------------------------------------------------------------------ training
    def train(self, training_data: TrainingData) -> Resource:
        texts: List[str] = []
        vectors: List[np.ndarray] = []
        labels: List[str] = []
        weights: List[float] = []
        for example in training_data.intent_examples:
            vector = sentence_vector(example)
            if vector is None or not example.get(TEXT):
                continue
            texts.append(example.get(TEXT))
            vectors.append(vector)
            labels.append(INTENT_CLASSES.get(example.get(INTENT), "none"))
            weights.append(float(self._config["nlu_weight"]))
        rows = []
        for path in corpus_files(self._config):
            if not path.exists():
                logger.warning(f"SafetyGate: no corpus file {path}")
                continue
            weight = float(self._config["synthetic_weight"]) if path.stem == "synthetic" else 1.0
            with open(path, encoding="utf-8") as f:
                rows += [(json.loads(line), weight) for line in f if line.strip()]
        if rows:
            corpus_texts = [row["text"] for row, _ in rows]
            corpus_vectors = self._encode_training(corpus_texts)
            texts += corpus_texts
            vectors += list(corpus_vectors)
            labels += [corpus_label(row) for row, _ in rows]
            weights += [weight for _, weight in rows]
        if len(set(labels)) < 2:
            logger.warning("SafetyGate: too little training data for the safety classifier; patterns only")
            self.classifier = None
        else:
            self.classifier = SafetyClassifier.train(
                texts,
                np.stack(vectors),
                labels,
                weights,
                C=float(self._config["C"]),
                dense_weight=float(self._config["dense_weight"]),
                balance=float(self._config["balance"]),
            )
        self.persist()
        return self._resource

    def _encode_training(self, texts: List[str]) -> np.ndarray:
        from bot.nlu.sentence_features import SentenceEmbeddingFeaturizer

        featurizer = SentenceEmbeddingFeaturizer(SentenceEmbeddingFeaturizer.get_default_config(), "safety_corpus")
        return featurizer.encode_training_texts(texts)

    def persist(self) -> None:
        if self._model_storage is None or self._resource is None:
            return
        with self._model_storage.write_to(self._resource) as directory:
            if self.classifier is not None:
                self.classifier.save(Path(directory))

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "SafetyGate":
        language.warm_up()
        classifier = None
        try:
            with model_storage.read_from(resource) as directory:
                classifier = SafetyClassifier.load(Path(directory))
        except (ValueError, FileNotFoundError, KeyError) as error:
            logger.warning(f"SafetyGate has no trained classifier ({error}); the patterns decide alone")
        return cls(config, default_detector(), classifier, model_storage, resource)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    # ------------------------------------------------------------------ every message
    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self.check(message)
        return messages

    def probabilities(self, text: str, vector: Optional[np.ndarray]) -> Optional[Dict[str, float]]:
        """The safety classifier's reading of the whole message; for a long one, the escalation classes
        are the highest over its sentences too."""
        if self.classifier is None:
            return None
        if vector is None:
            vector = self._encode([text])[0]
        texts = [text]
        vectors = [vector]
        parts = [p for p in _SENTENCES.split(text) if len(p.split()) >= 3]
        if len(parts) > 1 and len(text.split()) >= MIN_WORDS_TO_SPLIT:
            parts = parts[:MAX_SENTENCES]
            texts += parts
            vectors += list(self._encode(parts))
        probs = self.classifier.probabilities(texts, np.stack(vectors))
        whole = dict(zip(LABELS, probs[0].tolist()))
        if len(texts) > 1:
            # A disclosure in passing counts in full; the quieter classes are read on the whole
            # message (sentence by sentence they fire on ordinary stories).
            for label in ("violence", "immediate", "child", "self_harm"):
                whole[label] = float(probs[:, LABELS.index(label)].max())
        return whole

    def _encode(self, texts: List[str]) -> np.ndarray:
        if self._encoder is None:
            from bot.nlu.sentence_encoder import shared_encoder

            self._encoder = shared_encoder()
        return self._encoder.encode(texts)

    def check(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        if not text.strip():
            override_intent(message, "nlu_fallback", "empty")
            return
        result = self.detector.detect(text)
        intent = message.get(INTENT) or {}
        name = intent.get(INTENT_NAME_KEY)
        confidence = intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0
        if not result.tier and not result.signs and not result.own:
            spoken = language.detect(text)
            if not spoken.english:
                danger = spoken.danger or (
                    name in DANGER_INTENTS and confidence >= self._config["intent_alone_threshold"]
                )
                override_intent(
                    message,
                    language.NON_ENGLISH_DANGER_INTENT if danger else language.NON_ENGLISH_INTENT,
                    "language",
                    categories=[spoken.language or "unknown"],
                )
                return
        if name in language.LANGUAGE_INTENTS:
            self._demote(message, language.LANGUAGE_INTENTS)
            intent = message.get(INTENT) or {}
            name = intent.get(INTENT_NAME_KEY)
            confidence = intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0
        probabilities = self.probabilities(text, sentence_vector(message))
        decision = triage.decide(result, probabilities, name, confidence, self._config)
        if (
            decision.outcome != triage.CONTINUE
            and decision.source != "patterns"
            and name in ANSWER_FIRST_INTENTS
            and confidence >= ANSWER_FIRST_MIN_CONFIDENCE
        ):
            # "He just got home, I have to go": the classifier's unease is not a disclosure; the
            # one-line reply (or the privacy answer) stands. Danger the patterns name still escalates.
            decision = triage.Decision(
                triage.CHECK_IN if decision.outcome == triage.CHECK_IN else triage.CONTINUE,
                None,
                decision.kinds,
                decision.source,
                decision.scores,
            )
            if decision.outcome == triage.CONTINUE:
                return
        if decision.outcome == triage.CONTINUE:
            if name in triage.SAFETY_INTENTS:
                self._demote(message, triage.SAFETY_INTENTS)
            return
        if (
            decision.outcome == triage.CHECK_IN
            and name in ANSWER_FIRST_INTENTS
            and confidence >= ANSWER_FIRST_MIN_CONFIDENCE
        ):
            # "He checks my phone, how do I hide this chat?": the question is answered, and the
            # check-in follows it (bot/actions/safety.py), so the intent stands, made sure: left
            # at its own confidence, a second question in the message ("how long does a step
            # take?") made it ambiguous, the fallback classifier replaced it, and inside a step the
            # message was saved as the answer with no check-in.
            override_intent(
                message,
                name,
                decision.source,
                None,
                list(result.categories),
                classifier_confidence=None,
                outcome=decision.outcome,
                kinds=decision.kinds,
            )
            return
        kinds = decision.kinds or tuple(result.categories)
        override_intent(
            message,
            decision.intent,
            decision.source,
            decision.tier,
            list(result.categories),
            classifier_confidence=None,
            outcome=decision.outcome,
            kinds=kinds,
        )

    @staticmethod
    def _demote(message: Message, intents: Any) -> None:
        """Remove `intents` from the ranking; the next best intent stands."""
        ranking = [r for r in (message.get(INTENT_RANKING_KEY) or []) if r.get(INTENT_NAME_KEY) not in intents]
        if not ranking:
            return
        top = ranking[0]
        message.set(
            INTENT,
            {INTENT_NAME_KEY: top[INTENT_NAME_KEY], PREDICTED_CONFIDENCE_KEY: top[PREDICTED_CONFIDENCE_KEY]},
            add_to_output=True,
        )
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
