"""Danger detection: a pure function from a message to the danger it shows, if any.

The patterns are data (`danger_patterns.yml` beside this file), compiled into a spaCy `Matcher`
over the lemmas of the lower-cased message. The Rasa NLU component (bot/safety/gate.py)
and the action server import this same module, so both processes judge a message alike.

Speed (the gate runs on every message): a spaCy Matcher tries every pattern at every token, so
one Matcher holding all the rules costs a few milliseconds a message. Each rule (and each
`unless` list and weak-evidence pattern) also gets a Matcher of its own, run only when the
message has, for one of its patterns, a word for every token that pattern cannot do without
(`_SpecIndex`, `_Prefilter`). Patterns in one Matcher match independently of each other, so this
finds exactly the matches the single Matcher finds, in the same order within a rule; when two or
more rules match, a Matcher of just their patterns that can match gives the order across rules
(`_Prefilter.joint_matcher`), for the order of `DangerResult.matches`. These Matchers hold one-word
sets as plain values (`_native`: tested in C, not by a Python predicate), and the message is
parsed by `_LookupParser` (the same tokens and lemmas as `nlp(text)`, faster). `detect_reference`
keeps the single-Matcher path; the result is the same `DangerResult` either way
(tests/test_danger_patterns.py checks it on the evaluation sets and the NLU data).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple

import numpy
import yaml
from spacy.attrs import LEMMA, LOWER, ORTH
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.pipeline import Lemmatizer
from spacy.strings import get_string_id
from spacy.tokens import Doc

PATTERNS_FILE = Path(__file__).with_name("danger_patterns.yml")

TIER_IMMEDIATE = "immediate_danger"
TIER_VIOLENCE = "violence"
TIER_SELF_HARM = "self_harm"
TIER_CHILD = "child_at_risk"
# Not escalation tiers: a quiet sign of abuse or coercive control (the triage checks in), and the
# writer's own violence (a reply for them). Their categories are the sign's kind.
TIER_SIGN = "warning_sign"
TIER_OWN = "own_violence"
ESCALATION_TIERS = (TIER_IMMEDIATE, TIER_VIOLENCE, TIER_SELF_HARM, TIER_CHILD)

# The intent the NLU component forces for each tier.
TIER_TO_INTENT = {
    TIER_IMMEDIATE: "disclose_immediate_danger",
    TIER_VIOLENCE: "disclose_violence",
    TIER_SELF_HARM: "disclose_self_harm",
    TIER_CHILD: "disclose_child_at_risk",
}
DANGER_INTENTS = frozenset(TIER_TO_INTENT.values())
# Tiers that mean a partner (or someone at home) is a danger: they close the invitation path.
VIOLENCE_TIERS = frozenset({TIER_IMMEDIATE, TIER_VIOLENCE, TIER_CHILD})

_CLITICS = {"'s", "'ll", "'d", "'m", "'re", "'ve", "n't"}
_GAP = re.compile(r"^~([1-6])$")
_WHITESPACE = re.compile(r"\s+")
# Curly quotes and similar are folded so "he'll" and "he’ll" tokenise alike.
_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


@dataclass(frozen=True)
class DangerMatch:
    rule_id: str
    category: str
    tier: str
    text: str
    start: int = 0  # token span in the message
    end: int = 0


@dataclass(frozen=True)
class DangerResult:
    """What a message shows. `tier` is the most urgent escalation tier, None when there is none;
    `signs` the kinds of quiet sign (warning_sign rules) and `own` whether the writer describes their
    own violence (own_violence rules that no one else's violence in the message outweighs)."""

    tier: Optional[str]
    categories: Tuple[str, ...] = ()
    matches: Tuple[DangerMatch, ...] = field(default_factory=tuple)
    signs: Tuple[str, ...] = ()
    own: bool = False
    # Risk-relevant words too ambiguous to escalate alone (see `weak_evidence` in the patterns).
    weak_evidence: bool = False
    # A rule or a weak-evidence word matched but an `unless` idiom excused it ("hit the gym",
    # "kill two birds"): the patterns have read the risky words as harmless.
    idiom: bool = False

    @property
    def is_danger(self) -> bool:
        return self.tier is not None

    @property
    def intent(self) -> Optional[str]:
        return TIER_TO_INTENT.get(self.tier) if self.tier else None

    @property
    def violence_signal(self) -> bool:
        """True when the message shows danger from a partner or at home."""
        return any(m.tier in VIOLENCE_TIERS for m in self.matches)

    @property
    def outcome(self) -> str:
        """escalate, coercive_control, own, check_in or continue: what the patterns alone would
        have the bot do (bot/safety/triage.py decides with the classifiers too)."""
        if self.tier:
            return "escalate"
        if self.own:
            return "own"
        if len(self.signs) >= 2:
            return "coercive_control"
        return "check_in" if self.signs else "continue"


class PatternError(ValueError):
    pass


def _element(token: str, groups: Dict[str, List[str]]) -> Dict[str, Any]:
    """Compile one element of the pattern language into a Matcher token spec."""
    if token.startswith("~"):
        raise PatternError(f"{token!r}: a gap is ~1 to ~6")
    optional = token.startswith("?")
    if optional:
        token = token[1:]
    lemmas: List[str] = []
    texts: List[str] = []
    for alt in token.split("|"):
        if not alt:
            raise PatternError(f"empty alternative in {token!r}")
        bare = alt.lstrip("=")
        if "'" in bare and bare not in _CLITICS:
            # spaCy splits "don't" into "do" + "n't": such an element could never match.
            raise PatternError(f"{alt!r} is a contraction; match its parts (n't has the lemma 'not')")
        if alt.startswith("@"):
            name = alt[1:]
            if name not in groups:
                raise PatternError(f"unknown group @{name}")
            for word in groups[name]:
                word = str(word).lower()
                (texts if word.startswith("=") else lemmas).append(word.lstrip("="))
        elif alt.startswith("="):
            texts.append(alt[1:].lower())
        else:
            lemmas.append(alt.lower())
    spec: Dict[str, Any]
    if lemmas and texts:
        # A token matches when either its lemma or its text is listed: Matcher cannot OR two
        # attributes, so the caller expands this element into two alternative patterns.
        spec = {"_either": ({"LEMMA": {"IN": lemmas}}, {"LOWER": {"IN": texts}})}
    elif lemmas:
        spec = {"LEMMA": {"IN": lemmas}}
    else:
        spec = {"LOWER": {"IN": texts}}
    if optional:
        spec["OP"] = "?"
    return spec


def _split(source: str) -> List[str]:
    """Split a pattern on spaces, keeping [phrase | alternatives] together."""
    tokens: List[str] = []
    depth = 0
    current = ""
    for ch in source.strip():
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise PatternError(f"unbalanced ] in {source!r}")
        if ch.isspace() and depth == 0:
            if current:
                tokens.append(current)
            current = ""
        else:
            current += ch
    if depth:
        raise PatternError(f"unbalanced [ in {source!r}")
    if current:
        tokens.append(current)
    return tokens


def _split_alternatives(inner: str) -> List[str]:
    parts, depth, current = [], 0, ""
    for ch in inner:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts]


