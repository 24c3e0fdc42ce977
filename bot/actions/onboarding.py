"""Onboarding: session start, the consent / safe-to-talk / country / screening form, its outcome,
welcome back, and the settings a user can change later (country, storage consent)."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecuted, EventType, Restarted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import common
from bot.actions.common import STORE_ERRORS, parse_region, parse_yes_no
from bot.coaching import curriculum
from bot.coaching import menu as coaching_menu
from bot.safety import answers, hotlines

logger = logging.getLogger(__name__)

CONSENT_SLOTS = ["consent_storage", "safe_to_talk", "region"]
# Screening items (HARK and PVS, see shared/safety.md), with the answer that is positive.
SCREEN_SLOTS = {
    "screen_humiliated": True,
    "screen_afraid": True,
    "screen_forced": True,
    "screen_hurt": True,
    "screen_feels_safe": False,
    "screen_ex_unsafe": True,
}
# Items about a partner or ex: a confirmed Yes asks whether it was the current partner or someone
# before (only the current one closes the partner steps; someone before gets support, no lock).
WHO_ITEMS = ("screen_humiliated", "screen_afraid", "screen_forced", "screen_hurt")
# Slot values besides True and False: about someone before only, or unsure after a follow-up.
PAST = "past"
UNSURE = "unsure"
# The screen asked at once: "None of these" answers every item; otherwise they come one by one.
NONE_OF_THESE = "none"
ONE_BY_ONE = "one_by_one"
_NONE_WORDS = (
    "none",
    "none of these",
    "none of them",
    "none of those",
    "no none",
    "nope none",
    "neither",
    "nothing",
    "no",
    "nope",
    "nah",
    "n",
    "no to all",
    "no to all of them",
    "all no",
    "not at all",
    "none of that",
    "no none of these",
    "none of the above",
)


def read_screen_all(intent: Optional[str], value: Any) -> str:
    """ "None of these" (every item answered safe), or one by one for anything else: a yes, a
    "not sure", a story. Only a clear none counts for all six."""
    words = " ".join(common.clean_text(value).lower().replace("'", "").split()).strip(" .!?,")
    if intent == "deny" and str(value or "").startswith("/"):
        return NONE_OF_THESE
    if words in _NONE_WORDS or words.startswith(("none of these", "none of them", "none of those")):
        return NONE_OF_THESE
    return ONE_BY_ONE


def screen_positive(slots: Dict[str, Any]) -> bool:
    """A confirmed positive answer about the current partner: closes the partner steps."""
    return any(slots.get(name) is positive for name, positive in SCREEN_SLOTS.items() if name != "screen_ex_unsafe")


def screen_past_partner(slots: Dict[str, Any]) -> bool:
    return any(slots.get(name) == PAST for name in SCREEN_SLOTS)


def screen_unsure(slots: Dict[str, Any]) -> bool:
    return any(slots.get(name) == UNSURE for name in SCREEN_SLOTS)


def read_who(text: Any) -> Optional[str]:
    """current, past, both, mistake or None: the answer to "your current partner or someone before?"."""
    words = common.clean_text(text).lower()
    if any(w in words for w in ("mistake", "by accident", "wrong button", "didn't mean", "didnt mean", "misclick")):
        return "mistake"
    if "both" in words:
        return "both"
    past = any(w in words for w in ("before", "past", "previous", "former", "an ex", "my ex", "ex ", "old partner"))
    past = past or words in ("ex", "my ex", "an ex")
    current = any(
        w in words
        for w in (
            "current",
            "now",
            "my husband",
            "my wife",
            "my partner",
            "my boyfriend",
            "my girlfriend",
            "my fiance",
            "my fiancé",
            "present",
        )
    )
    if past and current:
        return "both"
    if past:
        return PAST
    if current:
        return "current"
    return None


class ActionSessionStart(Action):
    """Start a session: carry the slots over and restore what the progress store remembers."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        events: List[EventType] = [SessionStarted()]
        carried = {k: v for k, v in tracker.current_slot_values().items() if v is not None and k != "requested_slot"}
        if carried.get("safety_level") == "replied":
            # A new session: the full safety reply is no longer on the screen, so it is shown again.
            carried["safety_level"] = "flagged" if carried.get("violence_flag") else "sign"
        events += [SlotSet(k, v) for k, v in carried.items()]
        events += common.restored_slots(common.load_profile(tracker), carried.get("steps_done"))
        events.append(ActionExecuted("action_listen"))
        return events


