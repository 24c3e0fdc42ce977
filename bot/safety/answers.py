"""Answers to the safety questions (the screen, the check-in, reopening): only a clear answer counts.

`read(intent, text)` gives "yes", "no", "unsure", or None when the answer is none of them. A leading
yes or no with context counts ("yes, he used to hit me", "no he's never done that"); "sometimes",
"idk", "i guess", "mostly", "kind of" are unsure, never a yes or a no: to a question about safety
they mean "not always", and they get one gentle follow-up question instead of being read either way.
"""

from __future__ import annotations

import re
from typing import Any, Optional

YES = "yes"
NO = "no"
UNSURE = "unsure"

_CLEAR_YES = {
    "yes",
    "y",
    "yeah",
    "yea",
    "yep",
    "yup",
    "ya",
    "yes.",
    "sure",
    "definitely",
    "absolutely",
    "correct",
    "true",
    "i do",
    "i am",
    "i have",
    "it has",
    "he has",
    "she has",
    "they have",
    "that's right",
    "thats right",
    "right",
    "affirmative",
    "yes i do",
    "yes i am",
    "of course",
    # the languages the bot notes (bot/safety/language.py): es, fr, de, pt, it, nl, pl, tr, sv, da, ro, id
    "sí",
    "si",
    "claro",
    "oui",
    "ja",
    "sim",
    "sì",
    "tak",
    "evet",
    "da",
    "iya",
}
_CLEAR_NO = {
    "no",
    "n",
    "nope",
    "nah",
    "never",
    "no.",
    "not at all",
    "no never",
    "false",
    "i don't",
    "i dont",
    "i'm not",
    "im not",
    "i haven't",
    "i havent",
    "he hasn't",
    "he hasnt",
    "she hasn't",
    "she hasnt",
    "they haven't",
    "nobody",
    "no one",
    "absolutely not",
    "definitely not",
    "not really",
    "nein",
    "non",
    "não",
    "nao",
    "nie",
    "hayır",
    "hayir",
    "nej",
    "nee",
    "nu",
    "tidak",
}
_UNSURE = {
    "not sure",
    "im not sure",
    "i'm not sure",
    "unsure",
    "idk",
    "i dont know",
    "i don't know",
    "dunno",
    "maybe",
    "sometimes",
    "kind of",
    "kinda",
    "sort of",
    "i guess",
    "mostly",
    "depends",
    "it depends",
    "hard to say",
    "no idea",
    "a little",
    "a bit",
    "not always",
    "sometimes yes sometimes no",
    "on and off",
    "occasionally",
    "once or twice",
    "i think so",
    "probably",
    "perhaps",
    "not sure tbh",
    "it's complicated",
    "its complicated",
    "i'm not certain",
    "mostly yes",
    "mostly no",
    "most of the time",
    "usually",
}
_LEADING_YES = re.compile(
    r"^(yes|yeah|yea|yep|yup|y|sure|definitely|sí|si|oui|ja|sim)\b[\s,.!-]+(?!\s*(?:and\s+)?no\b)"
)
_LEADING_NO = re.compile(r"^(no|nope|nah|never|non|nein|não|nao)\b[\s,.!-]+(?!\s*(?:and\s+)?yes\b)")
_HEDGES = re.compile(
    r"\b(sometimes|not sure|idk|i guess|mostly|kind of|kinda|sort of|maybe|depends|not always|"
    r"i don'?t know|dunno)\b"
)
_PUNCTUATION = re.compile(r"[^\w\s'.,!-]")


def _clean(text: Any) -> str:
    text = str(text or "").replace("\u2019", "'").lower()
    text = _PUNCTUATION.sub(" ", text)
    return " ".join(text.split()).strip(" .!?,")


def read(intent: Optional[str], text: Any) -> Optional[str]:
    """The answer: yes, no, unsure, or None (not an answer at all). The intent counts for a button
    (a "/affirm" payload); typed words are read here, since "sometimes" or "i'd rather not say" may
    be classified as affirm or deny."""
    raw = str(text or "").strip()
    if raw.startswith("/") or not raw:
        return {"affirm": YES, "deny": NO, "unsure": UNSURE}.get(intent)
    words = _clean(text)
    if not words:
        return None
    if words in _UNSURE:
        return UNSURE
    if words in _CLEAR_YES:
        return YES
    if words in _CLEAR_NO:
        return NO
    if _LEADING_YES.match(words + " "):
        return UNSURE if _HEDGES.search(words) else YES
    if _LEADING_NO.match(words + " "):
        return UNSURE if _HEDGES.search(words) else NO
    if _HEDGES.search(words) and len(words.split()) <= 8:
        return UNSURE
    return None


_NOT_SAFE = re.compile(
    r"\b(not safe|unsafe|don'?t feel safe|do not feel safe|never feel safe|scared|afraid|terrified|"
    r"frightened|in danger)\b"
)
_SAFE = re.compile(
    r"^(i feel safe|i'?m safe|i am safe|i do feel safe|yes i feel safe|safe|totally safe|completely safe|"
    r"i feel safe with (him|her|them))\b"
)


def read_feels_safe(intent: Optional[str], text: Any) -> Optional[str]:
    """An answer to "do you feel safe with your partner?", also in words ("I don't feel safe")."""
    words = _clean(text)
    if not str(text or "").strip().startswith("/") and words:
        if _NOT_SAFE.search(words):
            return UNSURE if _HEDGES.search(words) else NO
        if _SAFE.match(words):
            return UNSURE if _HEDGES.search(words) else YES
    return read(intent, text)