def compile_pattern(source: str, groups: Dict[str, List[str]]) -> List[List[Dict[str, Any]]]:
    """Compile a pattern string into one or more Matcher patterns (alternatives)."""
    variants: List[List[Dict[str, Any]]] = [[]]
    tokens = _split(source)
    if not tokens:
        raise PatternError(f"empty pattern in {source!r}")
    for i, token in enumerate(tokens):
        gap = _GAP.match(token)
        if gap:
            if i == 0 or i == len(tokens) - 1:
                raise PatternError(f"a gap cannot start or end a pattern: {source!r}")
            for variant in variants:
                variant.extend({"OP": "?"} for _ in range(int(gap.group(1))))
            continue
        optional = token.startswith("?[")
        if token.startswith("[") or optional:
            inner = token[2:-1] if optional else token[1:-1]
            phrases: List[List[Dict[str, Any]]] = [[]] if optional else []
            for alternative in _split_alternatives(inner):
                phrases.extend(compile_pattern(alternative, groups))
            variants = [v + phrase for v in variants for phrase in phrases]
            continue
        spec = _element(token, groups)
        if "_either" in spec:
            op = spec.get("OP")
            expanded = []
            for variant in variants:
                for alt in spec["_either"]:
                    alt = dict(alt)
                    if op:
                        alt["OP"] = op
                    expanded.append(variant + [alt])
            variants = expanded
        else:
            for variant in variants:
                variant.append(spec)
    if len(variants) > 512:
        raise PatternError(f"pattern expands to {len(variants)} variants: {source!r}")
    return variants


