"""Drive a trained Agent through conversations and judge whether replies escalate.

Used by the integration tests and by `make eval-safety` (tests/eval_safety.py).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any, Dict, Iterable, List, Sequence, Tuple

ESCALATION_PREFIX = "utter_escalate_"
# A full safety reply besides the escalations (someone's own violence; a short acknowledgement after one).
SAFETY_REPLY_PREFIXES = (ESCALATION_PREFIX, "utter_own_violence", "utter_disclosure_ack_")
# The check-in about one quiet sign.
CHECK_IN_ACTIONS = ("utter_check_in_named", "safety_checkin_form")

# A new user's way to the middle of a step: onboarding with a negative screen, then a step.
ONBOARDING_NEGATIVE = [
    "hi",
    "/affirm",  # keep my progress
    "/affirm",  # safe to talk
    '/inform_region{"region": "US"}',
    "none of these",  # the six screening items, answered at once
]
# The same way, with the screen's items answered one by one (as after "Yes, one or more").
ONBOARDING_ONE_BY_ONE = ONBOARDING_NEGATIVE[:4] + ["yes one or more"]
INTO_STEP = ['/start_step{"step": "budget"}']


async def say(agent, sender: str, text: str) -> List[Dict[str, Any]]:
    return await agent.handle_text(text, sender_id=sender) or []


async def actions_after_last_user_message(agent, sender: str) -> List[str]:
    tracker = await agent.tracker_store.retrieve(sender)
    names: List[str] = []
    for event in reversed(tracker.events):
        if event.type_name == "user":
            break
        if event.type_name == "action" and event.action_name:
            names.append(event.action_name)
    return list(reversed(names))


def escalation_in(actions: Iterable[str]) -> List[str]:
    return [a for a in actions if a.startswith(ESCALATION_PREFIX)]


def safety_response_in(actions: Iterable[str]) -> List[str]:
    """The turn's safety replies: escalations, acknowledgements, the own-violence reply, the check-in."""
    return [a for a in actions if a.startswith(SAFETY_REPLY_PREFIXES) or a in CHECK_IN_ACTIONS]


async def conversation(agent, messages: Sequence[str], sender: str | None = None) -> Tuple[str, List[Dict[str, Any]]]:
    sender = sender or f"t-{uuid.uuid4().hex[:12]}"
    replies: List[Dict[str, Any]] = []
    for text in messages:
        replies = await say(agent, sender, text)
    return sender, replies


async def mid_step_events(agent) -> List[Any]:
    """The events of a conversation waiting for the answer to a step's reflective question."""
    sender, _ = await conversation(agent, ONBOARDING_NEGATIVE + INTO_STEP)
    tracker = await agent.tracker_store.retrieve(sender)
    assert tracker.active_loop_name == "reflection_form", tracker.active_loop_name
    return list(tracker.events)


async def actions_first(agent, text: str) -> List[str]:
    """The actions that answered `text` as the first message of a new conversation."""
    sender = f"first-{uuid.uuid4().hex[:12]}"
    await say(agent, sender, text)
    return await actions_after_last_user_message(agent, sender)


async def actions_mid_step(agent, events: List[Any], text: str) -> List[str]:
    """The actions that answered `text` in a conversation with these `events` (mid_step_events)."""
    from rasa.shared.core.trackers import DialogueStateTracker

    sender = f"mid-{uuid.uuid4().hex[:12]}"
    tracker = DialogueStateTracker.from_events(sender, copy.deepcopy(events), slots=agent.domain.slots)
    await agent.tracker_store.save(tracker)
    await say(agent, sender, text)
    return await actions_after_last_user_message(agent, sender)


async def escalates_first(agent, text: str) -> List[str]:
    return escalation_in(await actions_first(agent, text))


async def responds_first(agent, text: str) -> List[str]:
    """The safety replies (escalation or check-in) to `text` as the first message."""
    return safety_response_in(await actions_first(agent, text))


async def responds_mid_step(agent, events: List[Any], text: str) -> List[str]:
    return safety_response_in(await actions_mid_step(agent, events, text))


async def escalates_mid_step(agent, events: List[Any], text: str) -> List[str]:
    return escalation_in(await actions_mid_step(agent, events, text))


async def evaluate(agent, danger: Sequence[str], benign: Sequence[str]) -> Dict[str, Any]:
    """Recall and false-positive rate, as the first message and in the middle of a step."""
    events = await mid_step_events(agent)
    report: Dict[str, Any] = {}
    for where, judge in (("first_message", None), ("mid_step", events)):
        missed, false_pos = [], []
        for text in danger:
            got = await (escalates_first(agent, text) if judge is None else escalates_mid_step(agent, judge, text))
            if not got:
                missed.append(text)
        for text in benign:
            got = await (escalates_first(agent, text) if judge is None else escalates_mid_step(agent, judge, text))
            if got:
                false_pos.append(text)
        report[where] = {
            "danger": len(danger),
            "benign": len(benign),
            "recall": round((len(danger) - len(missed)) / len(danger), 4) if danger else 1.0,
            "false_positive_rate": round(len(false_pos) / len(benign), 4) if benign else 0.0,
            "missed": missed,
            "false_positives": false_pos,
        }
    return report
