"""What several actions share: the progress store, answers to yes/no questions and regions,
the latest entities, sending the menu (built by bot/coaching/menu.py)."""

from __future__ import annotations

import logging
import re
from typing import Any, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from bot.coaching import curriculum
from bot.coaching.menu import menu
from bot.progress.store import Profile, ProgressStore
from bot.safety.hotlines import REGIONS

logger = logging.getLogger(__name__)

SKIP_SENTINEL = "__skipped__"
STORE_ERRORS = (SQLAlchemyError, OSError)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

_YES = {
    "yes",
    "y",
    "yeah",
    "yep",
    "yup",
    "sure",
    "ok",
    "okay",
    "sometimes",
    "maybe",
    "kind of",
    "kinda",
    "sort of",
    "a little",
    "a bit",
    "often",
    "always",
    "true",
    "correct",
    "i have",
    "i am",
    "i do",
    "it has",
    "he has",
    "she has",
    "they have",
    "once",
    "a few times",
}
_NO = {
    "no",
    "n",
    "nope",
    "nah",
    "never",
    "not really",
    "no never",
    "not at all",
    "false",
    "i haven't",
    "i have not",
    "he hasn't",
    "she hasn't",
    "they haven't",
    "no one",
    "nobody",
}

_REGION_WORDS = {
    "US": ["us", "usa", "u.s.", "u.s.a.", "united states", "america", "the states", "states"],
    "UK": [
        "uk",
        "u.k.",
        "united kingdom",
        "britain",
        "great britain",
        "england",
        "scotland",
        "wales",
        "northern ireland",
        "gb",
    ],
    "CA": ["ca", "canada", "quebec", "ontario", "british columbia", "alberta"],
    "AU": ["au", "aus", "australia", "oz"],
    "IE": ["ie", "ireland", "republic of ireland", "eire", "éire"],
}


def store() -> ProgressStore:
    return ProgressStore()


def load_profile(tracker: Tracker) -> Optional[Profile]:
    """The stored profile, or None when the store cannot be reached (the bot carries on).

    A violence flag that is in the conversation but not in the store (its action failed while the
    action server or the database was down) is written now, so it is never lost.
    """
    try:
        profile = store().profile(tracker.sender_id)
    except STORE_ERRORS:
        logger.error("progress store unavailable while reading a profile")
        return None
    if tracker.get_slot("violence_flag") and not profile.flagged:
        try:
            store().flag(tracker.sender_id)
            profile.flagged = True
            logger.info("safety flag from the conversation written to the progress store")
        except STORE_ERRORS:
            logger.error("progress store unavailable: safety flag kept in the conversation only")
    return profile


def clean_text(value: Any, limit: int = 4000) -> str:
    text = _CONTROL.sub(" ", str(value or ""))
    return " ".join(text.split())[:limit]


def latest_intent(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def parse_yes_no(tracker: Tracker, value: Any) -> Optional[bool]:
    """True, False, or None when the answer is neither. Button payloads arrive as intents."""
    intent = latest_intent(tracker)
    if intent == "affirm":
        return True
    if intent == "deny":
        return False
    if isinstance(value, bool):
        return value
    words = clean_text(value).lower().strip(" .!?")
    if words in _YES or words.startswith(("yes ", "yeah ", "yep ")):
        return True
    if words in _NO or words.startswith(("no ", "nope ", "never ")):
        return False
    return None


def parse_region(tracker: Tracker, value: Any) -> Optional[str]:
    """One of REGIONS, "other", or None when the text names no country we know."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "region":
            found = str(entity.get("value", "")).strip()
            if found.upper() in REGIONS:
                return found.upper()
            if found.lower() == "other":
                return "other"
    words = clean_text(value).lower().strip(" .!?")
    for prefix in ("i'm in ", "i am in ", "i live in ", "in ", "i'm from ", "from "):
        if words.startswith(prefix):
            words = words[len(prefix) :]
    words = words.removeprefix("the ")
    for code, names in _REGION_WORDS.items():
        if words in names or f"the {words}" in names:
            return code
    if words in {"other", "somewhere else", "elsewhere", "another country", "none of these"}:
        return "other"
    return None


def done_steps(tracker: Tracker, profile: Optional[Profile]) -> List[str]:
    done = list(tracker.get_slot("steps_done") or [])
    if profile is not None:
        done += [s for s in profile.done if s not in done]
    return done


def is_flagged(tracker: Tracker, profile: Optional[Profile]) -> bool:
    return bool(tracker.get_slot("violence_flag")) or bool(profile and profile.flagged)


def consented(tracker: Tracker) -> bool:
    return tracker.get_slot("consent_storage") is True


def latest_entity(tracker: Tracker, name: str) -> Optional[str]:
    """The value of the first `name` entity in the latest message, if any."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == name:
            return entity.get("value")
    return None


def requested_group(tracker: Tracker) -> Optional[str]:
    group = latest_entity(tracker, "group")
    return group if group in curriculum.GROUPS else None


def send_menu(
    dispatcher: CollectingDispatcher, tracker: Tracker, profile: Optional[Profile], group: Optional[str] = None
) -> None:
    in_progress = profile.in_progress if profile else []
    text, buttons = menu(done_steps(tracker, profile), in_progress, is_flagged(tracker, profile), group)
    dispatcher.utter_message(text=text, buttons=buttons)


def restored_slots(profile: Optional[Profile], steps_done: Optional[List[str]] = None) -> List[EventType]:
    """The slots the progress store remembers: the flag always, the rest with consent."""
    events: List[EventType] = []
    if profile is None:
        return events
    if profile.flagged:
        events.append(SlotSet("violence_flag", True))
        events.append(SlotSet("safety_level", "flagged"))
    elif profile.signs:
        # A quiet sign noted in an earlier session: the next one escalates (signs add up).
        events.append(SlotSet("safety_level", "sign"))
    if profile.known and profile.consent:
        events.append(SlotSet("consent_storage", True))
        if profile.region:
            events.append(SlotSet("region", profile.region))
        if profile.onboarded:
            events.append(SlotSet("onboarded", True))
        done = list(steps_done or [])
        done += [s for s in profile.done if s not in done]
        events.append(SlotSet("steps_done", done))
    return events


def short_date(value) -> str:
    """A stored date as the progress and export texts show it ("07 Dec 2026")."""
    return value.strftime("%d %b %Y") if value else ""
