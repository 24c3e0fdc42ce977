"""Safety actions: what comes after the gate's reply (the replies with hotlines are domain responses,
sent before these, so they never wait for the action server).

- action_log_safety_flag: after an escalation or acknowledgement: records the flag (tier, source,
  whether it may be reopened) or the quiet sign, names grave signs plainly (strangulation, a
  weapon, a threat to kill), and offers support. Keeps `safety_level` (bot/data/rules/safety.yml).
- the check-in (safety_checkin_form): "do you feel safe with your partner?"; Yes notes the sign,
  No or Not sure escalates, two non-answers leave it pending (the partner steps wait).
- action_device_safety_followup: after the privacy answer, the check-in about a quiet sign that
  came with the question ("he checks my phone, how do I hide this?").
- action_respond_to_denial: "I'm fine, it was a joke" keeps the flag and says why, once.
- action_reconsider_flag and the reopen_form: a clear "that was a misunderstanding" is checked by
  two plain questions before the partner steps reopen; never after the gravest signs.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import common
from bot.actions.common import STORE_ERRORS
from bot.actions.questions import answer_more_questions
from bot.coaching import curriculum
from bot.coaching import menu as coaching_menu
from bot.safety import answers

logger = logging.getLogger(__name__)

# Tiers and outcomes after which a clear, checked statement may not reopen the partner steps.
NOT_REOPENABLE_TIERS = {"immediate_danger", "child_at_risk"}
NOT_REOPENABLE_OUTCOMES = {"coercive_control"}
# Grave signs the reply names plainly (messages.yml safety.named).
NAMED_SIGNS = ("strangulation", "weapon", "threat_to_kill")
SELF_HARM = "self_harm"


def _safety(tracker: Tracker) -> Dict[str, Any]:
    return tracker.latest_message.get("safety") or {}


def _support_button() -> List[Dict[str, str]]:
    return [{"title": curriculum.text("menu.button_support"), "payload": "/ask_individual_support"}]


def _flag(sender_id: str, tier: Optional[str], source: str, reopenable: bool) -> None:
    try:
        common.store().flag(sender_id, tier=tier, source=source, reopenable=reopenable)
    except STORE_ERRORS:
        # The slot still closes the partner path for this conversation (written later: common.load_profile).
        logger.error("progress store unavailable: safety flag kept in the conversation only")


def _note_signs(sender_id: str, kinds: List[str]) -> None:
    try:
        for kind in kinds:
            common.store().note_sign(sender_id, kind)
    except STORE_ERRORS:
        logger.error("progress store unavailable: a quiet sign kept in the conversation only")


class ActionLogSafetyFlag(Action):
    """Record what the reply was about and add what the reply itself cannot: the grave signs named
    and, after a short acknowledgement, a line in the user's own terms. No details are stored."""

    def name(self) -> Text:
        return "action_log_safety_flag"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        safety = _safety(tracker)
        intent = common.latest_intent(tracker)
        tier = safety.get("tier")
        outcome = safety.get("outcome") or ("escalate" if tier else None)
        kinds = [k for k in (safety.get("kinds") or safety.get("categories") or []) if k]
        already_replied = tracker.get_slot("safety_level") == "replied"
        events: List[EventType] = []
        if intent == "disclose_self_harm" or tier == SELF_HARM:
            # Self-harm: the crisis line; the partner path stays as it is.
            events.append(SlotSet("safety_level", "replied"))
            return events
        if intent == "disclose_own_violence":
            _flag(tracker.sender_id, "own_violence", "own", reopenable=True)
            return [SlotSet("violence_flag", True)]
        level = tracker.get_slot("safety_level")
        if intent == "disclose_warning_sign" and level in ("flagged", "replied"):
            # A quiet sign when already flagged: noted, and acknowledged in the user's terms.
            _note_signs(tracker.sender_id, kinds or ["general"])
            self._name(dispatcher, kinds, acknowledgement=True)
            return events
        if intent in ("disclose_coercive_control", "disclose_warning_sign"):
            # Signs that add up (two at once, a second one, one during the check-in): coercive control.
            _note_signs(tracker.sender_id, kinds or ["general"])
            outcome = "coercive_control"
        reopenable = (
            tier not in NOT_REOPENABLE_TIERS
            and outcome not in NOT_REOPENABLE_OUTCOMES
            and not any(k in NAMED_SIGNS for k in kinds)
        )
        source = "signs" if outcome == "coercive_control" else "message"
        _flag(tracker.sender_id, tier or "violence", source, reopenable)
        self._name(dispatcher, kinds, acknowledgement=already_replied)
        if not already_replied:
            dispatcher.utter_message(text=curriculum.text("safety.offer_support"), buttons=_support_button())
        events += [
            SlotSet("violence_flag", True),
            SlotSet("safety_level", "replied"),
            SlotSet("checkin_pending", False),
        ]
        return events

    @staticmethod
    def _name(dispatcher: CollectingDispatcher, kinds: List[str], acknowledgement: bool) -> None:
        named = curriculum.messages()["safety"]["named"]
        for kind in kinds:
            if kind in named:
                dispatcher.utter_message(text=curriculum.text(f"safety.named.{kind}"))
                return
        if acknowledgement:
            ack = curriculum.messages()["safety"]["ack"]
            for kind in kinds:
                if kind in ack:
                    dispatcher.utter_message(text=curriculum.text(f"safety.ack.{kind}"))
                    return


