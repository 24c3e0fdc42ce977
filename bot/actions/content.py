"""Coaching content as data: steps (steps.yml) and the texts actions compose (messages.yml)."""
from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

CONTENT_DIR = Path(__file__).resolve().parents[1] / "content"

STATUS_AVAILABLE = "available"
STATUS_SCREEN = "screen"
STATUS_COMING_SOON = "coming_soon"
REGION_NAMES = {"US": "the United States", "UK": "the United Kingdom", "CA": "Canada", "AU": "Australia", "IE": "Ireland"}


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    group: str
    partner_path: bool
    status: str
    summary: str
    source: str
    explain: List[str]
    question: List[str]
    acknowledge: List[str]

    @property
    def available(self) -> bool:
        return self.status == STATUS_AVAILABLE


@functools.lru_cache(maxsize=1)
def steps() -> List[Step]:
    with open(CONTENT_DIR / "steps.yml", encoding="utf-8") as f:
        data = yaml.safe_load(f)
    result = []
    for raw in data["steps"]:
        result.append(
            Step(
                id=raw["id"],
                title=raw["title"],
                group=raw["group"],
                partner_path=bool(raw["partner_path"]),
                status=raw["status"],
                summary=raw["summary"].strip(),
                source=raw["source"],
                explain=[e.strip() for e in raw.get("explain") or []],
                question=[q.strip() for q in raw.get("question") or []],
                acknowledge=[a.strip() for a in raw.get("acknowledge") or []],
            )
        )
    return result


def step_by_id(step_id: Optional[str]) -> Optional[Step]:
    if not step_id:
        return None
    key = str(step_id).strip().lower().replace(" ", "_").replace("-", "_")
    return next((s for s in steps() if s.id == key), None)


@functools.lru_cache(maxsize=1)
def messages() -> Dict[str, Any]:
    with open(CONTENT_DIR / "messages.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def text(path: str, **values: Any) -> str:
    """messages.yml text at a dotted path, formatted with `values`."""
    node: Any = messages()
    for part in path.split("."):
        node = node[part]
    return str(node).strip().format(**values)


def pick(variants: List[str], rng: Optional[random.Random] = None) -> str:
    """One of several variants, so the bot does not repeat itself word for word."""
    if not variants:
        return ""
    return (rng or random).choice(variants)


def next_step(done: List[str], flagged: bool) -> Optional[Step]:
    """The first unfinished step that is ready and fits the user's situation."""
    for step in steps():
        if step.id in done or step.status != STATUS_AVAILABLE:
            continue
        if flagged and step.partner_path:
            continue
        return step
    return None
