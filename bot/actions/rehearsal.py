"""The practice run on Rasa's side: `practice_form` (persona, then one line per turn, taken as free
text whatever intent NLU guesses), its questions (the partner speaking) and
`action_practice_feedback`. The partner, the analysis and the feedback are bot/rehearsal/.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import common
from bot.actions.common import STORE_ERRORS
from bot.coaching import curriculum
from bot.rehearsal import analyzer as invitation
from bot.rehearsal.partner import (
    DONE,
    OUTCOME_STOPPED,
    feedback,
    feedback_text,
    hint,
    is_hint,
    is_stop,
    match_persona,
    missed_techniques,
    new_run,
    partner_turn,
    personas,
)

logger = logging.getLogger(__name__)


def step_title(step_id: str) -> Optional[str]:
    step = curriculum.step_by_id(step_id)
    return step.title if step else None


# ---------------------------------------------------------------- Rasa actions
def _run(tracker: Tracker) -> Optional[Dict[str, Any]]:
    run = tracker.get_slot("practice_state")
    return run if isinstance(run, dict) and run.get("persona") in personas() else None


class ActionAskPracticePersona(Action):
    def name(self) -> Text:
        return "action_ask_practice_persona"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if tracker.get_slot("requested_slot") != "practice_persona":
            dispatcher.utter_message(text=feedback_text("start"))
        lines = [feedback_text("choose_persona")]
        buttons = []
        for pid, persona in personas().items():
            lines.append(f"- {persona['title']}: {persona['description']}")
            buttons.append({"title": persona["title"], "payload": pid})
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
        return []


class ActionAskPracticeLine(Action):
    """The form's "question" is the partner speaking: the reply worked out by the validation."""

    def name(self) -> Text:
        return "action_ask_practice_line"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        run = _run(tracker)
        if run is not None:
            dispatcher.utter_message(text=f"{personas()[run['persona']]['title']}: {run['reply']}")
        return []


class ValidatePracticeForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_practice_form"

    def validate_practice_persona(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = common.clean_text(value)
        if is_stop(text):
            # Leaving before the run started: nothing to give feedback on.
            return {"practice_persona": DONE, "practice_line": DONE, "practice_state": None}
        persona = match_persona(text)
        if persona is None:
            dispatcher.utter_message(text=curriculum.text("practice.unclear_persona"))
            return {"practice_persona": None}
        return {"practice_persona": persona, "practice_state": new_run(persona, tracker.sender_id)}

    def validate_practice_line(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        run = _run(tracker)
        if run is None:
            return {"practice_line": DONE}
        text = common.clean_text(value, limit=1000)
        if is_stop(text):
            return {"practice_line": DONE, "practice_state": dict(run, outcome=OUTCOME_STOPPED)}
        if not text or text.startswith("/"):
            dispatcher.utter_message(text=curriculum.text("practice.say_something"))
            return {"practice_line": None}
        if is_hint(text):
            # The hint, then the form asks again: the partner's last line (action_ask_practice_line).
            dispatcher.utter_message(text=hint(run))
            return {"practice_line": None, "practice_state": run}
        analysis = invitation.analyze(text)
        run = partner_turn(run, text, analysis, key=f"{tracker.sender_id}:{run['persona']}")
        if run["outcome"]:
            dispatcher.utter_message(text=f"{personas()[run['persona']]['title']}: {run['reply']}")
            return {"practice_line": DONE, "practice_state": run}
        return {"practice_line": None, "practice_state": run}


class ActionPracticeFeedback(Action):
    """After the run: feedback, the result stored (with consent), slots cleared for the next run."""

    def name(self) -> Text:
        return "action_practice_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        reset = [SlotSet("practice_state", None), SlotSet("practice_persona", None), SlotSet("practice_line", None)]
        run = _run(tracker)
        if run is None:
            dispatcher.utter_message(text=curriculum.text("practice.left_before_start"))
            return reset
        if not run.get("outcome"):
            run = dict(run, outcome=OUTCOME_STOPPED)
        profile = common.load_profile(tracker)
        previous = profile.practice_runs[-1] if profile and profile.practice_runs else None
        for message in feedback(run, previous, step_title):
            dispatcher.utter_message(text=message)
        pitfall_ids = list(dict.fromkeys(p["label"] for p in run["pitfalls"]))
        if common.consented(tracker):
            try:
                common.store().save_practice_run(
                    tracker.sender_id,
                    run["persona"],
                    run["outcome"],
                    run["turn"],
                    list(run["used"]),
                    missed_techniques(run),
                    pitfall_ids,
                )
            except STORE_ERRORS:
                logger.exception("progress store unavailable while saving a practice run")
                dispatcher.utter_message(text=curriculum.text("practice.not_saved"))
        dispatcher.utter_message(
            text=curriculum.text("practice.again"),
            buttons=[
                {"title": curriculum.text("practice.button_again"), "payload": "/start_practice"},
                {"title": curriculum.text("step.button_menu"), "payload": "/show_menu"},
            ],
        )
        return reset