class ActionLogCoerciveControl(ActionLogSafetyFlag):
    """action_log_safety_flag where quiet signs add up (its own name for the rules: bot/safety/rules.py)."""

    def name(self) -> Text:
        return "action_log_coercive_control"


class ValidateSafetyCheckinForm(FormValidationAction):
    """Only a clear answer counts; one gentle re-ask, then the check-in waits (pending)."""

    def name(self) -> Text:
        return "validate_safety_checkin_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        return list(domain_slots)

    def validate_feels_safe_with_partner(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        answer = answers.read_feels_safe(common.latest_intent(tracker), value)
        if answer is not None:
            return {"feels_safe_with_partner": answer}
        asked_again = tracker.get_slot("checkin_pending") is True
        if asked_again:
            # A second non-answer: leave it open; the partner steps wait for it (action_checkin_outcome).
            return {"feels_safe_with_partner": "pending"}
        dispatcher.utter_message(text=curriculum.text("safety.checkin_unclear"))
        return {"feels_safe_with_partner": None, "checkin_pending": True}


def _back_to_step(tracker: Tracker) -> List[Dict[str, str]]:
    """The way back to a step the check-in interrupted (started, not finished), and the menu."""
    step = curriculum.step_by_id(tracker.get_slot("active_step"))
    if step is None or step.id in (tracker.get_slot("steps_done") or []):
        return []
    return [coaching_menu.start_button(step, "safety.checkin_button_back"), coaching_menu.menu_button()]


class ActionCheckinOutcome(Action):
    """Yes: the sign is noted (a second one escalates). No or Not sure: escalate. Pending: wait."""

    def name(self) -> Text:
        return "action_checkin_outcome"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        answer = tracker.get_slot("feels_safe_with_partner")
        kinds = [tracker.get_slot("safety_kind") or "general"]
        events: List[EventType] = [SlotSet("feels_safe_with_partner", None)]
        if answer == answers.YES:
            _note_signs(tracker.sender_id, kinds)
            dispatcher.utter_message(text=curriculum.text("safety.checkin_safe"), buttons=_back_to_step(tracker))
            return events + [SlotSet("safety_level", "sign"), SlotSet("checkin_pending", False)]
        if answer in (answers.NO, answers.UNSURE):
            _note_signs(tracker.sender_id, kinds)
            key = "safety.checkin_not_safe" if answer == answers.NO else "safety.checkin_not_sure"
            dispatcher.utter_message(text=curriculum.text(key))
            dispatcher.utter_message(response="utter_escalate_violence")
            _flag(tracker.sender_id, "violence", "check_in", reopenable=True)
            dispatcher.utter_message(text=curriculum.text("safety.offer_support"), buttons=_support_button())
            return events + [
                SlotSet("violence_flag", True),
                SlotSet("safety_level", "replied"),
                SlotSet("checkin_pending", False),
            ]
        # Not answered twice: the steps with the partner wait for it.
        _note_signs(tracker.sender_id, kinds)
        dispatcher.utter_message(
            text=curriculum.text("safety.checkin_pending"),
            buttons=_support_button() + [coaching_menu.menu_button()],
        )
        return events + [SlotSet("safety_level", "sign"), SlotSet("checkin_pending", True)]


class ActionDeviceSafetyFollowup(Action):
    """After the privacy answer: a quiet sign that came with the question gets its check-in (or,
    after an earlier sign, the coercive-control reply). Inside a step or another form the form is
    left first, as for any quiet sign there (bot/safety/rules.py); inside the check-in itself the
    sign counts as a second one."""

    def name(self) -> Text:
        return "action_device_safety_followup"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        safety = _safety(tracker)
        # Another question in the same message ("how long does a step take? and is this private?"):
        # answered before the check-in, which ends the turn with its own question.
        more = answer_more_questions(dispatcher, tracker, domain)
        if safety.get("outcome") != "check_in":
            return more
        level = tracker.get_slot("safety_level")
        kinds = [k for k in safety.get("kinds") or [] if k]
        loop = (tracker.active_loop or {}).get("name")
        if level in ("flagged", "replied"):
            _note_signs(tracker.sender_id, kinds or ["general"])
            return more
        leave: List[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None)] if loop else []
        if level == "sign" or loop == "safety_checkin_form":
            dispatcher.utter_message(response="utter_escalate_control")
            _note_signs(tracker.sender_id, kinds or ["general"])
            _flag(tracker.sender_id, "violence", "signs", reopenable=False)
            dispatcher.utter_message(text=curriculum.text("safety.offer_support"), buttons=_support_button())
            done = [
                SlotSet("violence_flag", True),
                SlotSet("safety_level", "replied"),
                SlotSet("checkin_pending", False),
            ]
            # Inside a form the rule would ask the form's question next: listen instead.
            return more + leave + done + ([FollowupAction("action_listen")] if loop else [])
        dispatcher.utter_message(response="utter_check_in_named")
        return more + leave + [FollowupAction("safety_checkin_form")]