def _compile_all(sources: Any, groups: Dict[str, List[str]]) -> List[List[Dict[str, Any]]]:
    """A rule's `match` or `unless`: one pattern string or a list of them."""
    if isinstance(sources, str):
        sources = [sources]
    patterns: List[List[Dict[str, Any]]] = []
    for source in sources:
        patterns.extend(compile_pattern(source, groups))
    return patterns


def normalise(text: str) -> str:
    """Lower-case, fold curly quotes and collapse white space and control characters."""
    text = text.translate(_FOLD)
    if not text.isprintable():  # true when every character is: nothing to replace
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    return _WHITESPACE.sub(" ", text).strip().lower()


class DangerDetector:
    """Matches the danger patterns against a message. Build once, call many times."""

    def __init__(self, nlp: Language, config: Dict[str, Any]):
        self.nlp = nlp
        self.categories: Dict[str, str] = dict(config["categories"])
        self.tier_priority: List[str] = list(config["tier_priority"])
        groups = {k: list(v) for k, v in (config.get("groups") or {}).items()}
        self.matcher = Matcher(nlp.vocab)
        self.unless_matcher = Matcher(nlp.vocab)
        self.weak_matcher = Matcher(nlp.vocab)
        self.weak_unless_matcher = Matcher(nlp.vocab)
        weak = config.get("weak_evidence") or {}
        weak_patterns: List[List[Dict[str, Any]]] = []
        weak_unless_patterns: List[List[Dict[str, Any]]] = []
        if weak.get("match"):
            weak_patterns = _compile_all(weak["match"], groups)
            self.weak_matcher.add("weak", weak_patterns)
        if weak.get("unless"):
            weak_unless_patterns = _compile_all(weak["unless"], groups)
            self.weak_unless_matcher.add("weak_unless", weak_unless_patterns)
        self.rules: Dict[str, Dict[str, Any]] = {}
        rule_groups: List[Tuple[str, List[List[Dict[str, Any]]]]] = []
        unless_groups: List[Tuple[str, List[List[Dict[str, Any]]]]] = []
        for rule in config["rules"]:
            rule_id = rule["id"]
            if rule_id in self.rules:
                raise PatternError(f"duplicate rule id {rule_id}")
            if rule["category"] not in self.categories:
                raise PatternError(f"rule {rule_id}: unknown category {rule['category']}")
            self.rules[rule_id] = rule
            rule_patterns = _compile_all(rule["match"], groups)
            self.matcher.add(rule_id, rule_patterns)
            rule_groups.append((rule_id, rule_patterns))
            if rule.get("unless"):
                unless_patterns = _compile_all(rule["unless"], groups)
                self.unless_matcher.add(rule_id, unless_patterns)
                unless_groups.append((rule_id, unless_patterns))
        # The same patterns again, one Matcher per rule (per pattern for the weak evidence), each
        # run only when the message has the words it needs (see the module docstring).
        index = _SpecIndex()
        self._index = index
        self._parse = _LookupParser(nlp)
        self._rule_filter = _Prefilter(nlp, rule_groups, index)
        self._unless_filter = _Prefilter(nlp, unless_groups, index)
        self._weak_filter = _Prefilter(nlp, [("weak", [p]) for p in weak_patterns], index)
        self._weak_unless_filter = _Prefilter(nlp, [("weak_unless", [p]) for p in weak_unless_patterns], index)

    def detect(self, text: str) -> DangerResult:
        if not text or not text.strip():
            return DangerResult(tier=None)
        doc, words = self._parse(normalise(text)[:5000])
        if not len(doc) or not doc.has_annotation("LEMMA"):
            # Nothing to prefilter on (and the Matcher raises on a doc without lemmas): as before.
            return self.detect_reference(doc)
        satisfied = self._index.satisfied(doc, words)
        matches: List[Tuple[int, int, int]] = []
        matched_rules: List[str] = []
        for rule_id, found_here in self._rule_filter.run(doc, satisfied):
            matches.extend(found_here)
            matched_rules.append(rule_id)
        exceptions: Dict[str, List[Tuple[int, int]]] = {}
        if matched_rules:
            for rule_id, found_here in self._unless_filter.run(doc, satisfied, only=set(matched_rules)):
                exceptions.setdefault(rule_id, []).extend((start, end) for _, start, end in found_here)
        found, excused = self._collect(doc, matches, exceptions)
        if len(found) > 1:
            # Which rule came first in the single Matcher's output sets the order of `matches`.
            found, excused = self._collect(
                doc, self._rule_filter.joint_matcher(matched_rules, satisfied)(doc), exceptions
            )
        if not found:
            weak, weak_excused = self._weak_evidence_filtered(doc, satisfied)
            return DangerResult(tier=None, weak_evidence=weak, idiom=excused or weak_excused)
        return self._result(found)

    def detect_reference(self, doc) -> DangerResult:
        """`detect` on a parsed message with the single Matchers only (no prefilter): the reference
        the prefiltered path must agree with."""
        vocab = self.nlp.vocab.strings
        matches = self.matcher(doc)
        exceptions: Dict[str, List[Tuple[int, int]]] = {}
        if matches:  # the exceptions of rules without a match change nothing
            for match_id, start, end in self.unless_matcher(doc):
                exceptions.setdefault(vocab[match_id], []).append((start, end))
        found, excused = self._collect(doc, matches, exceptions)
        if not found:
            weak, weak_excused = self._weak_evidence(doc)
            return DangerResult(tier=None, weak_evidence=weak, idiom=excused or weak_excused)
        return self._result(found)

    def _collect(
        self, doc, matches: Iterable[Tuple[int, int, int]], exceptions: Dict[str, List[Tuple[int, int]]]
    ) -> Tuple[Dict[str, DangerMatch], bool]:
        """The first match of each rule that no `unless` of the rule excuses and, for a `negatable`
        rule, that no negation covers; whether any was excused."""
        vocab = self.nlp.vocab.strings
        found: Dict[str, DangerMatch] = {}
        excused = False
        for match_id, start, end in matches:
            rule_id = vocab[match_id]
            if _overlaps((start, end), exceptions.get(rule_id, [])):
                excused = True
                continue
            if rule_id in found:
                continue
            rule = self.rules[rule_id]
            if rule.get("negatable") and _negated(doc, start, end):
                # "he has never hit me", "I don't think he'd hurt me": not a disclosure.
                excused = True
                continue
            category = rule["category"]
            found[rule_id] = DangerMatch(
                rule_id=rule_id,
                category=category,
                tier=self.categories[category],
                text=doc[start:end].text,
                start=start,
                end=end,
            )
        return found, excused

    def _result(self, found: Dict[str, DangerMatch]) -> DangerResult:
        matches = tuple(found.values())
        own = [m for m in matches if m.tier == TIER_OWN]
        # The writer's own violence ("I punched a wall next to her"): a violence rule that matched
        # inside the same words is theirs too, not someone else's against them.
        escalating = [
            m
            for m in matches
            if m.tier in ESCALATION_TIERS
            and not (m.tier == TIER_VIOLENCE and any(_overlaps((m.start, m.end), [(o.start, o.end)]) for o in own))
        ]
        signs = tuple(sorted({m.category for m in matches if m.tier == TIER_SIGN}))
        categories = tuple(sorted({m.category for m in matches}))
        if not escalating:
            return DangerResult(
                tier=None, categories=categories, matches=matches, weak_evidence=True, signs=signs, own=bool(own)
            )
        tiers = {m.tier for m in escalating}
        if TIER_SELF_HARM in tiers and tiers & VIOLENCE_TIERS:
            # Self-harm together with violence or a child at risk: the most urgent reply,
            # which carries the emergency, domestic-violence and crisis lines.
            tier = TIER_IMMEDIATE
        else:
            tier = next(t for t in self.tier_priority if t in tiers)
        # Someone else's violence, self-harm or a child at risk outweighs the writer's own: escalate.
        return DangerResult(tier=tier, categories=categories, matches=matches, weak_evidence=True, signs=signs)

    def _weak_evidence(self, doc) -> Tuple[bool, bool]:
        """(any weak-evidence word left, any excused by an idiom)."""
        excluded = [(s, e) for _, s, e in self.weak_unless_matcher(doc)]
        spans = [(s, e) for _, s, e in self.weak_matcher(doc)]
        left = [span for span in spans if not _overlaps(span, excluded)]
        return bool(left), len(left) < len(spans)

    def _weak_evidence_filtered(self, doc, satisfied: Set[int]) -> Tuple[bool, bool]:
        """`_weak_evidence` with the prefiltered Matchers. A span two patterns both find is listed
        twice here, once in the single Matcher's output: neither answer depends on it."""
        spans = [(s, e) for _, found_here in self._weak_filter.run(doc, satisfied) for _, s, e in found_here]
        if not spans:
            return False, False
        excluded = [(s, e) for _, found_here in self._weak_unless_filter.run(doc, satisfied) for _, s, e in found_here]
        left = [span for span in spans if not _overlaps(span, excluded)]
        return bool(left), len(left) < len(spans)


