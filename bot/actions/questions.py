"""Practical questions about therapy ("how much does it cost?", "is it confidential?").

One retrieval intent, `practical`; the answer selector (bot/nlu/answer_selector.py) picks
the answer `utter_practical/<key>` (domain.yml; sources in bot/coaching/README.md). This action
sends it and keeps the safety rules of shared/safety.md:

- answers about inviting the partner (how to ask, what if they get angry, "why now") are coaching on
  the partner invitation: before the safety questions they wait until the questions are done, and a
  user whose screen showed danger gets support for themselves instead;
- after a safety flag, answers that assume couples therapy (finding a couples therapist, the first
  joint session) are replaced by support for the user; general ones (cost, confidentiality) stay,
  with the price of sessions on one's own.

Where they belong, the practice's own figures and booking link (practice.yml) follow the answer.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import common
from bot.actions.coaching import budget_estimate
from bot.coaching import curriculum
from bot.content import practice

RETRIEVAL_INTENT = "practical"
# The other questions of a message, in the parse data (bot/nlu/question_clauses.py).
MORE_QUESTIONS = "more_questions"
# Coaching on inviting the partner: only after the safety questions, never after a flag.
PARTNER_INVITATION = {"how_to_ask", "angry", "why_now", "only_once", "sides", "make_worse"}
# Answers for someone who goes alone, too: kept after a flag.
GENERAL = {"cost", "insurance", "confidential", "online", "language", "how_long", "does_it_help", "step_length"}
# Below these, the question is not clear enough to pick an answer: the bot says what it can answer.
# Looked at on the NLU examples and real questions: right answers came with intent >= 0.8, and
# "what about the kids, do we bring them?" with 0.30-0.44. The answer's own confidence is 0.9 or
# more for the questions the tests ask (0.56 for "how many sessions will we need"); it has a low floor.
MIN_INTENT_CONFIDENCE = 0.5
MIN_ANSWER_CONFIDENCE = 0.2
# The practice's booking link and contact follow these answers.
WITH_BOOKING = {"find", "first_session", "online", "language", "only_once", "lgbtq"}


def selected_key(tracker: Tracker) -> Optional[str]:
    """The answer the answer selector chose for the latest message ("cost" for practical/cost), or
    None when the question or the choice is unclear."""
    selector = tracker.latest_message.get("response_selector") or {}
    chosen = (selector.get(RETRIEVAL_INTENT) or selector.get("default") or {}).get("response") or {}
    full = chosen.get("intent_response_key") or ""
    prefix = RETRIEVAL_INTENT + "/"
    intent_confidence = (tracker.latest_message.get("intent") or {}).get("confidence", 1.0)
    if (
        not full.startswith(prefix)
        or float(chosen.get("confidence", 0.0)) < MIN_ANSWER_CONFIDENCE
        or float(intent_confidence or 0.0) < MIN_INTENT_CONFIDENCE
    ):
        return None
    return full[len(prefix) :]


def practice_lines(key: str, flagged: bool) -> List[str]:
    """The practice's own figures or booking line after an answer (practice.yml)."""
    p = practice.load()
    if key == "cost":
        return budget_estimate(flagged)
    if key == "insurance":
        return [p.insurance_notes, curriculum.text("budget.contact", booking_link=p.booking_link, contact=p.contact)]
    if key in WITH_BOOKING:
        return [curriculum.text("budget.contact", booking_link=p.booking_link, contact=p.contact)]
    return []


class ActionPractical(Action):
    def name(self) -> Text:
        return "action_practical"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        key = selected_key(tracker)
        responses: Dict[str, Any] = (domain or {}).get("responses") or {}
        if not key or (responses and f"utter_practical/{key}" not in responses):
            dispatcher.utter_message(
                text=curriculum.text("practical.not_sure"),
                buttons=[
                    {"title": curriculum.text("menu.button_next"), "payload": "/what_next"},
                    {"title": curriculum.text("step.button_menu"), "payload": "/show_menu"},
                ],
            )
            return []
        events = answer_practical(dispatcher, tracker, key)
        return events + answer_more_questions(dispatcher, tracker, domain)


def answer_practical(dispatcher: CollectingDispatcher, tracker: Tracker, key: str) -> List[EventType]:
    """The answer to the practical question `key`, within the safety rules above."""
    profile = common.load_profile(tracker)
    flagged = common.is_flagged(tracker, profile)
    if flagged and key not in GENERAL:
        dispatcher.utter_message(response="utter_objection_flagged")
        dispatcher.utter_message(response="utter_individual_support")
        return []
    if key in PARTNER_INVITATION and not tracker.get_slot("onboarded"):
        # The safety questions come before any coaching on asking the partner (shared/safety.md).
        dispatcher.utter_message(text=curriculum.text("practical.after_questions"))
        return [SlotSet("first_request", "how_to_ask")]
    dispatcher.utter_message(response=f"utter_practical/{key}")
    for line in practice_lines(key, flagged):
        dispatcher.utter_message(text=line)
    return []


def answer_more_questions(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
    """The other questions of the latest message (bot/nlu/question_clauses.py), after the main
    answer: "how long does a step take? and is this private?" gets both answers. Only questions
    with a fixed answer; never after a safety reply (the actions that send those do not call this)."""
    names = tracker.latest_message.get(MORE_QUESTIONS) or []
    responses: Dict[str, Any] = (domain or {}).get("responses") or {}
    events: List[EventType] = []
    for name in names if isinstance(names, list) else []:
        if not isinstance(name, str):
            continue
        key = name[len(RETRIEVAL_INTENT) + 1 :] if name.startswith(RETRIEVAL_INTENT + "/") else None
        if key is not None and (not responses or f"utter_practical/{key}" in responses):
            dispatcher.utter_message(text=curriculum.text("practical.also_asked"))
            events += answer_practical(dispatcher, tracker, key)
        elif name == "ask_device_safety":
            dispatcher.utter_message(text=curriculum.text("practical.also_asked"))
            dispatcher.utter_message(response="utter_device_safety")
    return events
