"""Two objections in one message ("counseling is for sissies, and a waste of money"): the rules answer
the main one (utter_objection_<key>); this action then offers the other, when the intent classifier
also ranks a second objection high enough.

The threshold, looked at on the development split of the real objection corpus (docs/data.md): of
68 passages answered with an objection, 0.20 offers a second one for 12, of which 3 match a label the
labellers gave (0.12 offered 29, still 3 right). Real passages rarely carry two clear objections;
short ones such as "counseling is for sissies, and a waste of money" do, and get the offer.
"""

from __future__ import annotations

from typing import List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import common
from bot.actions.questions import answer_more_questions
from bot.coaching import curriculum

PREFIX = "report_objection_"
SECOND_MIN_CONFIDENCE = 0.20


def second_objection(tracker: Tracker) -> Optional[str]:
    """The intent of a second objection in the latest message, or None: the one its clauses named
    (bot/nlu/objection_clauses.py), else one the classifier also ranked high."""
    top = common.latest_intent(tracker) or ""
    if not top.startswith(PREFIX):
        return None
    named = tracker.latest_message.get("second_objection")
    if isinstance(named, str) and named.startswith(PREFIX) and named != top:
        return named
    for candidate in (tracker.latest_message.get("intent_ranking") or [])[1:4]:
        name = candidate.get("name") or ""
        if name.startswith(PREFIX) and name != top and (candidate.get("confidence") or 0) >= SECOND_MIN_CONFIDENCE:
            return name
    return None


class ActionOfferSecondObjection(Action):
    def name(self) -> Text:
        return "action_offer_second_objection"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        # A question in the same message ("he says it's a waste of money. can we do it online?").
        events = answer_more_questions(dispatcher, tracker, domain)
        other = second_objection(tracker)
        if other is None:
            return events
        label = curriculum.messages()["fallback"]["intents"].get(other)
        if not label:
            return events
        dispatcher.utter_message(
            text=curriculum.text("objections.offer_second"), buttons=[{"title": label, "payload": f"/{other}"}]
        )
        return events
