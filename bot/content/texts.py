"""The texts the bot composes (messages.yml beside this file), readable by every part: the actions
(bot/actions/content.py re-exports these), and the Rasa-side fixes (bot/rasa_ext/actions.py's reply when an
action fails), which must not import the action package."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any, Dict, List

import yaml

CONTENT_DIR = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def messages() -> Dict[str, Any]:
    with open(CONTENT_DIR / "messages.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def at(tree: Any, path: str) -> Any:
    """The node at a dotted path ("practice.again") of a loaded text file."""
    for part in path.split("."):
        tree = tree[part]
    return tree


def text(path: str, **values: Any) -> str:
    """messages.yml text at a dotted path, formatted with `values`."""
    return str(at(messages(), path)).strip().format(**values)


def variant(options: List[str], *keys: Any) -> str:
    """One of several wordings, chosen by a hash of `keys`: stable for the same keys (a re-asked
    question keeps its wording), varied across users, steps and turns, reproducible in tests."""
    if not options:
        return ""
    digest = hashlib.sha256(":".join(map(str, keys)).encode()).digest()
    return options[digest[0] % len(options)]
