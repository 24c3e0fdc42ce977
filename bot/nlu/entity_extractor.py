"""Entity extractor for the bot's closed vocabularies (step, group, region), without TensorFlow.

The three entities name things from short, closed lists: the 22 steps, the step groups and five
regions. DIETClassifier found them before, and cost 25 of the 27.5 minutes of a training, every
retrain, about 12 ms per message and a TensorFlow model in the Rasa process (docs/benchmarks.md).
This component learns the same annotations in well under a second:

- **Phrases.** Every annotated span in the NLU data and every synonym becomes a phrase: its words
  as lemmas (the project's spaCy pipeline, so "holding" and "hold" are one word), punctuation
  left out (so "long-term" and "long term" are one phrase), with the entity and value it was
  annotated with most often.
- **Matching.** A message's tokens are matched left to right, longest phrase first. A word the
  bot does not know (not in the NLU data, not in the lemma tables) may stand for a phrase word one
  edit away, or two for long words ("acountability", "comitment", "canda").
- **When a phrase is not an entity.** "on my own" names a step group in "which steps can I do
  on my own", but not in "should I go to therapy on my own". For every phrase the training data
  says how often it was annotated and how often it occurred without annotation, by intent; a
  match is kept when, for the message's predicted intent (or over all intents when the phrase was
  never seen with that intent), it was annotated at least `min_precision` of the time. So the
  component runs after the intent classifier.

Persistence is JSON (no pickle). Evaluation against DIET: docs/nlu-evaluation.md.
"""

from __future__ import annotations

import functools
import json
import logging
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    INTENT,
    INTENT_NAME_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

# Rasa's recipe validator knows three trainable extractors by class (DIET, CRF, MITIE) and warns at
# every training that "your NLU configuration does not include an entity extractor" when none of
# them is in the pipeline. This one is: the warning would only mislead.
warnings.filterwarnings(
    "ignore",
    category=UserWarning,
    message="You have defined training data consisting of entity examples, but your NLU "
    "configuration does not include an entity extractor",
)

Phrase = Tuple[Text, ...]
# A word of a message: its normalised form and its character span in the text.
Word = Tuple[Text, int, int]


def normalise(token_text: Text, lemma: Optional[Text]) -> Optional[Text]:
    """The form words are compared in: the lower-cased lemma; None for punctuation."""
    word = (lemma or token_text or "").lower()
    if not any(c.isalnum() for c in word):
        return None
    return word


def words_of(tokens: Sequence[Token]) -> List[Word]:
    found = []
    for token in tokens:
        form = normalise(token.text, token.lemma)
        if form is not None:
            found.append((form, token.start, token.end))
    return found


