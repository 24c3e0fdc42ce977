"""Safety: record the violence flag after an escalation reply (the reply itself never waits for
this action: it is a domain response sent before it)."""
from __future__ import annotations

import logging
from typing import List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import common, content
from bot.actions.common import STORE_ERRORS

logger = logging.getLogger(__name__)


class ActionLogSafetyFlag(Action):
    """Flag the user (slot and progress store) and offer individual support. No details stored."""

    def name(self) -> Text:
        return "action_log_safety_flag"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        try:
            common.store().flag(tracker.sender_id)
        except STORE_ERRORS:
            # The slot still closes the partner path for this conversation.
            logger.error("progress store unavailable: safety flag kept in the conversation only")
        dispatcher.utter_message(
            text=content.text("safety.offer_support"),
            buttons=[{"title": content.text("menu.button_support"), "payload": "/ask_individual_support"}],
        )
        return [SlotSet("violence_flag", True)]
