"""Danger detection: a pure function from a message to the danger it shows, if any.

The patterns are data (`danger_patterns.yml` beside this file), compiled into a spaCy `Matcher`
over the lemmas of the lower-cased message. The Rasa NLU component (bot/components/safety.py)
and the action server import this same module, so both processes judge a message alike.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import yaml
from spacy.language import Language
from spacy.matcher import Matcher

PATTERNS_FILE = Path(__file__).with_name("danger_patterns.yml")

TIER_IMMEDIATE = "immediate_danger"
TIER_VIOLENCE = "violence"
TIER_SELF_HARM = "self_harm"
TIER_CHILD = "child_at_risk"

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


@dataclass(frozen=True)
class DangerResult:
    """What a message shows. `tier` is None when no danger was found."""

    tier: Optional[str]
    categories: Tuple[str, ...] = ()
    matches: Tuple[DangerMatch, ...] = field(default_factory=tuple)
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
    text = "".join(ch if ch.isprintable() else " " for ch in text.translate(_FOLD))
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
        if weak.get("match"):
            self.weak_matcher.add("weak", _compile_all(weak["match"], groups))
        if weak.get("unless"):
            self.weak_unless_matcher.add("weak_unless", _compile_all(weak["unless"], groups))
        self.rules: Dict[str, Dict[str, Any]] = {}
        for rule in config["rules"]:
            rule_id = rule["id"]
            if rule_id in self.rules:
                raise PatternError(f"duplicate rule id {rule_id}")
            if rule["category"] not in self.categories:
                raise PatternError(f"rule {rule_id}: unknown category {rule['category']}")
            self.rules[rule_id] = rule
            self.matcher.add(rule_id, _compile_all(rule["match"], groups))
            if rule.get("unless"):
                self.unless_matcher.add(rule_id, _compile_all(rule["unless"], groups))

    def detect(self, text: str) -> DangerResult:
        if not text or not text.strip():
            return DangerResult(tier=None)
        doc = self.nlp(normalise(text)[:5000])
        vocab = self.nlp.vocab.strings
        exceptions: Dict[str, List[Tuple[int, int]]] = {}
        for match_id, start, end in self.unless_matcher(doc):
            exceptions.setdefault(vocab[match_id], []).append((start, end))
        found: Dict[str, DangerMatch] = {}
        excused = False
        for match_id, start, end in self.matcher(doc):
            rule_id = vocab[match_id]
            if _overlaps((start, end), exceptions.get(rule_id, [])):
                excused = True
                continue
            if rule_id in found:
                continue
            category = self.rules[rule_id]["category"]
            found[rule_id] = DangerMatch(
                rule_id=rule_id,
                category=category,
                tier=self.categories[category],
                text=doc[start:end].text,
            )
        if not found:
            weak, weak_excused = self._weak_evidence(doc)
            return DangerResult(tier=None, weak_evidence=weak, idiom=excused or weak_excused)
        matches = tuple(found.values())
        tiers = {m.tier for m in matches}
        if TIER_SELF_HARM in tiers and tiers & VIOLENCE_TIERS:
            # Self-harm together with violence or a child at risk: the most urgent reply,
            # which carries the emergency, domestic-violence and crisis lines.
            tier = TIER_IMMEDIATE
        else:
            tier = next(t for t in self.tier_priority if t in tiers)
        categories = tuple(sorted({m.category for m in matches}))
        return DangerResult(tier=tier, categories=categories, matches=matches, weak_evidence=True)

    def _weak_evidence(self, doc) -> Tuple[bool, bool]:
        """(any weak-evidence word left, any excused by an idiom)."""
        excluded = [(s, e) for _, s, e in self.weak_unless_matcher(doc)]
        spans = [(s, e) for _, s, e in self.weak_matcher(doc)]
        left = [span for span in spans if not _overlaps(span, excluded)]
        return bool(left), len(left) < len(spans)


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
    from bot.nlp import pipeline

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
