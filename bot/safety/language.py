"""Is a message in English? The bot speaks English only; a message in another language gets a short
note saying so, plus the hotline when it carries danger words the bot can recognise in that
language (danger_multilingual.yml).

No model and no download: a message is read as another language when
- most of its letters are not Latin (Arabic, Chinese, Cyrillic, Devanagari, Hebrew...), or
- it has at least three words, at most half of them are English words, and function words of
  another language (spaCy's stop-word lists for Spanish, French, German, Portuguese, Italian,
  Dutch, Polish, Turkish...) make up at least a quarter of them.
English words are spaCy's English stop words, the word forms of spacy-lookups-data's English
lemma table, the words of the bot's own training data (slang and typos users write) and a few
chat words. Short messages ("ok", "hola") and text with no letters (emoji, numbers, symbols) are
never called another language: there is too little to tell, and the English pipeline answers.
Danger words are checked on any message that is not clearly English, whatever its length.

Measured on tests/safety/language_eval.yml (tests/test_language.py).
"""

from __future__ import annotations

import functools
import gzip
import importlib
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Pattern, Tuple

import yaml

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
MULTILINGUAL_FILE = HERE / "danger_multilingual.yml"
NLU_DIR = REPO_ROOT / "bot" / "data" / "nlu"
NON_ENGLISH_DATA = "non_english.yml"  # the examples of the non_english intents: not English words

# spaCy languages whose stop words are checked (function words, so they say a lot in few words).
STOPWORD_LANGUAGES = ("es", "fr", "de", "pt", "it", "nl", "pl", "tr", "sv", "da", "ro", "id")
CHAT_WORDS = {
    "lol",
    "idk",
    "dunno",
    "gonna",
    "wanna",
    "gotta",
    "hey",
    "ok",
    "okay",
    "pls",
    "plz",
    "thx",
    "ty",
    "u",
    "ur",
    "im",
    "ive",
    "dont",
    "wont",
    "cant",
    "didnt",
    "doesnt",
    "isnt",
    "hes",
    "shes",
    "theyre",
    "thats",
    "whats",
    "bf",
    "gf",
    "hubby",
    "wifey",
    "omg",
    "tbh",
    "btw",
    "yeah",
    "yep",
    "nope",
    "nah",
    "hmm",
    "umm",
    "uh",
    "ugh",
}
# The intents the safety gate sets (domain.yml); never predicted by the classifier on its own.
NON_ENGLISH_INTENT = "non_english"
NON_ENGLISH_DANGER_INTENT = "non_english_danger"
LANGUAGE_INTENTS = (NON_ENGLISH_INTENT, NON_ENGLISH_DANGER_INTENT)
MIN_WORDS = 3
MAX_ENGLISH_SHARE = 0.5
MIN_FOREIGN_SHARE = 0.25
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


@dataclass(frozen=True)
class LanguageResult:
    english: bool
    language: Optional[str] = None  # ISO code or script name when not English and known
    danger: bool = False  # a danger phrase of danger_multilingual.yml matched


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFC", text).lower().replace("’", "'")


def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    return name.split(" ")[0] if name else "UNKNOWN"


# The script of each letter seen so far (the first word of its Unicode name): `_script` per letter
# was most of the time `detect` took. At most one entry per Unicode letter.
_SCRIPT_OF: Dict[str, str] = {}


def _script_counts(letters: List[str]) -> Dict[str, int]:
    """How many of `letters` each script has, scripts in the order they first occur."""
    scripts: Dict[str, int] = {}
    for char, count in Counter(letters).items():  # characters in the order they first occur
        script = _SCRIPT_OF.get(char)
        if script is None:
            script = _SCRIPT_OF[char] = _script(char)
        scripts[script] = scripts.get(script, 0) + count
    return scripts


@functools.lru_cache(maxsize=1)
def english_words() -> FrozenSet[str]:
    import spacy_lookups_data
    from spacy.lang.en.stop_words import STOP_WORDS

    words = set(STOP_WORDS) | CHAT_WORDS
    table = Path(spacy_lookups_data.__file__).parent / "data" / "en_lemma_lookup.json.gz"
    with gzip.open(table, "rt", encoding="utf-8") as f:
        lemmas = json.load(f)
    words |= {w.lower() for w in lemmas} | {w.lower() for w in lemmas.values()}
    for path in sorted(NLU_DIR.glob("*.yml")):
        if path.name == NON_ENGLISH_DATA:
            continue
        words |= {w for w in _WORD.findall(_normalise(path.read_text(encoding="utf-8")))}
    # Contractions split the way users type them: "don't" is known, so are "don" and "t".
    words |= {part for w in list(words) for part in w.split("'")}
    return frozenset(words)


@functools.lru_cache(maxsize=1)
def foreign_stop_words() -> Dict[str, FrozenSet[str]]:
    english = english_words()
    found = {}
    for code in STOPWORD_LANGUAGES:
        module = importlib.import_module(f"spacy.lang.{code}.stop_words")
        found[code] = frozenset(w for w in module.STOP_WORDS if w not in english)
    return found


@functools.lru_cache(maxsize=1)
def danger_patterns() -> List[Tuple[str, Pattern[str]]]:
    data = yaml.safe_load(MULTILINGUAL_FILE.read_text(encoding="utf-8"))
    no_bounds = set(data.get("no_word_boundaries") or [])
    compiled = []
    for code, patterns in data["languages"].items():
        for pattern in patterns:
            wrapped = f"(?:{pattern})" if code in no_bounds else rf"(?<!\w)(?:{pattern})(?!\w)"
            compiled.append((code, re.compile(wrapped)))
    return compiled


def _danger(text: str) -> Optional[str]:
    for code, pattern in danger_patterns():
        if pattern.search(text):
            return code
    return None


def detect(text: str) -> LanguageResult:
    """English (or too little to tell), or another language with or without danger words."""
    normal = _normalise(text or "")
    letters = [c for c in normal if c.isalpha()]
    if not letters:
        return LanguageResult(english=True)
    scripts = _script_counts(letters)
    latin = scripts.get("LATIN", 0)
    if latin * 2 < len(letters):
        script = max((s for s in scripts if s != "LATIN"), key=scripts.get)
        return LanguageResult(english=False, language=script.lower(), danger=_danger(normal) is not None)
    words = _WORD.findall(normal)
    if not words:
        return LanguageResult(english=True)
    english = english_words()
    english_share = sum(w in english for w in words) / len(words)
    if english_share > MAX_ENGLISH_SHARE:
        return LanguageResult(english=True)
    danger_language = _danger(normal)
    if danger_language is not None:
        return LanguageResult(english=False, language=danger_language, danger=True)
    if len(words) < MIN_WORDS:
        return LanguageResult(english=True)
    best, hits = None, 0
    for code, stop_words in foreign_stop_words().items():
        count = sum(w in stop_words for w in words)
        if count > hits:
            best, hits = code, count
    if best is not None and hits / len(words) >= MIN_FOREIGN_SHARE:
        return LanguageResult(english=False, language=best)
    return LanguageResult(english=True)


def warm_up() -> None:
    """Load the word lists now (at model load), not on the first message."""
    english_words()
    foreign_stop_words()
    danger_patterns()