class _SpecIndex:
    """The token specs that patterns cannot match without, and the words that satisfy them.

    A spec is a non-optional pattern element `{"LEMMA": {"IN": [...]}}` or `{"LOWER": {"IN": [...]}}`;
    the Matcher tests it as "the token's LEMMA (or LOWER) hash is in the set of the listed
    strings' hashes" (spacy.strings.get_string_id), and so does `satisfied`.
    """

    _ATTRS = {"LEMMA": LEMMA, "LOWER": LOWER}

    def __init__(self) -> None:
        self._ids: Dict[Tuple[int, FrozenSet[int]], int] = {}
        self.sizes: List[int] = []
        self._by_word: Dict[int, Dict[int, Set[int]]] = {LEMMA: {}, LOWER: {}}

    def requirements(self, pattern: List[Dict[str, Any]]) -> FrozenSet[int]:
        """The ids of the specs that must each match some token for `pattern` to match."""
        required = set()
        for spec in pattern:
            if len(spec) != 1:
                continue  # optional ("OP"), or a kind of spec not indexed: no requirement
            ((name, value),) = spec.items()
            if name not in self._ATTRS or not isinstance(value, dict) or list(value) != ["IN"]:
                continue
            attr = self._ATTRS[name]
            hashes = frozenset(get_string_id(v) for v in value["IN"])
            key = (attr, hashes)
            spec_id = self._ids.get(key)
            if spec_id is None:
                spec_id = self._ids[key] = len(self.sizes)
                self.sizes.append(len(hashes))
                for h in hashes:
                    self._by_word[attr].setdefault(h, set()).add(spec_id)
            required.add(spec_id)
        return frozenset(required)

    def satisfied(self, doc, words: Optional[List[Tuple[int, int]]] = None) -> Set[int]:
        """The ids of the specs that some token of `doc` matches (`words`: its tokens' (LEMMA, LOWER)
        hashes, when the caller has them)."""
        by_lemma = self._by_word[LEMMA]
        by_lower = self._by_word[LOWER]
        found: Set[int] = set()
        if words is None:
            words = doc.to_array([LEMMA, LOWER]).tolist()
        for lemma, lower in words:
            specs = by_lemma.get(lemma)
            if specs:
                found |= specs
            specs = by_lower.get(lower)
            if specs:
                found |= specs
        return found


