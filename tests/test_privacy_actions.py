"""Delete my data, export my data, "/restart", the flag written back, and the store's one retry:
the actions with a real Tracker and real SQLite stores (Rasa's SQLTrackerStore for the conversation)."""

from __future__ import annotations

import asyncio

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.exc import OperationalError

from bot.actions import common, onboarding
from bot.actions import privacy as privacy_actions
from bot.progress import retention
from bot.progress import store as progress_store
from tests.test_actions import slot_events, texts
from tests.test_retention import progress_rows

SENDER = "privacy-user"
DOWN = "postgresql+psycopg2://nobody@127.0.0.1:1/progress"  # nothing listens on port 1: refused at once


@pytest.fixture
def tracker_db(tmp_path, monkeypatch):
    """Rasa's own SQLTrackerStore on SQLite, with a short conversation of SENDER and of someone else."""
    path = tmp_path / "tracker.db"
    monkeypatch.setenv("RASA_TRACKER_DB_URL", f"sqlite:///{path}")
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(path))
    for sender in (SENDER, "someone-else"):
        tracker = DialogueStateTracker(sender, [])
        for text in ("hi", "he says it's too expensive", "show my progress"):
            tracker.update(UserUttered(text))
            tracker.update(BotUttered("a reply"))
        asyncio.new_event_loop().run_until_complete(store.save(tracker))
    return store


@pytest.fixture
def person(store):
    store.set_consent(SENDER, True)
    store.set_region(SENDER, "UK")
    store.mark_onboarded(SENDER)
    store.complete_step(SENDER, "budget", "We can afford six sessions")
    store.start_step(SENDER, "good_time")
    store.save_practice_run(SENDER, "avoider", "agreed", 4, ["i_statement"], [], [])
    store.flag(SENDER)
    store.set_consent("someone-else", True)
    store.complete_step("someone-else", "budget", "theirs")
    return store


async def test_export_shows_everything_stored_in_plain_words(tracker_db, person, tracker_factory, dispatcher, domain):
    tracker = tracker_factory(SENDER, {"consent_storage": True, "violence_flag": True}, text="/export_my_data")
    await privacy_actions.ActionExportMyData().run(dispatcher, tracker, domain)
    text = texts(dispatcher)
    assert "storing your progress: yes; country: UK" in text
    assert "Consider your budget: done" in text and "started" in text
    assert '"We can afford six sessions"' in text
    assert "avoider, agreed, 4 turns" in text
    assert "safety note, with no details" in text
    assert "3 messages from you" in text and "90 days after your last message" in text
    assert "theirs" not in text  # nobody else's data


async def test_export_without_consent_says_nothing_is_kept(tracker_db, store, tracker_factory, dispatcher, domain):
    tracker = tracker_factory("nobody", {"consent_storage": False})
    await privacy_actions.ActionExportMyData().run(dispatcher, tracker, domain)
    assert "You chose not to have your progress stored" in texts(dispatcher)
    assert "0 messages from you" in texts(dispatcher)


async def test_delete_removes_every_progress_row_and_asks_the_store_to_erase_the_conversation(
    tracker_db, person, progress_db, tracker_factory, dispatcher, domain
):
    tracker = tracker_factory(SENDER, {"consent_storage": True}, text="/affirm", intent="affirm")
    events = await privacy_actions.ActionDeleteMyData().run(dispatcher, tracker, domain)
    assert progress_rows(progress_db, SENDER) == {
        "users": 0,
        "step_progress": 0,
        "reflections": 0,
        "safety_flags": 0,
        "practice_runs": 0,
    }
    assert progress_rows(progress_db, "someone-else")["reflections"] == 1
    assert slot_events(events) == {retention.ERASE_SLOT: True}
    text = texts(dispatcher)
    assert "our conversation (3 messages), 2 steps, 1 answer, 1 practice run and your settings" in text


def test_erasing_a_conversation_deletes_only_that_person(tracker_db):
    engine = progress_store._engine(retention.tracker_url())
    assert retention.delete_conversation(SENDER, engine) == 6
    assert retention.conversation_counts(SENDER, engine).events == 0
    assert retention.conversation_counts("someone-else", engine).messages == 3


async def test_delete_with_the_store_down_deletes_nothing_and_says_so(
    tracker_db, tracker_factory, dispatcher, domain, monkeypatch
):
    monkeypatch.setenv("PROGRESS_DB_URL", DOWN)
    monkeypatch.setattr(progress_store, "RETRY_PAUSE_SECONDS", 0)
    events = await privacy_actions.ActionDeleteMyData().run(dispatcher, tracker_factory(SENDER), domain)
    assert events == []
    assert "nothing was deleted" in texts(dispatcher)


async def test_restart_keeps_the_flag_and_restores_what_is_stored(person, tracker_factory, dispatcher, domain):
    tracker = tracker_factory(SENDER, {"violence_flag": True, "onboarded": True}, text="/restart", intent="restart")
    events = await onboarding.ActionRestart().run(dispatcher, tracker, domain)
    assert events[0]["event"] == "restart"
    slots = slot_events(events)
    assert slots["violence_flag"] is True and slots["onboarded"] is True and slots["region"] == "UK"
    assert "starting this conversation afresh" in texts(dispatcher)


async def test_restart_keeps_a_flag_the_store_never_got(tracker_factory, dispatcher, domain, monkeypatch):
    monkeypatch.setenv("PROGRESS_DB_URL", DOWN)
    monkeypatch.setattr(progress_store, "RETRY_PAUSE_SECONDS", 0)
    tracker = tracker_factory("f1", {"violence_flag": True}, text="/restart", intent="restart")
    events = await onboarding.ActionRestart().run(dispatcher, tracker, domain)
    assert slot_events(events)["violence_flag"] is True


def test_a_flag_only_in_the_conversation_is_written_when_the_store_is_back(store, tracker_factory):
    """The flag slot is set by Rasa itself (slot mapping); if logging it failed, the next action
    that reads the profile writes it."""
    profile = common.load_profile(tracker_factory("healed", {"violence_flag": True}))
    assert profile.flagged and store.is_flagged("healed")


def test_the_store_tries_a_failed_call_once_more(store, monkeypatch):
    monkeypatch.setattr(progress_store, "RETRY_PAUSE_SECONDS", 0)
    calls = []
    real_session = progress_store.ProgressStore._session

    def flaky(self):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("connect", {}, Exception("server closed the connection"))
        return real_session(self)

    monkeypatch.setattr(progress_store.ProgressStore, "_session", flaky)
    store.flag("retried")
    assert len(calls) == 2 and store.is_flagged("retried")


def test_a_second_failure_reaches_the_caller(store, monkeypatch):
    monkeypatch.setattr(progress_store, "RETRY_PAUSE_SECONDS", 0)

    def broken(self):
        raise OperationalError("connect", {}, Exception("down"))

    monkeypatch.setattr(progress_store.ProgressStore, "_session", broken)
    with pytest.raises(OperationalError):
        store.complete_step("x", "budget", "an answer")
