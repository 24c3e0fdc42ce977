"""What a practice-run line does: a pure function from a line to the techniques and pitfalls in it.

Two layers. The patterns find the phrasings someone wrote down, precisely; a model trained on
labelled lines (model.py) finds the rest. A label is found when either finds it (its
patterns count where the model's training found them precise enough), and quoted with the sentence it was found in. A pitfall wins over the technique it contradicts: "either
you come or we're done, your choice" is an ultimatum, never also a choice offered (CONTRADICTS).

The patterns are data (`patterns.yml` beside this file) in the pattern language of the
danger patterns, compiled into spaCy `Matcher` patterns over the same blank pipeline with lemmas.
On top of the patterns the analyzer handles three things plain matching gets wrong:

- negation: "I'm not blaming you" is not blame, "I'd never leave you" is not an ultimatum
  (rules marked `negatable`);
- questions: "do you always feel blamed?" asks, it does not accuse (rules marked `statement`);
- quotes: words someone else said ('he said "you never listen"') are not the user's own.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
from spacy.language import Language
from spacy.matcher import Matcher

from bot.rehearsal import model as invitation_model
from bot.safety.detector import PatternError, _compile_all, load_config, normalise

PATTERNS_FILE = Path(__file__).with_name("patterns.yml")
TECHNIQUES = (
    "reassure_love",
    "not_about_blame",
    "their_side",
    "i_we_language",
    "test_drive",
    "choose_together",
    "calm_moment",
    "time_to_think",
)
PITFALLS = ("blame", "ultimatum", "sarcasm", "pressure", "tricks", "labelling", "others_opinions")
LABELS = TECHNIQUES + PITFALLS

NEGATIONS = {
    "not",
    "n't",
    "nt",
    "never",
    "no",
    "nobody",
    "noone",
    "nothing",
    "neither",
    "nor",
    "without",
    "hardly",
    "dont",
    "don't",
    "won't",
    "wont",
    "cannot",
    "cant",
    "isnt",
    "aint",
}
NEGATION_WINDOW = 4
# A clause ends at these tokens: a negation before them does not reach a match after them.
CLAUSE_BREAKS = {",", ";", ".", "!", "?", "but", "and", "so", "because", "though", "although", ":", "-"}
# "Do you always feel blamed?" asks; "why do you always walk away?" accuses, so "why" is not here.
QUESTION_OPENERS = {
    "do",
    "does",
    "did",
    "are",
    "is",
    "was",
    "were",
    "have",
    "has",
    "can",
    "could",
    "would",
    "will",
    "should",
    "how",
    "what",
    "when",
    "where",
    "who",
    "am",
}
REPORTING_VERBS = {
    "say",
    "said",
    "says",
    "tell",
    "told",
    "tells",
    "call",
    "called",
    "calls",
    "write",
    "wrote",
    "yell",
    "yelled",
    "shout",
    "shouted",
    "text",
    "texted",
    "ask",
    "asked",
    "go",
    "goes",
    "went",
    "like",
}
# A pitfall in a line cancels these techniques in the same line: an offer made under a threat, a
# booking made behind the partner's back or a demand for an answer is no real choice or time.
CONTRADICTS = {
    "ultimatum": {"choose_together", "time_to_think"},
    "pressure": {"choose_together", "time_to_think"},
    "tricks": {"choose_together", "time_to_think"},
    "blame": {"not_about_blame"},
    "labelling": {"not_about_blame"},
}
_QUOTED = re.compile(r'"([^"]*)"')
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")


@dataclass(frozen=True)
class Analysis:
    """Labels found in one line, each with the sentence that showed it (for quoting in feedback),
    and the line's sentences that show no pitfall (to build a better line from)."""

    techniques: Dict[str, str] = field(default_factory=dict)
    pitfalls: Dict[str, str] = field(default_factory=dict)
    kept: Tuple[str, ...] = ()

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.techniques) + tuple(self.pitfalls)

    @property
    def helps(self) -> int:
        return len(self.techniques)

    @property
    def hurts(self) -> int:
        return len(self.pitfalls)


def strip_reported_quotes(text: str) -> str:
    """Drop quoted words that someone other than the user said; keep the user's own quoted line.

    'you said "it's pointless"' loses the quote; 'I'd say "this isn't about blame"' keeps it.
    """

    def replace(match: "re.Match[str]") -> str:
        before = text[: match.start()].lower().split()[-4:]
        reported = any(w.strip(",:") in REPORTING_VERBS for w in before)
        said_by_user = any(w in {"i", "i'd", "i'll", "i'm", "me"} for w in before)
        return " " if reported and not said_by_user else " " + match.group(1) + " "

    return _QUOTED.sub(replace, text)


