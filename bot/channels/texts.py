"""The channels' own texts (texts.yml beside this file), as data like the rest of the bot's words."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Dict

import yaml

from bot.content.texts import at


@functools.lru_cache(maxsize=1)
def load() -> Dict[str, Any]:
    with open(Path(__file__).with_name("texts.yml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def text(path: str, **values: Any) -> str:
    """A text at a dotted path ("slack.privacy"), formatted with `values`."""
    found = str(at(load(), path)).strip()
    return found.format(**values) if values else found