class _LookupParser:
    """`nlp(text)` for the project's pipeline (bot/nlu/pipeline.py: the tokenizer, then the lookup
    lemmatizer), with the same tokens and lemmas, in half the time; and each token's (LEMMA, LOWER).

    spaCy's lookup lemmatizer sets each token's `lemma_` to `lemma_lookup.get(text, text)` (its
    first item when a list), in Python, token by token. Here that is looked up once per distinct
    word (cached by ORTH; a word's lemma and lower case depend on its text alone) and set with one
    `Doc.from_array`. Any other pipeline is simply called (the second value is then None).
    """

    _MAX_WORDS = 200_000  # the cache is emptied beyond this many distinct words

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self._table = None
        self._words: Dict[int, Tuple[int, int]] = {}
        if nlp.pipe_names == ["lemmatizer"]:
            lemmatizer = nlp.get_pipe("lemmatizer")
            if (
                isinstance(lemmatizer, Lemmatizer)
                and lemmatizer.mode == "lookup"
                and not nlp.disabled
                and lemmatizer.lookups.has_table("lemma_lookup")
            ):
                self._table = lemmatizer.lookups.get_table("lemma_lookup")

    def __call__(self, text: str) -> Tuple[Doc, Optional[List[Tuple[int, int]]]]:
        if self._table is None:
            return self.nlp(text), None
        doc = self.nlp.make_doc(text)
        if not len(doc):
            return doc, []
        known = self._words
        words = []
        for orth in doc.to_array(ORTH).tolist():
            word = known.get(orth)
            if word is None:
                word = self._word(orth)
            words.append(word)
        doc.from_array([LEMMA], numpy.array([lemma for lemma, _ in words], dtype=numpy.uint64))
        return doc, words

    def _word(self, orth: int) -> Tuple[int, int]:
        strings = self.nlp.vocab.strings
        text = strings[orth]
        lemma = self._table.get(text, text)
        if not isinstance(lemma, str):
            lemma = lemma[0]
        if len(self._words) >= self._MAX_WORDS:
            self._words.clear()
        word = self._words[orth] = (strings.add(lemma), self.nlp.vocab[orth].lower)
        return word


