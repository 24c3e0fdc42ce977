"""Resume codes themselves: the word list, making one, reading one typed, hashing, redacting.

Used by the actions (bot/actions/resume.py, the whole design is described there), by the NLU
component that recognises a code typed alone (bot/nlu/resume_code.py) and by the tracker
store, which never stores a code in clear (bot/stores.py).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import secrets
from pathlib import Path
from typing import List, Optional

logger = logging.getLogger(__name__)

WORDS_FILE = Path(__file__).resolve().parent / "resume_words.txt"
CODE_WORDS = 4
DEV_SECRET = "reluctant-partner-coach development secret: set RESUME_CODE_SECRET"


@functools.lru_cache(maxsize=1)
def words() -> List[str]:
    with open(WORDS_FILE, encoding="utf-8") as f:
        return [w.strip() for w in f if w.strip() and not w.startswith("#")]


@functools.lru_cache(maxsize=1)
def _word_set() -> frozenset:
    return frozenset(words())


def new_code() -> str:
    return "-".join(secrets.choice(words()) for _ in range(CODE_WORDS))


def normalise(text: str) -> Optional[str]:
    """The code in a message typed alone ("Maple River-cloud tiger."), or None when it is not one."""
    parts = re.split(r"[\s\-_.,]+", (text or "").strip().lower())
    parts = [p for p in parts if p]
    if len(parts) != CODE_WORDS or not all(p in _word_set() for p in parts):
        return None
    return "-".join(parts)


CODE_IN_TEXT = re.compile(r"\b[a-z]{3,6}(?:-[a-z]{3,6}){%d}\b" % (CODE_WORDS - 1), re.IGNORECASE)


def redact(text: Optional[str]) -> Optional[str]:
    """A stored message with any resume code replaced (the tracker store calls this)."""
    if not text:
        return text

    def replace(match: "re.Match[str]") -> str:
        return "[resume code]" if normalise(match.group(0)) else match.group(0)

    text = CODE_IN_TEXT.sub(replace, text)
    return "[resume code]" if normalise(text) else text


def _secret() -> bytes:
    secret = os.environ.get("RESUME_CODE_SECRET", "")
    if not secret:
        if os.environ.get("CI") != "true" and not getattr(_secret, "warned", False):
            logger.warning("RESUME_CODE_SECRET is not set: resume codes are hashed with a development secret")
            _secret.warned = True  # type: ignore[attr-defined]
        secret = DEV_SECRET
    return secret.encode("utf-8")


def code_hash(code: str) -> str:
    return hashlib.scrypt(code.encode("utf-8"), salt=_secret(), n=2**14, r=8, p=1, dklen=32).hex()
