"""Privacy controls: "delete my data" (after the confirmation rule) and "export my data".

Deleting: every progress row in one transaction here, then the conversation itself: the action
sets the `erase_conversation` slot and the tracker store deletes the sender's events at the end of
the turn instead of saving them (bot/stores.py; deleting them here would not last, since Rasa saves
the turn's tracker after this action). The reply says what was deleted, in counts. The safety flag
goes too: someone who comes back starts from the beginning, with the safety questions again.

Exporting: a readable summary of everything stored: settings, the safety note (no details exist),
steps with dates, the answers in full, practice runs, and the conversation in counts with how long
it is kept. It is shown in the chat only (nothing is sent anywhere else).
"""

from __future__ import annotations

import logging
from typing import List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import common
from bot.actions.common import STORE_ERRORS
from bot.coaching import curriculum
from bot.progress import retention
from bot.progress.store import Profile, _engine

logger = logging.getLogger(__name__)


def _tracker_engine():
    return _engine(retention.tracker_url())


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


class ActionDeleteMyData(Action):
    def name(self) -> Text:
        return "action_delete_my_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        sender = tracker.sender_id
        try:
            conversation = retention.conversation_counts(sender, _tracker_engine())
            counts = retention.delete_person_progress(sender, common.store().engine)
        except STORE_ERRORS as error:
            logger.error("delete my data failed (%s): nothing deleted, the user was told", type(error).__name__)
            dispatcher.utter_message(text=curriculum.text("privacy.delete_failed"))
            return []
        logger.info("delete my data: progress rows and conversation of one person deleted")
        dispatcher.utter_message(
            text=curriculum.text(
                "privacy.deleted",
                messages=_plural(conversation.messages, "message", "messages"),
                steps=_plural(counts.get("step_progress", 0), "step", "steps"),
                answers=_plural(counts.get("reflections", 0), "answer", "answers"),
                runs=_plural(counts.get("practice_runs", 0), "practice run", "practice runs"),
                settings=curriculum.text("privacy.settings_deleted" if counts.get("users") else "privacy.no_settings"),
            )
        )
        return [SlotSet(retention.ERASE_SLOT, True)]


def export_text(
    profile: Optional[Profile], conversation: retention.PersonData, retention_days: int, consent: Optional[bool]
) -> str:
    lines: List[str] = [curriculum.text("privacy.export_header")]
    if profile is None or not profile.known:
        lines.append(
            curriculum.text("privacy.export_no_progress" if consent is not False else "privacy.export_no_consent")
        )
    else:
        lines.append(
            curriculum.text(
                "privacy.export_settings",
                consent="yes" if profile.consent else "no",
                region=profile.region or "not given",
            )
        )
        done = [s for s in profile.steps.values() if s.completed_at]
        started = [s for s in profile.steps.values() if not s.completed_at]
        if done or started:
            lines.append(curriculum.text("privacy.export_steps"))
            for state in sorted(done, key=lambda s: s.completed_at):
                step = curriculum.step_by_id(state.step_id)
                lines.append(f"- {step.title if step else state.step_id}: done {common.short_date(state.completed_at)}")
            for state in sorted(started, key=lambda s: s.started_at):
                step = curriculum.step_by_id(state.step_id)
                lines.append(
                    f"- {step.title if step else state.step_id}: started {common.short_date(state.started_at)}"
                )
        if profile.answers:
            lines.append(curriculum.text("privacy.export_answers"))
            for answer in profile.answers:
                step = curriculum.step_by_id(answer["step_id"])
                title = step.title if step else answer["step_id"]
                lines.append(f'- {title} ({common.short_date(answer["created_at"])}): "{answer["answer"]}"')
        if profile.practice_runs:
            lines.append(curriculum.text("privacy.export_runs"))
            for run in profile.practice_runs:
                lines.append(
                    f"- {common.short_date(run['created_at'])}: {run['persona']}, {run['outcome']}, {run['turns']} turns"
                )
    if profile is not None and profile.resume_code:
        lines.append(curriculum.text("privacy.export_resume_code"))
    if profile is not None and profile.flagged:
        lines.append(curriculum.text("privacy.export_flag"))
    if profile is not None and profile.signs:
        lines.append(curriculum.text("privacy.export_signs", kinds=", ".join(sorted(set(profile.signs)))))
    stored = consent is True or bool(profile is not None and profile.known and profile.consent)
    lines.append(
        curriculum.text(
            "privacy.export_conversation" if stored else "privacy.export_conversation_short",
            messages=_plural(conversation.messages, "message", "messages"),
            first=common.short_date(conversation.first_message) or "today",
            days=retention_days,
            hours=retention.no_consent_hours(),
        )
    )
    lines.append(curriculum.text("privacy.export_footer"))
    return "\n".join(lines)


class ActionExportMyData(Action):
    def name(self) -> Text:
        return "action_export_my_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        try:
            profile = common.store().profile(tracker.sender_id)
            conversation = retention.conversation_counts(tracker.sender_id, _tracker_engine())
        except STORE_ERRORS as error:
            logger.error("export my data failed (%s): the user was told", type(error).__name__)
            dispatcher.utter_message(text=curriculum.text("privacy.export_failed"))
            return []
        try:
            days = retention.retention_days()
        except SystemExit:
            days = retention.DEFAULT_RETENTION_DAYS
        consent: Optional[bool] = tracker.get_slot("consent_storage")
        dispatcher.utter_message(text=export_text(profile, conversation, days, consent))
        return []