class _Prefilter:
    """Groups of patterns, one Matcher each, run only when one of its patterns could match.

    A pattern can only match when each of its required specs (`_SpecIndex.requirements`) matches
    some token. Patterns match independently of each other, so the matches of a group's own
    Matcher are exactly, and in the same order, the matches with its key of one Matcher holding
    every group.
    """

    def __init__(self, nlp: Language, groups: List[Tuple[str, List[List[Dict[str, Any]]]]], index: _SpecIndex) -> None:
        self.groups: List[Tuple[str, Matcher]] = []
        self.vocab = nlp.vocab
        self._always: Set[int] = set()
        self._anchored: Dict[int, List[Tuple[int, FrozenSet[int]]]] = {}
        # Each group's patterns (as added to its Matcher) with their required specs; the groups of each key.
        self._patterns: List[List[Tuple[List[Dict[str, Any]], FrozenSet[int]]]] = []
        self._positions: Dict[str, List[int]] = {}
        for position, (key, patterns) in enumerate(groups):
            native = [_native(p) for p in patterns]
            # No schema check: the single Matchers (`DangerDetector.matcher`...) checked the patterns.
            matcher = Matcher(nlp.vocab, validate=False)
            matcher.add(key, native)
            self.groups.append((key, matcher))
            self._positions.setdefault(key, []).append(position)
            self._patterns.append([])
            for pattern, native_pattern in zip(patterns, native):
                required = index.requirements(pattern)
                self._patterns[position].append((native_pattern, required))
                if not required:
                    self._always.add(position)
                    continue
                # Looked up by its most selective spec, then checked whole.
                anchor = min(required, key=lambda spec_id: (index.sizes[spec_id], spec_id))
                self._anchored.setdefault(anchor, []).append((position, required))
        self._anchors: FrozenSet[int] = frozenset(self._anchored)

    def candidates(self, satisfied: Set[int]) -> List[int]:
        """The groups (in order) that have a pattern whose required specs are all satisfied."""
        found = set(self._always)
        anchored = self._anchored
        for spec_id in self._anchors.intersection(satisfied):
            for position, required in anchored[spec_id]:
                if position not in found and required <= satisfied:
                    found.add(position)
        return sorted(found)

    def joint_matcher(self, keys: Iterable[str], satisfied: Set[int]) -> Matcher:
        """A Matcher whose matches on a doc with these `satisfied` specs are, in the same order,
        those of one Matcher holding every group: the patterns of the groups of `keys` (all the
        groups with matches, in order) that can match the doc, in order. The others have no
        match, and each pattern state moves on its own (spacy/matcher/matcher.pyx,
        `find_matches`), so leaving them out changes nothing else. Built per call (a few
        patterns: a fraction of a millisecond)."""
        matcher = Matcher(self.vocab, validate=False)
        for key in keys:
            for position in self._positions[key]:
                patterns = [pattern for pattern, required in self._patterns[position] if required <= satisfied]
                if patterns:
                    matcher.add(key, patterns)
        return matcher

    def run(
        self, doc, satisfied: Set[int], only: Optional[Set[str]] = None
    ) -> List[Tuple[str, List[Tuple[int, int, int]]]]:
        """(key, matches) of each group with matches, in order; only the keys in `only` if given."""
        results = []
        for position in self.candidates(satisfied):
            key, matcher = self.groups[position]
            if only is not None and key not in only:
                continue
            found_here = matcher(doc)
            if found_here:
                results.append((key, found_here))
        return results