class InvitationAnalyzer:
    """Build once (it compiles the patterns), call `analyze` many times."""

    def __init__(self, nlp: Language, config: Dict[str, Any]):
        self.nlp = nlp
        groups = {k: list(v) for k, v in (config.get("groups") or {}).items()}
        self.matcher = Matcher(nlp.vocab)
        self.unless = Matcher(nlp.vocab)
        self.rules: Dict[str, Dict[str, Any]] = {}
        for number, rule in enumerate(config["rules"]):
            label = rule["label"]
            if label not in LABELS:
                raise PatternError(f"rule {number}: unknown label {label}")
            key = f"{label}#{number}"
            self.rules[key] = rule
            self.matcher.add(key, _compile_all(rule["match"], groups))
            if rule.get("unless"):
                self.unless.add(key, _compile_all(rule["unless"], groups))

    def analyze(self, text: str, use_model: bool = True) -> Analysis:
        """Patterns, then the model (unless `use_model` is False or it is unavailable), then CONTRADICTS."""
        plain = " ".join(str(text or "").replace("\u201c", '"').replace("\u201d", '"').split())[:2000]
        sentences = [s.strip() for s in _SENTENCE.findall(plain) if s.strip() and re.search(r"\w", s)]
        if not sentences:
            return Analysis()
        found: List[Dict[str, str]] = [self.pattern_matches(s) for s in sentences]
        model = invitation_model.default_model(LABELS, pattern_labels) if use_model else None
        if model is not None:
            trusted = {label for label, use in zip(model.labels, model.use_patterns) if use}
            found = [{k: v for k, v in labels.items() if k in trusted} for labels in found]
            texts = [plain] + (sentences if len(sentences) > 1 else [])
            probabilities = model.probabilities(texts)
            for label in model.found(probabilities[0])[0]:
                if any(label in labels for labels in found):
                    continue
                column = model.labels.index(label)
                where = int(np.argmax(probabilities[1:, column])) if len(sentences) > 1 else 0
                found[where][label] = sentences[where]
        line = {label for labels in found for label in labels}
        cancelled = {t for p in line for t in CONTRADICTS.get(p, ())}
        techniques: Dict[str, str] = {}
        pitfalls: Dict[str, str] = {}
        for sentence, labels in zip(sentences, found):
            for label in labels:
                if label in PITFALLS:
                    pitfalls.setdefault(label, sentence)
                elif label not in cancelled:
                    techniques.setdefault(label, sentence)
        kept = tuple(s for s, labels in zip(sentences, found) if not set(labels) & (set(PITFALLS) | cancelled))
        return Analysis(techniques=_ordered(techniques, TECHNIQUES), pitfalls=_ordered(pitfalls, PITFALLS), kept=kept)

    def pattern_matches(self, text: str) -> Dict[str, str]:
        """The labels the patterns find in `text` (one sentence or more), with the words that matched."""
        found: Dict[str, str] = {}
        cleaned = strip_reported_quotes(normalise(text or "").replace("\u201c", '"').replace("\u201d", '"'))
        for sentence in _SENTENCE.findall(cleaned[:2000]):
            doc = self.nlp(sentence.strip())
            if not len(doc):
                continue
            question = sentence.strip().endswith("?") and doc[0].lower_ in QUESTION_OPENERS
            vocab = self.nlp.vocab.strings
            cancelled: Dict[str, List[Tuple[int, int]]] = {}
            for match_id, start, end in self.unless(doc):
                cancelled.setdefault(vocab[match_id], []).append((start, end))
            for match_id, start, end in self.matcher(doc):
                key = vocab[match_id]
                rule = self.rules[key]
                if any(s < end and start < e for s, e in cancelled.get(key, [])):
                    continue
                if rule.get("negatable") and _negated(doc, start):
                    continue
                if rule.get("statement") and question:
                    continue
                found.setdefault(rule["label"], doc[start:end].text)
        return found


def _negated(doc, start: int) -> bool:
    """A negation within NEGATION_WINDOW tokens before `start`, in the same clause."""
    for i in range(start - 1, max(-1, start - 1 - NEGATION_WINDOW), -1):
        word = doc[i].lower_
        if word in CLAUSE_BREAKS:
            return False
        if word in NEGATIONS or doc[i].lemma_ == "not":
            return True
    return False


def _ordered(found: Dict[str, str], order: Sequence[str]) -> Dict[str, str]:
    return {label: found[label] for label in order if label in found}


@functools.lru_cache(maxsize=1)
def default_analyzer() -> InvitationAnalyzer:
    from bot.nlu import pipeline

    return InvitationAnalyzer(pipeline.load(), load_config(PATTERNS_FILE))


def analyze(text: str, use_model: bool = True) -> Analysis:
    return default_analyzer().analyze(text, use_model=use_model)


def pattern_labels(text: str) -> List[str]:
    """The labels the patterns alone find in a line (the model's thresholds are chosen with them)."""
    return list(default_analyzer().pattern_matches(text))


def build_model() -> Path:
    """The model for the current training lines, trained unless already built (make train)."""
    return invitation_model.build(LABELS, pattern_labels)


if __name__ == "__main__":  # pragma: no cover - python -m bot.rehearsal.analyzer --build | "line" ...
    import logging
    import sys

    if sys.argv[1:] == ["--build"]:
        logging.basicConfig(level=logging.INFO)
        print(build_model())
    for line in [a for a in sys.argv[1:] if a != "--build"]:
        result = analyze(line)
        print(f"{line!r}\n  techniques: {result.techniques}\n  pitfalls:   {result.pitfalls}")