def edit_distance(a: Text, b: Text, limit: int) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count one), or limit + 1 once it is over limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: List[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


@dataclass
class Match:
    start_word: int
    end_word: int  # exclusive
    phrase: Phrase


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class PhraseEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Finds the annotated phrases of the NLU data in messages (see module docstring)."""

    @classmethod
    def required_components(cls) -> List[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # A phrase is taken as an entity when the training data annotated it at least this
            # share of the times it occurred (with the message's intent, else with any intent).
            "min_precision": 0.5,
            # A part of phrases is a phrase of its own when this share of them have one value.
            "min_part_purity": 0.8,
            # Unknown words of at least this many characters may be one edit from a phrase word...
            "typo_min_length": 5,
            # ... and of at least this many, two edits.
            "typo2_min_length": 9,
        }

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self._config = {**self.get_default_config(), **config}
        self.validate_config(self._config)
        self._model_storage = model_storage
        self._resource = resource
        # phrase -> (entity type, value)
        self.phrases: Dict[Phrase, Tuple[Text, Text]] = {}
        # phrase -> intent -> [annotated, not annotated]; "" holds the totals over all intents
        self.counts: Dict[Phrase, Dict[Text, List[int]]] = {}
        self.known_words: Set[Text] = set()
        # entity type -> the intents whose examples were annotated with it
        self.intents_of_type: Dict[Text, List[Text]] = {}
        self._index: Dict[Text, List[Phrase]] = {}
        self._phrase_words: Set[Text] = set()
        self._typo_cache: Dict[Text, Optional[Text]] = {}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        precision = config.get("min_precision")
        if not isinstance(precision, (int, float)) or not 0.0 <= precision <= 1.0:
            raise InvalidConfigException("PhraseEntityExtractor: 'min_precision' must be between 0 and 1")
        for key in ("typo_min_length", "typo2_min_length"):
            if not isinstance(config.get(key), int) or config[key] < 1:
                raise InvalidConfigException(f"PhraseEntityExtractor: '{key}' must be a positive integer")

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "PhraseEntityExtractor":
        return cls(config, model_storage, resource)

    # --- training -------------------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        from bot.nlu.pipeline import load as load_spacy

        nlp = load_spacy()
        votes: Dict[Phrase, Counter] = defaultdict(Counter)
        intents_of_type: Dict[Text, Set[Text]] = defaultdict(set)
        examples = [e for e in training_data.training_examples if e.get(TEXT)]
        for example in examples:
            words = words_of(example.get(TOKENS_NAMES[TEXT]) or [])
            self.known_words.update(w for w, _, _ in words)
            for entity in example.get(ENTITIES) or []:
                intents_of_type[entity[ENTITY_ATTRIBUTE_TYPE]].add(example.get(INTENT) or "")
                phrase = tuple(
                    w for w, s, e in words if s >= entity[ENTITY_ATTRIBUTE_START] and e <= entity[ENTITY_ATTRIBUTE_END]
                )
                if phrase:
                    votes[phrase][(entity[ENTITY_ATTRIBUTE_TYPE], str(entity[ENTITY_ATTRIBUTE_VALUE]))] += 1
        # Synonyms ("hold myself accountable" -> accountability) take the entity type the value
        # was annotated with.
        type_of_value: Dict[Text, Counter] = defaultdict(Counter)
        for counter in votes.values():
            for (entity_type, value), n in counter.items():
                type_of_value[value][entity_type] += n
        for text, value in training_data.entity_synonyms.items():
            types = type_of_value.get(str(value))
            if not types:
                continue
            phrase = tuple(w for w in (normalise(t.text, t.lemma_) for t in nlp(text)) if w)
            if phrase and phrase not in votes:
                votes[phrase][(types.most_common(1)[0][0], str(value))] += 1
        self.phrases = {
            phrase: max(counter.items(), key=lambda item: (item[1], item[0]))[0] for phrase, counter in votes.items()
        }
        # Parts of phrases, for wordings never seen whole ("the safety screening" -> "screening"):
        # each run of words with a content word in it, when nearly all of its phrases (by
        # `min_part_purity`) have one value.
        stop_words = _stop_words()
        part_votes: Dict[Phrase, Counter] = defaultdict(Counter)
        for phrase, counter in votes.items():
            parts = {phrase[i:j] for i in range(len(phrase)) for j in range(i + 1, len(phrase) + 1)}
            for part in parts:
                if part != phrase and any(w not in stop_words for w in part):
                    part_votes[part].update(counter)
        for part, counter in part_votes.items():
            if part in self.phrases:
                continue
            (entity_type, value), n = max(counter.items(), key=lambda item: (item[1], item[0]))
            if n / sum(counter.values()) >= self._config["min_part_purity"]:
                self.phrases[part] = (entity_type, value)
        self._build_index()
        # How often each phrase was annotated, and how often it occurred without annotation.
        counts: Dict[Phrase, Dict[Text, List[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        for example in examples:
            words = words_of(example.get(TOKENS_NAMES[TEXT]) or [])
            spans = [(e[ENTITY_ATTRIBUTE_START], e[ENTITY_ATTRIBUTE_END]) for e in example.get(ENTITIES) or []]
            intent = example.get(INTENT) or ""
            for match in self._matches([w for w, _, _ in words]):
                start, end = words[match.start_word][1], words[match.end_word - 1][2]
                annotated = any(start < span_end and span_start < end for span_start, span_end in spans)
                for key in (intent, ""):
                    counts[match.phrase][key][0 if annotated else 1] += 1
        self.counts = {
            phrase: {intent: list(n) for intent, n in by_intent.items()} for phrase, by_intent in counts.items()
        }
        self.intents_of_type = {t: sorted(i) for t, i in intents_of_type.items()}
        self.persist()
        return self._resource

    def _build_index(self) -> None:
        self._index = defaultdict(list)
        for phrase in self.phrases:
            self._index[phrase[0]].append(phrase)
        for candidates in self._index.values():
            candidates.sort(key=len, reverse=True)
        self._phrase_words = {w for phrase in self.phrases for w in phrase}
        self._typo_cache = {}

    # --- matching -------------------------------------------------------------------------

    def _correct(self, word: Text) -> Text:
        """A phrase word an unknown word is a typo of, when exactly one is nearest; else the word."""
        if word in self._phrase_words or word in self.known_words or len(word) < self._config["typo_min_length"]:
            return word
        if word in self._typo_cache:
            return self._typo_cache[word] or word
        if _is_english_word(word):
            self._typo_cache[word] = None
            return word
        limit = 2 if len(word) >= self._config["typo2_min_length"] else 1
        best: List[Tuple[int, Text]] = []
        for candidate in self._phrase_words:
            if len(candidate) < self._config["typo_min_length"]:
                continue
            distance = edit_distance(word, candidate, limit)
            if distance <= limit:
                best.append((distance, candidate))
        best.sort()
        chosen = best[0][1] if best and (len(best) == 1 or best[0][0] < best[1][0]) else None
        self._typo_cache[word] = chosen
        return chosen or word

    def _matches(self, forms: Sequence[Text]) -> Iterable[Match]:
        position = 0
        while position < len(forms):
            found = None
            for phrase in self._index.get(forms[position], ()):
                end = position + len(phrase)
                if tuple(forms[position:end]) == phrase:
                    found = Match(position, end, phrase)
                    break
            if found:
                yield found
                position = found.end_word
            else:
                position += 1

    def _keep(self, phrase: Phrase, intent: Text) -> bool:
        entity_type = self.phrases[phrase][0]
        if intent and intent not in self.intents_of_type.get(entity_type, ()):
            return False  # no example of this intent ever named this kind of thing
        by_intent = self.counts.get(phrase, {})
        annotated, plain = by_intent.get(intent) or by_intent.get("") or [1, 0]
        return annotated / max(annotated + plain, 1) >= self._config["min_precision"]

    def extract(self, message: Message) -> List[Dict[Text, Any]]:
        text = message.get(TEXT)
        if not text or not self.phrases or text.startswith("/"):
            return []  # a button payload carries its own entities
        intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY) or ""
        if intent and not any(intent in intents for intents in self.intents_of_type.values()):
            return []  # no example of this intent names anything (most messages)
        words = words_of(message.get(TOKENS_NAMES[TEXT]) or [])
        forms = [self._correct(w) for w, _, _ in words]
        entities: List[Dict[Text, Any]] = []
        last_end_word = -1
        stop_words = _stop_words()
        for match in self._matches(forms):
            if not self._keep(match.phrase, intent):
                continue
            entity_type, value = self.phrases[match.phrase]
            start, end = words[match.start_word][1], words[match.end_word - 1][2]
            previous = entities[-1] if entities else None
            if (
                previous
                and previous[ENTITY_ATTRIBUTE_TYPE] == entity_type
                and previous[ENTITY_ATTRIBUTE_VALUE] == value
                and all(f in stop_words for f in forms[last_end_word : match.start_word])
            ):
                # Two parts of one phrase ("assignments" ... "between sessions"): one entity.
                previous[ENTITY_ATTRIBUTE_END] = end
            else:
                entities.append(
                    {
                        ENTITY_ATTRIBUTE_TYPE: entity_type,
                        ENTITY_ATTRIBUTE_VALUE: value,
                        ENTITY_ATTRIBUTE_START: start,
                        ENTITY_ATTRIBUTE_END: end,
                    }
                )
            last_end_word = match.end_word
        return entities

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            found = self.extract(message)
            if found:
                found = self.add_extractor_name(found)
                message.set(ENTITIES, (message.get(ENTITIES) or []) + found, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    # --- persistence ----------------------------------------------------------------------

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "phrases.json").write_text(
                json.dumps(
                    {
                        "phrases": [[list(p), t, v] for p, (t, v) in self.phrases.items()],
                        "counts": [[list(p), c] for p, c in self.counts.items()],
                        "known_words": sorted(self.known_words),
                        "intents_of_type": self.intents_of_type,
                    }
                ),
                encoding="utf-8",
            )

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "PhraseEntityExtractor":
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as directory:
                data = json.loads((directory / "phrases.json").read_text(encoding="utf-8"))
            component.phrases = {tuple(p): (t, v) for p, t, v in data["phrases"]}
            component.counts = {tuple(p): c for p, c in data["counts"]}
            component.known_words = set(data["known_words"])
            component.intents_of_type = data["intents_of_type"]
            component._build_index()
            _is_english_word("")  # the word list is loaded at start-up, not by the first message
        except (ValueError, FileNotFoundError, KeyError) as error:
            logger.warning(f"PhraseEntityExtractor has no trained phrases ({error}); it extracts nothing")
        return component


def _stop_words() -> FrozenSet[Text]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


@functools.lru_cache(maxsize=1)
def _dictionary() -> FrozenSet[Text]:
    """The words of spaCy's English lemma table (spacy-lookups-data) and its stop words. Not the
    safety gate's word list (bot/safety/language.py), which adds every word of the NLU data, typos
    included: a typo in the data would count as a real word."""
    import gzip

    import spacy_lookups_data
    from spacy.lang.en.stop_words import STOP_WORDS

    table = Path(spacy_lookups_data.__file__).parent / "data" / "en_lemma_lookup.json.gz"
    with gzip.open(table, "rt", encoding="utf-8") as f:
        lemmas = json.load(f)
    return frozenset({w.lower() for w in lemmas} | {w.lower() for w in lemmas.values()} | set(STOP_WORDS))


def _is_english_word(word: Text) -> bool:
    """A real word is not corrected as a typo."""
    return word in _dictionary()
