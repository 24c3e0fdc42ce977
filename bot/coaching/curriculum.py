"""The coaching curriculum as data: the steps (steps.yml), the step groups and their order, the
answers to objections (objections.yml), and what comes next. The texts the actions compose
(bot/content/messages.yml) are re-exported here, so a coaching action reads both from one place."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from bot.content.texts import messages, text, variant  # noqa: F401 (the actions read texts here)

COACHING_DIR = Path(__file__).resolve().parent
STATUS_AVAILABLE = "available"
STATUS_SCREEN = "screen"
STATUS_COMING_SOON = "coming_soon"
# Menu order of the step groups. The order "what's next" follows depends on the user's path:
# someone whose partner refuses (or who asks about going alone) gets the going-alone steps first.
GROUPS = (
    "on_your_own",
    "understand_partner",
    "with_partner",
    "going_alone",
    "partner_in_your_therapy",
    "healing_stages",
)
PATH_ORDER = {
    "together": GROUPS,
    "alone": (
        "on_your_own",
        "going_alone",
        "understand_partner",
        "with_partner",
        "partner_in_your_therapy",
        "healing_stages",
    ),
}


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    group: str
    open_after_flag: bool
    status: str
    summary: str
    source: str
    explain: List[str]
    question: List[str]
    acknowledge: List[str]

    @property
    def available(self) -> bool:
        return self.status == STATUS_AVAILABLE

    def open_for(self, flagged: bool) -> bool:
        """After a violence signal only the steps marked open_after_flag are coached."""
        return self.open_after_flag or not flagged


@functools.lru_cache(maxsize=1)
def steps() -> List[Step]:
    with open(COACHING_DIR / "steps.yml", encoding="utf-8") as f:
        data = yaml.safe_load(f)
    result = []
    for raw in data["steps"]:
        result.append(
            Step(
                id=raw["id"],
                title=raw["title"],
                group=raw["group"],
                open_after_flag=bool(raw.get("open_after_flag", False)),
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


def group_steps(group: str) -> List[Step]:
    return [s for s in steps() if s.group == group]


@functools.lru_cache(maxsize=1)
def objections() -> Dict[str, Dict[str, Any]]:
    """Objection key -> {intent, source, steps, text} (objections.yml; the replies are domain responses)."""
    with open(COACHING_DIR / "objections.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)["objections"]


def next_step(
    done: List[str], flagged: bool, path: Optional[str] = None, objection: Optional[str] = None
) -> Optional[Step]:
    """The first unfinished step that is ready and fits the user's situation.

    On-your-own steps come first (article 001 puts them before the rest); then the step that
    answers the partner's latest objection; then the groups in the order of the user's path.
    """

    def fits(step: Step) -> bool:
        return step.id not in done and step.available and step.open_for(flagged)

    order = PATH_ORDER.get(path or "together", GROUPS)
    ranked: List[Step] = [s for s in group_steps(order[0]) if fits(s)]
    if objection and objection in objections():
        ranked += [s for s in map(step_by_id, objections()[objection].get("steps") or []) if s and fits(s)]
    for group in order[1:]:
        ranked += [s for s in group_steps(group) if fits(s)]
    return ranked[0] if ranked else None
