"""Coaching: the menu, "what's next", the steps (explain, reflect, save, offer the next), progress."""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import common
from bot.actions.common import SKIP_SENTINEL, STORE_ERRORS
from bot.coaching import curriculum
from bot.coaching import menu as coaching_menu
from bot.content import practice
from bot.progress.store import Profile
from bot.rehearsal import partner as practice_run
from bot.safety import answers

logger = logging.getLogger(__name__)

# Short commands that leave a step's question instead of being taken as the answer.
LEAVE_INTENTS = {"skip", "show_menu", "what_next", "ask_progress", "goodbye"}
SAVE_BUTTONS = [{"title": "Yes, save it", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
MAX_COMMAND_WORDS = 4
MIN_ANSWER_CHARS = 3
NOT_READY = SlotSet("step_ready", False)
BUDGET_STEP = "budget"


def budget_estimate(flagged: bool) -> List[str]:
    """The practice's rates, the typical length and the questions for an insurer, said to be estimates."""
    p = practice.load()
    if flagged:
        total = p.rates["individual_session"] * p.typical_sessions
        estimate = curriculum.text(
            "budget.individual",
            name=p.name,
            session=p.money(p.rates["individual_session"]),
            sessions=p.typical_sessions,
            total=p.money(total),
        )
    else:
        total = p.rates["consultation"] + p.rates["couples_session"] * p.typical_sessions
        estimate = curriculum.text(
            "budget.couples",
            name=p.name,
            consultation=p.money(p.rates["consultation"]),
            session=p.money(p.rates["couples_session"]),
            sessions=p.typical_sessions,
            total=p.money(total),
        )
    questions = "\n".join(f"- {q}" for q in p.insurer_questions)
    return [
        f"{estimate} {curriculum.text('budget.estimate_only')}",
        "\n".join([p.insurance_notes, curriculum.text("budget.insurer_questions"), questions]),
        curriculum.text("budget.contact", booking_link=p.booking_link, contact=p.contact),
    ]


def _needs_onboarding(tracker: Tracker) -> bool:
    return not tracker.get_slot("onboarded") and not tracker.get_slot("violence_flag")


def _onboard_first(dispatcher: CollectingDispatcher, tracker: Optional[Tracker] = None) -> List[EventType]:
    """The introduction (with one useful sentence for what was asked), then onboarding."""
    from bot.actions.onboarding import FIRST_HELP

    key = FIRST_HELP.get(common.latest_intent(tracker) or "") if tracker is not None else None
    if key:
        dispatcher.utter_message(text=curriculum.text(f"onboarding.first_help.{key}"))
    dispatcher.utter_message(response="utter_intro")
    return [FollowupAction("onboarding_form")]


class ActionShowMenu(Action):
    def name(self) -> Text:
        return "action_show_menu"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if _needs_onboarding(tracker):
            return _onboard_first(dispatcher, tracker)
        common.send_menu(dispatcher, tracker, common.load_profile(tracker), common.requested_group(tracker))
        return []


def _offer(dispatcher: CollectingDispatcher, step: curriculum.Step, text: str) -> None:
    dispatcher.utter_message(
        text=text,
        buttons=[coaching_menu.start_button(step), coaching_menu.menu_button()],
    )


class ActionWhatNext(Action):
    def name(self) -> Text:
        return "action_what_next"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if _needs_onboarding(tracker):
            return _onboard_first(dispatcher, tracker)
        profile = common.load_profile(tracker)
        flagged = common.is_flagged(tracker, profile)
        step = curriculum.next_step(
            common.done_steps(tracker, profile), flagged, tracker.get_slot("path"), tracker.get_slot("last_objection")
        )
        if step is not None:
            _offer(dispatcher, step, curriculum.text("what_next.recommend", title=step.title, summary=step.summary))
        elif flagged:
            dispatcher.utter_message(text=curriculum.text("what_next.flagged_all_done"))
            dispatcher.utter_message(response="utter_individual_support")
        else:
            dispatcher.utter_message(text=curriculum.text("what_next.all_done"))
            common.send_menu(dispatcher, tracker, profile)
        return []


def _requested_step(tracker: Tracker) -> Optional[str]:
    return common.latest_entity(tracker, "step") or tracker.get_slot("step")


class ActionStartStep(Action):
    """Explain a step and open its reflective question (the reflection form)."""

    def name(self) -> Text:
        return "action_start_step"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if _needs_onboarding(tracker):
            return [NOT_READY] + _onboard_first(dispatcher, tracker)
        profile = common.load_profile(tracker)
        step = curriculum.step_by_id(_requested_step(tracker))
        if step is None:
            dispatcher.utter_message(text=curriculum.text("step.unknown"))
            common.send_menu(dispatcher, tracker, profile)
            return [NOT_READY]
        if not step.open_for(common.is_flagged(tracker, profile)):
            # Nobody in danger is coached to invite the partner: not now, not in later sessions.
            dispatcher.utter_message(text=curriculum.text("step.closed_for_safety"))
            dispatcher.utter_message(response="utter_individual_support")
            return [NOT_READY]
        if tracker.get_slot("checkin_pending") and not step.open_for(True):
            # A check-in about a quiet sign is still unanswered: the partner steps wait for it.
            dispatcher.utter_message(text=curriculum.text("step.waits_for_checkin"))
            return [NOT_READY, FollowupAction("safety_checkin_form")]
        if step.status == curriculum.STATUS_SCREEN:
            dispatcher.utter_message(text=curriculum.text("step.screen", explain=" ".join(step.explain)))
            return [NOT_READY]
        if not step.available:
            dispatcher.utter_message(text=curriculum.text("step.coming_soon", title=step.title, summary=step.summary))
            common.send_menu(dispatcher, tracker, profile)
            return [NOT_READY]
        # Why, then what to do: short messages in order, then the question (the reflection form).
        for number, message in enumerate(step.explain):
            dispatcher.utter_message(text=f"{step.title}\n{message}" if number == 0 else message)
        if step.id == BUDGET_STEP:
            for message in budget_estimate(common.is_flagged(tracker, profile)):
                dispatcher.utter_message(text=message)
        if common.consented(tracker):
            try:
                common.store().start_step(tracker.sender_id, step.id)
            except STORE_ERRORS:
                logger.exception("progress store unavailable while starting a step")
        # The rules open the reflection form on step_ready (bot/data/rules/coaching.yml).
        return [SlotSet("active_step", step.id), SlotSet("reflection_answer", None), SlotSet("step_ready", True)]


class ActionAskReflectionAnswer(Action):
    """The reflection form's question: the active step's reflective question."""

    def name(self) -> Text:
        return "action_ask_reflection_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        step = curriculum.step_by_id(tracker.get_slot("active_step"))
        question = curriculum.variant(step.question, tracker.sender_id, step.id) if step else ""
        dispatcher.utter_message(
            text=question or curriculum.text("step.unknown"),
            buttons=[{"title": curriculum.text("step.button_skip"), "payload": "/skip"}],
        )
        return []


# Inside a step: requests answered there, then the step's question again (nothing is saved).
ANSWERED_IN_STEP = {
    "ask_help",
    "bot_challenge",
    "greet",
    "thank",
    "out_of_scope",
    "start_practice",
    "ask_why_no_couples_therapy",
}
# "Where was I?" and the like: said where they are, then the question again.
WHERE_AM_I = {"what_next", "ask_progress", "describe_situation"}
_WHERE_WAS_I = re.compile(
    r"\b(where (was i|were we|are we|am i)|what was the question|lost track|got (distracted|interrupted))\b", re.I
)
# A line to the partner the user drafted and asks about ("can we just try one session? is that ok?").
_ASKS_ABOUT_A_LINE = re.compile(
    r"\b(is (that|this) (ok|okay|good|alright|fine|a good way)|how does (that|this) sound|"
    r"would (that|this) work|what do you think|could i say|can i say|should i say|"
    r"is it ok to say|good way to say)\b",
    re.I,
)


class ValidateReflectionForm(FormValidationAction):
    """A step's answer. Only what reads as an answer is saved: a question or request typed inside a
    step is answered (or handled) and the step's question asked again; a drafted line to the
    partner gets the practice analyzer's feedback; when unsure, the bot asks before saving."""

    def name(self) -> Text:
        return "validate_reflection_form"

    def validate_reflection_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = common.clean_text(value)
        intent = common.latest_intent(tracker)
        pending = tracker.get_slot("reflection_pending")
        step = curriculum.step_by_id(tracker.get_slot("active_step"))
        if pending:
            # "Shall I save that as your answer?"
            answer = answers.read(intent, value)
            if answer == answers.YES:
                return {"reflection_answer": pending, "reflection_pending": None}
            if answer == answers.NO:
                dispatcher.utter_message(text=curriculum.text("step.not_saved_then"))
                return {"reflection_answer": None, "reflection_pending": None}
            # Something else: read it as a new message below.
        if _WHERE_WAS_I.search(text):
            dispatcher.utter_message(text=curriculum.text("step.where_you_are", title=step.title if step else ""))
            return {"reflection_answer": None, "reflection_pending": None}
        if intent in LEAVE_INTENTS and (len(text.split()) <= MAX_COMMAND_WORDS or text.startswith("/")):
            return {"reflection_answer": SKIP_SENTINEL, "reflection_pending": None}
        if len(text.replace(" ", "")) < MIN_ANSWER_CHARS or text.startswith("/"):
            question = curriculum.variant(step.question, tracker.sender_id, step.id) if step else ""
            dispatcher.utter_message(text=curriculum.text("step.too_short", question=question))
            return {"reflection_answer": None, "reflection_pending": None}
        confident = (tracker.latest_message.get("intent") or {}).get("confidence", 0.0) >= 0.6
        if _ASKS_ABOUT_A_LINE.search(text):
            self._feedback_on_a_line(dispatcher, text)
            dispatcher.utter_message(text=curriculum.text("step.save_question"), buttons=SAVE_BUTTONS)
            return {"reflection_answer": None, "reflection_pending": text}
        if confident and intent in WHERE_AM_I and text.rstrip().endswith("?"):
            dispatcher.utter_message(text=curriculum.text("step.where_you_are", title=step.title if step else ""))
            return {"reflection_answer": None, "reflection_pending": None}
        if confident and intent in ANSWERED_IN_STEP:
            self._answer_request(dispatcher, intent)
            return {"reflection_answer": None, "reflection_pending": None}
        if (text.rstrip().endswith("?") and len(text.split()) <= 25) or (
            "?" in text and tracker.latest_message.get("question_parts") and len(text.split()) <= 40
        ):
            # A question is rarely an answer, nor a message that asks something on the way ("wait
            # how long does this take?? and is this private"): ask before saving it.
            dispatcher.utter_message(text=curriculum.text("step.save_question"), buttons=SAVE_BUTTONS)
            return {"reflection_answer": None, "reflection_pending": text}
        return {"reflection_answer": text, "reflection_pending": None}

    @staticmethod
    def _answer_request(dispatcher: CollectingDispatcher, intent: str) -> None:
        if intent == "ask_help":
            dispatcher.utter_message(response="utter_help")
        elif intent == "bot_challenge":
            dispatcher.utter_message(response="utter_iamabot")
        elif intent == "start_practice":
            dispatcher.utter_message(text=curriculum.text("step.practice_after"))
        elif intent == "ask_why_no_couples_therapy":
            dispatcher.utter_message(response="utter_why_we_screen")
        else:
            dispatcher.utter_message(text=curriculum.text("step.back_to_question"))

    @staticmethod
    def _feedback_on_a_line(dispatcher: CollectingDispatcher, text: str) -> None:
        """The practice analyzer on a drafted line: what works, and a better line for a pitfall."""
        from bot.rehearsal import analyzer as invitation

        analysis = invitation.analyze(text)
        run = content_practice_run()
        lines = []
        for technique in analysis.techniques:
            label = run["techniques"].get(technique, {}).get("label")
            if label:
                lines.append(curriculum.text("step.line_works", label=label))
        for pitfall in analysis.pitfalls:
            entry = run["pitfalls"].get(pitfall, {})
            if entry:
                lines.append(
                    curriculum.text(
                        "step.line_pitfall",
                        label=entry["label"],
                        tip=entry["rewrite_tip"],
                        example=entry["example_rewrite"],
                    )
                )
        if not lines:
            lines.append(curriculum.text("step.line_neutral"))
        dispatcher.utter_message(text="\n".join(lines))


class ActionSaveReflection(Action):
    """Store the answer, mark the step done and offer the next step."""

    def name(self) -> Text:
        return "action_save_reflection"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        step = curriculum.step_by_id(tracker.get_slot("active_step"))
        answer = tracker.get_slot("reflection_answer")
        reset = [SlotSet("reflection_answer", None), SlotSet("active_step", None), NOT_READY]
        if step is None:
            return reset
        if answer == SKIP_SENTINEL or not answer:
            dispatcher.utter_message(text=curriculum.text("step.skipped", title=step.title))
            common.send_menu(dispatcher, tracker, common.load_profile(tracker))
            return reset
        acknowledge = curriculum.variant(step.acknowledge, tracker.sender_id, step.id)
        saved: Optional[bool] = None
        if common.consented(tracker):
            saved = self._save(tracker.sender_id, step.id, answer)
            key = "saved" if saved else "save_failed"
        else:
            key = "not_saved_no_consent"
        dispatcher.utter_message(text=curriculum.text(f"step.{key}", acknowledge=acknowledge, title=step.title))
        done = list(tracker.get_slot("steps_done") or [])
        if saved is not False and step.id not in done:
            done.append(step.id)
        profile = common.load_profile(tracker)
        flagged = common.is_flagged(tracker, profile)
        following = curriculum.next_step(
            done + (profile.done if profile else []),
            flagged,
            tracker.get_slot("path"),
            tracker.get_slot("last_objection"),
        )
        if following is not None:
            _offer(dispatcher, following, curriculum.text("step.offer_next", title=following.title))
        else:
            common.send_menu(dispatcher, tracker, profile)
        return reset + [SlotSet("steps_done", done)]

    @staticmethod
    def _save(sender_id: str, step_id: str, answer: str) -> bool:
        """The store retries once; never lose an answer silently (the caller tells the user on False).
        The error is logged by type only: its text would carry the answer (SQL parameters)."""
        try:
            return common.store().complete_step(sender_id, step_id, answer)
        except STORE_ERRORS as error:
            logger.error("saving a reflection failed twice (%s): the user was told", type(error).__name__)
        return False


class ActionShowProgress(Action):
    def name(self) -> Text:
        return "action_show_progress"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        profile = common.load_profile(tracker)
        dispatcher.utter_message(text=progress_text(tracker, profile))
        return []


def progress_text(tracker: Tracker, profile: Optional[Profile]) -> str:
    flagged = common.is_flagged(tracker, profile)
    stored = profile is not None and profile.known and profile.consent
    done = common.done_steps(tracker, profile)
    lines = [curriculum.text("progress.header")]
    if not common.consented(tracker):
        lines.append(curriculum.text("progress.no_storage"))
    group = None
    for step in curriculum.steps():
        if not step.open_for(flagged):
            continue
        if step.group != group:
            group = step.group
            lines.append(curriculum.text(f"menu.groups.{group}") + ":")
        state = profile.steps.get(step.id) if stored else None
        if step.status == curriculum.STATUS_SCREEN:
            mark, status = (
                "[x]",
                curriculum.text("menu.status_screen_done")
                if tracker.get_slot("onboarded")
                else curriculum.text("menu.status_not_started"),
            )
            if not tracker.get_slot("onboarded"):
                mark = "[ ]"
        elif step.id in done:
            when = common.short_date(state.completed_at) if state else ""
            mark, status = "[x]", curriculum.text("menu.status_done") + (f" {when}" if when else "")
        elif state is not None:
            mark, status = (
                "[~]",
                curriculum.text("menu.status_in_progress") + f" (started {common.short_date(state.started_at)})",
            )
        elif step.status == curriculum.STATUS_COMING_SOON:
            mark, status = "[ ]", curriculum.text("menu.status_coming_soon")
        else:
            mark, status = "[ ]", curriculum.text("menu.status_not_started")
        lines.append(f"{mark} {step.title}: {status}")
    if flagged:
        lines.append(curriculum.text("progress.flagged_note"))
    if stored and profile.practice_runs and not flagged:
        lines += ["", curriculum.text("practice.runs_header")]
        for run in profile.practice_runs:
            persona = practice_run.personas().get(run["persona"], {}).get("title", run["persona"])
            lines.append(
                f"- {common.short_date(run['created_at'])}, {persona}: "
                + curriculum.text(f"practice.outcomes.{run['outcome']}")
            )
    if stored and profile.answers:
        lines += ["", curriculum.text("progress.answers_header")]
        for answer in profile.answers:
            step = curriculum.step_by_id(answer["step_id"])
            lines.append(
                f"- {step.title if step else answer['step_id']} ({common.short_date(answer['created_at'])}): {answer['answer']}"
            )
    elif not done and not (stored and profile.practice_runs):
        lines.append(curriculum.text("progress.none_yet"))
    return "\n".join(lines)


class ActionStartOver(Action):
    """After the confirmation form: forget steps and answers (consent, country and the flag stay)."""

    def name(self) -> Text:
        return "action_start_over"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        reset_confirmation = SlotSet("start_over_confirmed", None)
        if tracker.get_slot("start_over_confirmed") is not True:
            dispatcher.utter_message(text=curriculum.text("start_over.kept"))
            return [reset_confirmation]
        try:
            common.store().reset_progress(tracker.sender_id)
        except STORE_ERRORS:
            logger.exception("progress store unavailable while starting over")
            dispatcher.utter_message(text=curriculum.text("start_over.failed"))
            return [reset_confirmation]
        dispatcher.utter_message(text=curriculum.text("start_over.done"))
        text, buttons = coaching_menu.menu([], [], common.is_flagged(tracker, common.load_profile(tracker)))
        dispatcher.utter_message(text=text, buttons=buttons)
        return [
            reset_confirmation,
            SlotSet("steps_done", []),
            SlotSet("active_step", None),
            SlotSet("reflection_answer", None),
            SlotSet("last_objection", None),
            SlotSet("path", None),
        ]


class ActionGoodNews(Action):
    """ "He agreed!", "she'll think about it": celebrate briefly, then the concrete next steps (the
    practice's booking link, choosing together, a test drive, evaluating progress). After a safety
    flag, the steps with the partner stay closed: support for the user first."""

    def name(self) -> Text:
        return "action_good_news"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        profile = common.load_profile(tracker)
        if common.is_flagged(tracker, profile):
            dispatcher.utter_message(
                text=curriculum.text("good_news.flagged"),
                buttons=[{"title": curriculum.text("menu.button_support"), "payload": "/ask_individual_support"}],
            )
            return []
        settings = practice.load()
        values = {"booking_link": settings.booking_link, "contact": settings.contact}
        kind = "agreed" if common.latest_intent(tracker) == "report_partner_agreed" else "softening"
        steps = curriculum.messages()["good_news"][f"{kind}_steps"]
        lines = [curriculum.text(f"good_news.{kind}")] + ["- " + line.format(**values) for line in steps]
        offers = ["choose_therapist", "evaluate_progress"] if kind == "agreed" else ["test_drive", "good_time"]
        buttons = [coaching_menu.start_button(curriculum.step_by_id(s)) for s in offers if curriculum.step_by_id(s)]
        buttons.append(coaching_menu.menu_button())
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
        return []


def content_practice_run() -> Dict[str, Any]:
    """The practice run's techniques and pitfalls (bot/rehearsal/practice_run.yml)."""
    return practice_run.data()
