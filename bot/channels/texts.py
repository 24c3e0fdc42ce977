"""The channels' own texts (texts.yml beside this file), as data like the rest of the bot's words."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Dict

import yaml


@functools.lru_cache(maxsize=1)
def load() -> Dict[str, Any]:
    with open(Path(__file__).with_name("texts.yml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def text(path: str, **values: Any) -> str:
    """A text at a dotted path ("slack.privacy"), formatted with `values`."""
    node: Any = load()
    for part in path.split("."):
        node = node[part]
    return str(node).strip().format(**values) if values else str(node).strip()
