"""Resume codes: coming back from a new tab or device (the web widget keeps its conversation in the
tab only; Telegram and Slack know the person by their account and need no code).

- A code is four short words joined by hyphens ("maple-river-cloud-tiger"), drawn at random
  (`secrets`) from bot/progress/resume_words.txt (1024 neutral words: 40 bits). It is shown when the
  person agrees to keep their progress and whenever they ask ("how do I come back later?"); showing
  it again makes a new code, since only a hash is kept.
- Stored only as a hash: scrypt with the installation's secret RESUME_CODE_SECRET as salt (a fixed
  development value when it is unset, with a warning), so a copy of the database does not give the
  codes away cheaply. The tracker store replaces codes in the stored conversation (bot/stores.py).
- Typed alone as a message in a new conversation (ResumeCodeMatcher gives it the intent
  `enter_resume_code`), it moves the stored progress to this conversation and deletes the earlier
  conversation's messages.
- Guesses are limited: RESUME_MAX_FAILED_PER_CONVERSATION wrong codes in one conversation
  (default 5) and RESUME_MAX_FAILED_PER_HOUR wrong codes from everyone in the last hour (default 100),
  after which codes are not checked for a while. At 100 guesses an hour, finding one code among a
  million people takes over a hundred years on average.
- "Forget my code" revokes it; "delete my data" and retention delete it with everything else.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import common
from bot.actions.common import STORE_ERRORS
from bot.coaching import curriculum
from bot.progress import retention
from bot.progress.codes import code_hash, new_code, normalise

logger = logging.getLogger(__name__)

# Channels that know the person by their account: no code needed.
ACCOUNT_CHANNELS = {"telegram", "slack"}


def _limit(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


def max_failed_per_conversation() -> int:
    return _limit("RESUME_MAX_FAILED_PER_CONVERSATION", 5)


def max_failed_per_hour() -> int:
    return _limit("RESUME_MAX_FAILED_PER_HOUR", 100)


def needs_code(tracker: Tracker) -> bool:
    """Codes are for the web widget (and REST clients); account-based channels need none."""
    return (tracker.get_latest_input_channel() or "") not in ACCOUNT_CHANNELS


def issue_and_show(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Make a new code for this consenting person and show it; False when it could not be stored."""
    code = new_code()
    try:
        stored = common.store().set_resume_code(tracker.sender_id, code_hash(code))
    except STORE_ERRORS:
        logger.exception("progress store unavailable while making a resume code")
        stored = False
    if not stored:
        return False
    dispatcher.utter_message(
        text=curriculum.text("resume.code", code=code),
        buttons=[{"title": curriculum.text("resume.button_forget"), "payload": "/forget_resume_code"}],
    )
    return True


class ActionShowResumeCode(Action):
    """ "How do I come back later?": a new code when progress is kept, else what keeping it means."""

    def name(self) -> Text:
        return "action_show_resume_code"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if not needs_code(tracker):
            dispatcher.utter_message(text=curriculum.text("resume.account_channel"))
            return []
        if not common.consented(tracker):
            dispatcher.utter_message(
                text=curriculum.text("resume.no_consent", hours=retention.no_consent_hours()),
                buttons=[{"title": curriculum.text("resume.button_keep"), "payload": "/give_storage_consent"}],
            )
            return []
        if not tracker.get_slot("onboarded"):
            # Progress is written at the end of the first questions; the code comes with it.
            dispatcher.utter_message(text=curriculum.text("resume.after_questions"))
            return []
        if not issue_and_show(dispatcher, tracker):
            dispatcher.utter_message(text=curriculum.text("resume.failed"))
        return []


class ActionForgetResumeCode(Action):
    def name(self) -> Text:
        return "action_forget_resume_code"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        try:
            forgot = common.store().forget_resume_code(tracker.sender_id)
        except STORE_ERRORS:
            logger.exception("progress store unavailable while forgetting a resume code")
            dispatcher.utter_message(text=curriculum.text("resume.failed"))
            return []
        dispatcher.utter_message(text=curriculum.text("resume.forgotten" if forgot else "resume.none_to_forget"))
        return []


class ActionResumeWithCode(Action):
    """A code typed alone: continue where that person left off, within the guessing limits."""

    def name(self) -> Text:
        return "action_resume_with_code"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        code = normalise(tracker.latest_message.get("text") or "")
        # In the first questions, a code that does not work leaves them where they were.
        again: List[EventType] = [FollowupAction(tracker.active_loop_name)] if tracker.active_loop_name else []
        if code is None:
            dispatcher.utter_message(text=curriculum.text("resume.not_a_code"))
            return again
        store = common.store()
        try:
            hour_ago = dt.datetime.utcnow() - dt.timedelta(hours=1)
            if (
                store.failed_resume_attempts(sender_id=tracker.sender_id) >= max_failed_per_conversation()
                or store.failed_resume_attempts(since=hour_ago) >= max_failed_per_hour()
            ):
                logger.warning("a resume code was not checked: too many wrong codes")
                dispatcher.utter_message(text=curriculum.text("resume.too_many"))
                return again
            previous = store.resume(tracker.sender_id, code_hash(code))
            if previous is None:
                store.note_failed_resume_attempt(tracker.sender_id)
                dispatcher.utter_message(text=curriculum.text("resume.unknown"))
                return again
            profile = store.profile(tracker.sender_id)
        except STORE_ERRORS:
            logger.exception("progress store unavailable while resuming with a code")
            dispatcher.utter_message(text=curriculum.text("resume.failed"))
            return again
        done = len(profile.done)
        steps = f"{done} step" if done == 1 else f"{done} steps"
        dispatcher.utter_message(
            text=curriculum.text("resume.welcome_back", steps=steps),
            buttons=[
                {"title": curriculum.text("menu.button_next"), "payload": "/what_next"},
                {"title": curriculum.text("step.button_menu"), "payload": "/show_menu"},
                {"title": curriculum.text("resume.button_progress"), "payload": "/ask_progress"},
            ],
        )
        events: List[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None)]
        if previous != tracker.sender_id:
            # The earlier conversation's messages are deleted by the tracker store (bot/stores.py).
            events.append(SlotSet(retention.ERASE_OTHER_SLOT, previous))
        events += common.restored_slots(profile)
        return events