class ActionRespondToDenial(Action):
    """ "I'm fine", "it was a joke": the flag stays. Why, said once and kindly; then a short line."""

    def name(self) -> Text:
        return "action_respond_to_denial"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if tracker.get_slot("denial_explained"):
            dispatcher.utter_message(text=curriculum.text("safety.denial_again"), buttons=_support_button())
            return []
        dispatcher.utter_message(text=curriculum.text("safety.denial_first"))
        dispatcher.utter_message(response="utter_hotline_reminder")
        return [SlotSet("denial_explained", True)]


def _reopenable(tracker: Tracker) -> Optional[bool]:
    """None: not flagged; else whether a clear, checked statement may reopen the partner steps."""
    profile = common.load_profile(tracker)
    flagged = bool(tracker.get_slot("violence_flag")) or bool(profile and profile.flagged)
    if not flagged:
        return None
    if profile is None or not profile.flagged:
        # Flagged in this conversation only (store down, or nothing written yet): allow the check.
        return True
    return profile.flag_reopenable


class ActionReconsiderFlag(Action):
    """A clear "that was a misunderstanding": explain why the steps closed, then two questions."""

    def name(self) -> Text:
        return "action_reconsider_flag"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        reopenable = _reopenable(tracker)
        if reopenable is None:
            if tracker.get_slot("checkin_pending"):
                dispatcher.utter_message(text=curriculum.text("safety.reconsider_not_flagged"))
                return [SlotSet("checkin_pending", False)]
            dispatcher.utter_message(text=curriculum.text("safety.reconsider_not_flagged"))
            return []
        if not reopenable:
            dispatcher.utter_message(text=curriculum.text("safety.reconsider_locked"), buttons=_support_button())
            return []
        dispatcher.utter_message(text=curriculum.text("safety.reconsider_explain"))
        return [SlotSet("reopen_harm", None), SlotSet("reopen_safe", None), FollowupAction("reopen_form")]


class ValidateReopenForm(FormValidationAction):
    """Two plain questions; a Yes to the first ends it (nothing to reopen)."""

    def name(self) -> Text:
        return "validate_reopen_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        if tracker.get_slot("reopen_harm") in (answers.YES, answers.UNSURE):
            return ["reopen_harm"]
        return list(domain_slots)

    def _answer(
        self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, feels_safe: bool = False
    ) -> Dict[Text, Any]:
        read = answers.read_feels_safe if feels_safe else answers.read
        answer = read(common.latest_intent(tracker), value)
        if answer is None:
            dispatcher.utter_message(text=curriculum.text("safety.reopen_unclear"))
        return {slot: answer}

    def validate_reopen_harm(self, value, dispatcher, tracker, domain):
        return self._answer("reopen_harm", value, dispatcher, tracker)

    def validate_reopen_safe(self, value, dispatcher, tracker, domain):
        return self._answer("reopen_safe", value, dispatcher, tracker, feels_safe=True)


class ActionReopenOutcome(Action):
    """No harm in the last year and feels safe: reopen. Anything else: keep, kindly."""

    def name(self) -> Text:
        return "action_reopen_outcome"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        harm = tracker.get_slot("reopen_harm")
        safe = tracker.get_slot("reopen_safe")
        events: List[EventType] = [SlotSet("reopen_harm", None), SlotSet("reopen_safe", None)]
        if harm == answers.NO and safe == answers.YES:
            try:
                reopened = common.store().unflag(tracker.sender_id)
            except STORE_ERRORS:
                logger.error("progress store unavailable while reopening the partner steps")
                dispatcher.utter_message(text=curriculum.text("system.action_failed"))
                return events
            profile = common.load_profile(tracker)
            if profile is not None and profile.flagged and not reopened:
                dispatcher.utter_message(text=curriculum.text("safety.reconsider_locked"), buttons=_support_button())
                return events
            dispatcher.utter_message(text=curriculum.text("safety.reopen_done"))
            text, buttons = coaching_menu.menu(
                common.done_steps(tracker, profile), profile.in_progress if profile else [], False
            )
            dispatcher.utter_message(text=text, buttons=buttons)
            return events + [
                SlotSet("violence_flag", False),
                SlotSet("safety_level", "sign"),
                SlotSet("checkin_pending", False),
            ]
        dispatcher.utter_message(text=curriculum.text("safety.reopen_kept"), buttons=_support_button())
        return events