class ActionRestart(Action):
    """ "/restart" typed in the chat: a fresh conversation, never a way around safety.

    Replaces Rasa's default action of the same name, which clears every slot, the violence flag
    included, and sends nothing. Here the user is told, and what the store keeps comes back at
    once (with the flag even when the store could not be reached: it is in the conversation).
    """

    def name(self) -> Text:
        return "action_restart"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        flagged = bool(tracker.get_slot("violence_flag"))
        profile = common.load_profile(tracker)
        events: List[EventType] = [Restarted()] + common.restored_slots(profile)
        if flagged and not (profile and profile.flagged):
            events.append(SlotSet("violence_flag", True))
        dispatcher.utter_message(text=curriculum.text("system.restarted"))
        return events


class ValidateOnboardingForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_onboarding_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        if tracker.get_slot("safe_to_talk") is False:
            return ["consent_storage", "safe_to_talk"]
        if tracker.get_slot("violence_flag"):
            # A disclosure already said what the screen asks: don't make them answer it again.
            return list(CONSENT_SLOTS)
        required = list(CONSENT_SLOTS) + ["screen_all"]
        if tracker.get_slot("screen_all") == NONE_OF_THESE:
            return required  # all six answered at once
        for name, positive in SCREEN_SLOTS.items():
            required.append(name)
            if tracker.get_slot(name) is positive:
                break  # one positive answer is enough: stop asking
        return required

    def _yes_no(self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
        answer = answers.read(common.latest_intent(tracker), value)
        if answer is None or answer == answers.UNSURE:
            answer = parse_yes_no(tracker, value)
            answer = None if answer is None else (answers.YES if answer else answers.NO)
        if answer is None:
            dispatcher.utter_message(text=curriculum.text("onboarding.unclear_yes_no"))
            return {slot: None}
        return {slot: answer == answers.YES}

    def validate_screen_all(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        choice = read_screen_all(common.latest_intent(tracker), value)
        if choice == NONE_OF_THESE:
            # All six at once: nothing happened, and the current relationship feels safe.
            return {"screen_all": NONE_OF_THESE, **{name: not positive for name, positive in SCREEN_SLOTS.items()}}
        return {"screen_all": ONE_BY_ONE}

    def validate_consent_storage(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        # "don't save anything" / "yes keep my progress" answer the question too.
        intent = common.latest_intent(tracker)
        words = common.clean_text(value).lower().strip(" .!?")
        if intent in ("give_storage_consent", "withdraw_storage_consent"):
            result = {"consent_storage": intent == "give_storage_consent"}
        elif intent == "skip" or words in ("skip", "later", "not now", "maybe later", "decide later", "pass"):
            # Not deciding now: nothing is stored until they say so ("keep my progress" works any time).
            result = {"consent_storage": False}
        else:
            result = self._yes_no("consent_storage", value, dispatcher, tracker)
        if result["consent_storage"] is not None:
            key = "consent_yes" if result["consent_storage"] else "consent_no"
            dispatcher.utter_message(text=curriculum.text(f"onboarding.{key}", hours=_no_consent_hours()))
        return result

    def validate_safe_to_talk(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        words = common.clean_text(value).lower()
        if any(
            w in words
            for w in (
                "private enough",
                "i'm private",
                "im private",
                "i am private",
                "i'm alone",
                "im alone",
                "i am alone",
                "nobody's here",
                "nobody is here",
                "no one is here",
                "i can talk",
                "safe to talk",
            )
        ) and not any(n in words for n in ("not ", "n't", "nt ")):
            return {"safe_to_talk": True}
        if common.latest_intent(tracker) == "partner_nearby" or any(
            w in words for w in ("later", "not now", "not right now", "not private", "can't talk", "cant talk")
        ):
            return {"safe_to_talk": False}
        return self._yes_no("safe_to_talk", value, dispatcher, tracker)

    def validate_region(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        region = parse_region(tracker, value)
        if region is None:
            dispatcher.utter_message(text=curriculum.text("onboarding.unclear_region"))
        return {"region": region}

    def _screen(self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
        """A screening answer. Only a clear one counts: an unclear one gets one gentle follow-up
        (then "unsure", noted, no lock); a Yes that would close the partner steps is checked once,
        which also tells a past partner (support, no lock) from the current one."""
        followup = tracker.get_slot("screen_followup") or {}
        stage = followup.get("stage") if followup.get("item") == slot else None
        intent = common.latest_intent(tracker)
        risk_value = SCREEN_SLOTS[slot]
        safe_value = not risk_value
        done = {"screen_followup": None}
        if stage == "who":
            who = read_who(value)
            if who is None and intent == "deny":
                who = "mistake"
            if who in ("current", "both"):
                return {slot: risk_value, **done}
            if who == PAST:
                return {slot: PAST, **done}
            if who == "mistake":
                return {slot: None, **done}  # the question again, as it was
            dispatcher.utter_message(response="utter_screen_who_unclear")
            return {slot: None}
        if stage == "confirm":
            answer = answers.read(intent, value)
            if answer == answers.YES:
                return {slot: PAST if slot == "screen_ex_unsafe" else risk_value, **done}
            if answer == answers.NO:
                return {slot: safe_value, **done}
            return {slot: UNSURE, **done}
        read = answers.read_feels_safe if slot == "screen_feels_safe" and stage is None else answers.read
        answer = read(intent, value)
        if stage == "unclear":
            if answer is None or answer == answers.UNSURE:
                return {slot: UNSURE, **done}
            # The follow-up asks about the risk itself ("are there times you don't feel safe?").
            risky = answer == answers.YES
        else:
            if answer is None:
                dispatcher.utter_message(text=curriculum.text("onboarding.unclear_yes_no"))
                return {slot: None}
            if answer == answers.UNSURE:
                dispatcher.utter_message(text=curriculum.text("safety.screen_unclear_note"))
                return {slot: None, "screen_followup": {"item": slot, "stage": "unclear"}}
            risky = (answer == answers.YES) == (risk_value is True)
        if not risky:
            return {slot: safe_value, **done}
        next_stage = "who" if slot in WHO_ITEMS else "confirm"
        return {slot: None, "screen_followup": {"item": slot, "stage": next_stage}}

    # One validator per screening item (rasa-sdk finds them by name).
    def validate_screen_humiliated(self, value, dispatcher, tracker, domain):
        return self._screen("screen_humiliated", value, dispatcher, tracker)

    def validate_screen_afraid(self, value, dispatcher, tracker, domain):
        return self._screen("screen_afraid", value, dispatcher, tracker)

    def validate_screen_forced(self, value, dispatcher, tracker, domain):
        return self._screen("screen_forced", value, dispatcher, tracker)

    def validate_screen_hurt(self, value, dispatcher, tracker, domain):
        return self._screen("screen_hurt", value, dispatcher, tracker)

    def validate_screen_feels_safe(self, value, dispatcher, tracker, domain):
        return self._screen("screen_feels_safe", value, dispatcher, tracker)

    def validate_screen_ex_unsafe(self, value, dispatcher, tracker, domain):
        return self._screen("screen_ex_unsafe", value, dispatcher, tracker)


def _no_consent_hours() -> int:
    """How long a conversation without consent to storing is kept (bot/progress/retention.py)."""
    from bot.progress import retention

    try:
        return retention.no_consent_hours()
    except SystemExit:
        return retention.DEFAULT_NO_CONSENT_HOURS


def _note_screen_concern(sender_id: str) -> None:
    try:
        common.store().note_sign(sender_id, "screen_unsure")
    except STORE_ERRORS:
        logger.exception("progress store unavailable while noting an unsure screening answer")


def _show_resume_code(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """On the web, a code to come back from a new tab or device (bot/actions/resume.py)."""
    from bot.actions import resume

    if resume.needs_code(tracker):
        resume.issue_and_show(dispatcher, tracker)


def _save_onboarding(sender_id: str, consent: bool, region: Optional[str], flagged: bool) -> None:
    """Write what onboarding decided; a failure is logged and the conversation goes on."""
    try:
        store = common.store()
        if flagged:
            store.flag(sender_id, tier="violence", source="screen", reopenable=True)
        store.set_consent(sender_id, consent)
        if consent:
            if region:
                store.set_region(sender_id, region)
            store.mark_onboarded(sender_id)
    except STORE_ERRORS:
        logger.exception("progress store unavailable at the end of onboarding")


class ActionOnboardingOutcome(Action):
    """After the form: pause (not safe to talk), escalate (positive screen) or open the menu."""

    def name(self) -> Text:
        return "action_onboarding_outcome"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        slots = tracker.current_slot_values()
        consent = slots.get("consent_storage") is True
        if slots.get("safe_to_talk") is False:
            dispatcher.utter_message(text=curriculum.text("onboarding.not_safe_now"))
            # Ask again next time; keep the consent choice.
            return [SlotSet("safe_to_talk", None), SlotSet("screen_all", None)] + [
                SlotSet(name, None) for name in SCREEN_SLOTS
            ]
        flagged = bool(slots.get("violence_flag")) or screen_positive(slots)
        region = slots.get("region")
        if region == "other":
            dispatcher.utter_message(text=curriculum.text("onboarding.region_other"))
        _save_onboarding(tracker.sender_id, consent, region, flagged)
        events: List[EventType] = [
            SlotSet("onboarded", True),
            SlotSet("screen_followup", None),
            SlotSet("screen_all", None),
        ]
        if screen_positive(slots):
            dispatcher.utter_message(response="utter_escalate_violence")
            events += [SlotSet("violence_flag", True), SlotSet("safety_level", "replied")]
        else:
            dispatcher.utter_message(text=curriculum.text("onboarding.negative_screen"))
            if consent and not flagged:
                _show_resume_code(dispatcher, tracker)
            if screen_past_partner(slots) and not flagged:
                # About someone before: support, and the steps with the current partner stay open.
                dispatcher.utter_message(text=curriculum.text("safety.screen_past_partner"))
                dispatcher.utter_message(response="utter_hotline_reminder")
            if screen_unsure(slots) and not flagged:
                # Not sure about safety: no lock, but noted; one quiet sign later escalates.
                dispatcher.utter_message(text=curriculum.text("safety.screen_concern"))
                _note_screen_concern(tracker.sender_id)
                events.append(SlotSet("safety_level", "sign"))
            request = slots.get("first_request")
            if not flagged and request in ("how_to_ask", "practice"):
                # What the first message asked, answered now that the screen is done.
                events.append(SlotSet("first_request", None))
                if request == "practice":
                    dispatcher.utter_message(
                        text=curriculum.text("onboarding.first_help_after.practice"),
                        buttons=[{"title": curriculum.text("practice.button_practice"), "payload": "/start_practice"}],
                    )
                    return events
                step = curriculum.step_by_id("invite_without_blame")
                dispatcher.utter_message(
                    text=curriculum.text("onboarding.first_help_after.how_to_ask", title=step.title),
                    buttons=[
                        coaching_menu.start_button(step),
                        {"title": curriculum.text("practice.button_practice"), "payload": "/start_practice"},
                    ],
                )
                return events
            objection = slots.get("last_objection")
            if not flagged and objection in curriculum.objections():
                # The partner's objection that came with the first message, answered now that
                # the screen is done (never before it, and never after a positive screen).
                dispatcher.utter_message(response=f"utter_objection_{objection}")
                return events
        profile = common.load_profile(tracker)
        text, buttons = coaching_menu.menu(
            common.done_steps(tracker, profile), profile.in_progress if profile else [], flagged
        )
        dispatcher.utter_message(text=text, buttons=buttons)
        return events


class ActionWelcomeBack(Action):
    """Greet an onboarded user with where they left off (also after a server restart)."""

    def name(self) -> Text:
        return "action_welcome_back"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        profile = common.load_profile(tracker)
        done = common.done_steps(tracker, profile)
        flagged = common.is_flagged(tracker, profile)
        in_progress = [s for s in (profile.in_progress if profile else []) if s not in done]
        current = curriculum.step_by_id(in_progress[-1]) if in_progress else None
        if current is not None and not current.open_for(flagged):
            current = None
        last = curriculum.step_by_id(done[-1]) if done else None
        following = curriculum.next_step(done, flagged, tracker.get_slot("path"), tracker.get_slot("last_objection"))
        if current is not None:
            text = curriculum.text("welcome_back.returning_in_progress", in_progress=current.title)
            resume = current
        elif last is not None:
            text = curriculum.text("welcome_back.returning_with_step", last_done=last.title)
            resume = following
        else:
            text = curriculum.text("welcome_back.returning_fresh")
            resume = following
        buttons = []
        if resume is not None:
            text += " " + curriculum.text("welcome_back.offer_continue", title=resume.title)
            buttons.append(coaching_menu.start_button(resume))
        buttons.append(coaching_menu.menu_button())
        if done or in_progress:
            buttons.append({"title": curriculum.text("welcome_back.button_start_over"), "payload": "/start_over"})
        if flagged:
            buttons.insert(0, {"title": curriculum.text("menu.button_support"), "payload": "/ask_individual_support"})
        dispatcher.utter_message(text=text, buttons=buttons)
        return []


class ActionSetRegion(Action):
    def name(self) -> Text:
        return "action_set_region"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        region = parse_region(tracker, tracker.latest_message.get("text"))
        if region is None:
            dispatcher.utter_message(response="utter_choose_region")
            return []
        if region == "other":
            dispatcher.utter_message(text=curriculum.text("onboarding.region_other"))
        else:
            dispatcher.utter_message(
                text=curriculum.text("onboarding.region_set", region_name=hotlines.region_name(region))
            )
        if common.consented(tracker):
            try:
                common.store().set_region(tracker.sender_id, region)
            except STORE_ERRORS:
                logger.exception("progress store unavailable while saving the region")
        return [SlotSet("region", region)]


class ActionSetConsent(Action):
    def name(self) -> Text:
        return "action_set_consent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        give = common.latest_intent(tracker) == "give_storage_consent"
        try:
            store = common.store()
            store.set_consent(tracker.sender_id, give)
            if give:
                if tracker.get_slot("region"):
                    store.set_region(tracker.sender_id, tracker.get_slot("region"))
                if tracker.get_slot("onboarded"):
                    store.mark_onboarded(tracker.sender_id)
        except STORE_ERRORS:
            logger.exception("progress store unavailable while changing consent")
            dispatcher.utter_message(
                text=curriculum.text("consent.given_failed" if give else "consent.withdrawn_failed")
            )
            # Not storing from now on holds even when deleting failed.
            return [] if give else [SlotSet("consent_storage", False)]
        dispatcher.utter_message(
            text=curriculum.text("consent.given" if give else "consent.withdrawn", hours=_no_consent_hours())
        )
        if give and tracker.get_slot("onboarded"):
            _show_resume_code(dispatcher, tracker)
        elif not give:
            try:
                common.store().forget_resume_code(tracker.sender_id)
            except STORE_ERRORS:
                logger.exception("progress store unavailable while forgetting a resume code")
        return [SlotSet("consent_storage", give)]


class AskScreenItem(Action, ABC):
    """Asks one screening item: its question (domain.yml utter_ask_<slot>), or the follow-up its
    answer called for (utter_ask_<slot>_unclear, utter_ask_screen_who, utter_ask_<slot>_confirm).
    The other form questions are plain utter_ask_<slot> responses, asked by Rasa's form itself."""

    @property
    @abstractmethod
    def slot(self) -> Text:
        """The screening slot this action asks for."""

    def name(self) -> Text:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        followup = tracker.get_slot("screen_followup") or {}
        response = f"utter_ask_{self.slot}"
        if followup.get("item") == self.slot:
            stage = followup.get("stage")
            if stage == "unclear":
                response = f"utter_ask_{self.slot}_unclear"
            elif stage == "who":
                response = "utter_ask_screen_who"
            elif stage == "confirm":
                response = f"utter_ask_{self.slot}_confirm"
        dispatcher.utter_message(response=response)
        return []


# One action per screening item (rasa-sdk registers every concrete Action subclass by its name).
for _slot in SCREEN_SLOTS:
    _cls_name = "Ask" + "".join(part.title() for part in _slot.split("_"))
    globals()[_cls_name] = type(_cls_name, (AskScreenItem,), {"slot": _slot})


# What a first message asked, for one useful sentence before the first question (messages.yml first_help).
FIRST_HELP = {
    "what_next": "how_to_ask",
    "ask_help": "how_to_ask",
    "start_step": "how_to_ask",
    "show_menu": "how_to_ask",
    "ask_going_alone": "how_to_ask",
    "start_practice": "practice",
}


class ActionIntro(Action):
    """The introduction before onboarding, with one useful sentence for what the first message asked
    ("just tell me how to ask him", "he says we can't afford it")."""

    def name(self) -> Text:
        return "action_intro"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        intent = common.latest_intent(tracker) or ""
        key = "objection" if intent.startswith("report_objection_") else FIRST_HELP.get(intent)
        if key:
            dispatcher.utter_message(text=curriculum.text(f"onboarding.first_help.{key}"))
        dispatcher.utter_message(response="utter_intro")
        return [SlotSet("first_request", key)] if key in ("how_to_ask", "practice") else []
