"""The layered fallback: "did you mean...?" with readable buttons, then a rephrase, then the menu.

These replace Rasa's default actions of the same names, which Rasa's TwoStageFallback loop calls.
A disclosure never reaches them: the safety component forces its intent at confidence 1.0.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.coaching import curriculum

MAX_GUESSES = 2
MIN_GUESS_CONFIDENCE = 0.1
# Never guessed: danger intents are decided by the safety component; a guess must never delete
# anything (withdrawing consent, starting over, deleting my data); the language intents are decided
# by the safety component too; the rest are not worth a button.
NOT_GUESSED = {
    "nlu_fallback",
    "out_of_scope",
    "affirm",
    "deny",
    "disclose_immediate_danger",
    "disclose_violence",
    "disclose_self_harm",
    "disclose_child_at_risk",
    "skip",
    "withdraw_storage_consent",
    "start_over",
    "goodbye",
    "delete_my_data",
    "non_english",
    "non_english_danger",
    "disclose_coercive_control",
    "disclose_warning_sign",
    "disclose_own_violence",
    "partner_nearby",
    "retract_disclosure",
    "unsure",
    # a practical question needs its words (the answer selector picks the answer from them);
    # a code is typed, never guessed; forgetting a code is not undone by a guess
    "practical",
    "enter_resume_code",
    "forget_resume_code",
}


def guesses(parse_data: Dict[str, Any]) -> List[str]:
    """The most likely intents that have a readable description, best first."""
    readable = curriculum.messages()["fallback"]["intents"]
    found: List[str] = []
    for candidate in parse_data.get("intent_ranking") or []:
        name = candidate.get("name")
        if (
            name in NOT_GUESSED
            or name not in readable
            or name in found
            or (candidate.get("confidence") or 0) < MIN_GUESS_CONFIDENCE
        ):
            continue
        found.append(name)
        if len(found) == MAX_GUESSES:
            break
    return found


class ActionDefaultAskAffirmation(Action):
    def name(self) -> Text:
        return "action_default_ask_affirmation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if (tracker.latest_message.get("safety") or {}).get("source") == "empty":
            # An empty or whitespace-only message (the safety component marks it; bot/safety/gate.py).
            dispatcher.utter_message(
                text=curriculum.text("fallback.empty"),
                buttons=[
                    {"title": curriculum.text("menu.button_next"), "payload": "/what_next"},
                    {"title": curriculum.text("step.button_menu"), "payload": "/show_menu"},
                    {"title": curriculum.text("fallback.button_help"), "payload": "/ask_help"},
                ],
            )
            return []
        readable = curriculum.messages()["fallback"]["intents"]
        buttons = [{"title": readable[name], "payload": f"/{name}"} for name in guesses(tracker.latest_message)]
        buttons.append({"title": curriculum.text("fallback.something_else"), "payload": "/out_of_scope"})
        key = "fallback.did_you_mean" if len(buttons) > 1 else "fallback.not_sure"
        dispatcher.utter_message(text=curriculum.text(key), buttons=buttons)
        return []


class ActionDefaultAskRephrase(Action):
    def name(self) -> Text:
        return "action_default_ask_rephrase"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(text=curriculum.text("fallback.rephrase"))
        return []


class ActionDefaultFallback(Action):
    """Still not understood: say so calmly and show the way on (never a dead end)."""

    def name(self) -> Text:
        return "action_default_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(
            text=curriculum.text("fallback.give_up"),
            buttons=[
                {"title": curriculum.text("menu.button_next"), "payload": "/what_next"},
                {"title": curriculum.text("step.button_menu"), "payload": "/show_menu"},
                {"title": curriculum.text("fallback.button_help"), "payload": "/ask_help"},
            ],
        )
        return [UserUtteranceReverted()]