def _native(pattern: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """`pattern` with each one-word `{"LEMMA": {"IN": [w]}}` (or LOWER) written `{"LEMMA": w}`.

    The Matcher tests a set (`IN`) by calling a Python predicate per token and pattern state, and
    an attribute value in C; both compare the token's hash with the word's (spacy.strings
    get_string_id, StringStore.add), so the matches are the same, found faster.
    """
    out = []
    for spec in pattern:
        spec = dict(spec)
        for name in ("LEMMA", "LOWER"):
            value = spec.get(name)
            if isinstance(value, dict) and list(value) == ["IN"] and len(value["IN"]) == 1:
                spec[name] = value["IN"][0]
        out.append(spec)
    return out


# A negation right before or inside a match: "never", "not", "n't", "no", "nt" (dont, didnt), and
# the run-together forms the tokenizer keeps whole.
_NEGATORS = frozenset(
    {
        "not",
        "n't",
        "nt",
        "never",
        "no",
        "cannot",
        "dont",
        "didnt",
        "doesnt",
        "wont",
        "wouldnt",
        "cant",
        "couldnt",
        "hasnt",
        "havent",
        "hadnt",
        "isnt",
        "wasnt",
        "aint",
        "nobody",
        "neither",
        "nor",
        "without",
        "refrained",
        "refrain",
    }
)
# Where looking back for a negation stops: the start of another clause.
_CLAUSE_BREAKS = frozenset({",", ".", ";", ":", "!", "?", "but", "and", "though", "although", "then", "-", "so"})
NEGATION_LOOKBACK = 3


def _negated(doc, start: int, end: int) -> bool:
    """Whether a negation stands inside the span, or up to NEGATION_LOOKBACK tokens before it in
    the same clause."""
    for token in doc[start:end]:
        if token.lower_ in _NEGATORS or token.lemma_ == "not":
            return True
    for i in range(start - 1, max(-1, start - 1 - NEGATION_LOOKBACK), -1):
        token = doc[i]
        if token.lower_ in _CLAUSE_BREAKS:
            return False
        if token.lower_ in _NEGATORS or token.lemma_ == "not":
            return True
    return False


def _overlaps(span: Tuple[int, int], others: Sequence[Tuple[int, int]]) -> bool:
    """True when the token span shares a token with any of `others` (an `unless` match)."""
    start, end = span
    return any(s < end and start < e for s, e in others)


def load_config(path: Path = PATTERNS_FILE) -> Dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    if not isinstance(config, dict) or config.get("version") != 1:
        raise PatternError(f"{path}: expected a mapping with version: 1")
    return config


@functools.lru_cache(maxsize=2)
def default_detector(patterns_file: str = str(PATTERNS_FILE)) -> DangerDetector:
    from bot.nlu import pipeline

    return DangerDetector(pipeline.load(), load_config(Path(patterns_file)))


def detect(text: str) -> DangerResult:
    """Judge one message with the default pipeline and patterns."""
    return default_detector().detect(text)


def evaluate(detector: DangerDetector, danger: Iterable[str], benign: Iterable[str]) -> Dict[str, Any]:
    """Recall on danger messages and false-positive rate on benign ones."""
    danger = list(danger)
    benign = list(benign)
    missed = [t for t in danger if not detector.detect(t).is_danger]
    false_pos = [t for t in benign if detector.detect(t).is_danger]
    return {
        "danger": len(danger),
        "benign": len(benign),
        "recall": (len(danger) - len(missed)) / len(danger) if danger else 1.0,
        "false_positive_rate": len(false_pos) / len(benign) if benign else 0.0,
        "missed": missed,
        "false_positives": false_pos,
    }


def _cli(argv: Sequence[str]) -> None:  # pragma: no cover - a developer's tool
    detector = default_detector()
    for text in argv:
        result = detector.detect(text)
        print(f"{result.tier or '-':18} {','.join(result.categories):30} {text}")


if __name__ == "__main__":  # pragma: no cover
    import sys

    _cli(sys.argv[1:])
