"""Retention clean-up on real stores: Rasa's SQLTrackerStore (SQLite) and the progress database."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine

from bot.progress import retention
from bot.progress.store import ProgressStore, upgrade

NOW = dt.datetime(2026, 11, 23, 12, 0, 0)


def days_ago(n: float) -> float:
    return (NOW - dt.timedelta(days=n)).replace(tzinfo=dt.timezone.utc).timestamp()


@pytest.fixture
def stores(tmp_path):
    progress_url = f"sqlite:///{tmp_path / 'progress.db'}"
    upgrade(progress_url)
    tracker_path = tmp_path / "tracker.db"
    tracker_store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tracker_path))
    return progress_url, f"sqlite:///{tracker_path}", tracker_store, tracker_path


def converse(tracker_store, sender, *ages_in_days):
    tracker = DialogueStateTracker(sender, [])
    for age in ages_in_days:
        tracker.update(UserUttered("hello", timestamp=days_ago(age)))
    import asyncio

    asyncio.new_event_loop().run_until_complete(tracker_store.save(tracker))


def progress_rows(progress_url, sender):
    engine = create_engine(progress_url)
    with engine.connect() as conn:
        return {
            t: conn.exec_driver_sql(f"select count(*) from {t} where sender_id = ?", (sender,)).scalar()
            for t in ("users", "step_progress", "reflections", "safety_flags", "practice_runs")
        }


def set_progress_time(progress_url, sender, when):
    engine = create_engine(progress_url)
    with engine.begin() as conn:
        for table, columns in [
            ("users", ["created_at", "updated_at", "onboarded_at"]),
            ("step_progress", ["started_at", "completed_at"]),
            ("reflections", ["created_at"]),
            ("safety_flags", ["flagged_at"]),
            ("practice_runs", ["created_at"]),
        ]:
            for column in columns:
                conn.exec_driver_sql(
                    f"update {table} set {column} = ? where sender_id = ? and {column} is not null", (when, sender)
                )


def test_old_people_go_entirely_and_recent_ones_stay(stores):
    progress_url, tracker_url, tracker_store, tracker_path = stores
    store = ProgressStore(progress_url)
    for sender in ("old", "recent", "old-talk-recent-step"):
        store.set_consent(sender, True)
        store.start_step(sender, "accountability")
        store.complete_step(sender, "accountability", "I want to listen more")
    store.flag("old")
    set_progress_time(progress_url, "old", NOW - dt.timedelta(days=120))
    set_progress_time(progress_url, "recent", NOW - dt.timedelta(days=10))
    set_progress_time(progress_url, "old-talk-recent-step", NOW - dt.timedelta(days=5))
    converse(tracker_store, "old", 130, 121)
    converse(tracker_store, "recent", 100, 10)  # an old first message, a recent last one
    converse(tracker_store, "old-talk-recent-step", 200)
    converse(tracker_store, "tracker-only-old", 95)  # never consented: no progress rows at all

    dry = retention.run_retention(90, progress_url, tracker_url, dry_run=True, now=NOW)
    assert dry.expired_senders == 2 and dry.tracker_events == 0
    assert progress_rows(progress_url, "old")["users"] == 1  # a dry run deletes nothing

    report = retention.run_retention(90, progress_url, tracker_url, now=NOW)
    assert report.expired_senders == 2
    assert all(count == 0 for count in progress_rows(progress_url, "old").values())
    assert progress_rows(progress_url, "recent") == {
        "users": 1,
        "step_progress": 1,
        "reflections": 1,
        "safety_flags": 0,
        "practice_runs": 0,
    }
    with sqlite3.connect(tracker_path) as db:
        left = dict(db.execute("select sender_id, count(*) from events group by sender_id").fetchall())
    assert "old" not in left and "tracker-only-old" not in left
    assert left["recent"] >= 2 and left["old-talk-recent-step"] >= 1
    assert report.tracker_events >= 3 and report.progress_rows == 4  # user, step, answer, flag


def test_without_a_tracker_database_progress_alone_decides(stores):
    progress_url, *_ = stores
    store = ProgressStore(progress_url)
    store.set_consent("someone", True)
    set_progress_time(progress_url, "someone", NOW - dt.timedelta(days=91))
    assert retention.run_retention(90, progress_url, None, now=NOW).expired_senders == 1
    assert retention.run_retention(90, progress_url, None, now=NOW).expired_senders == 0


def test_the_period_comes_from_the_environment_and_must_make_sense(monkeypatch):
    monkeypatch.delenv("RETENTION_DAYS", raising=False)
    assert retention.retention_days() == 90
    monkeypatch.setenv("RETENTION_DAYS", "30")
    assert retention.retention_days() == 30
    for bad in ("0", "-5", "ninety"):
        monkeypatch.setenv("RETENTION_DAYS", bad)
        with pytest.raises(SystemExit):
            retention.retention_days()


def test_command_line_prints_counts_only(stores, monkeypatch, capsys):
    progress_url, tracker_url, tracker_store, _ = stores
    converse(tracker_store, "secret-sender-id", 400)
    monkeypatch.setenv("PROGRESS_DB_URL", progress_url)
    monkeypatch.setenv("RASA_TRACKER_DB_URL", tracker_url)
    assert retention.main(["retention", "--days", "90"]) == 0
    out = capsys.readouterr().out
    assert "1 person past the retention period" in out and "secret-sender-id" not in out


def test_a_conversation_without_consent_goes_after_a_day_and_its_safety_flag_stays(stores):
    progress_url, tracker_url, tracker_store, tracker_path = stores
    store = ProgressStore(progress_url)
    store.set_consent("stored", True)
    store.set_consent("not-stored", False)
    store.flag("not-stored")
    converse(tracker_store, "stored", 3)  # consented: kept for the full period
    converse(tracker_store, "not-stored", 2)  # said no, quiet for two days: conversation goes
    converse(tracker_store, "not-stored-recent", 0.5)  # said no, quiet for 12 hours: stays for now
    report = retention.run_retention(90, progress_url, tracker_url, now=NOW, no_consent_hours_=24)
    assert report.unconsented_conversations == 1 and report.unconsented_events >= 1
    with sqlite3.connect(tracker_path) as db:
        left = dict(db.execute("select sender_id, count(*) from events group by sender_id").fetchall())
    assert "not-stored" not in left and left["stored"] >= 1 and left["not-stored-recent"] >= 1
    assert progress_rows(progress_url, "not-stored")["safety_flags"] == 1
