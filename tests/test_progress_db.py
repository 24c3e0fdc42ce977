"""The progress store on a real (temporary) SQLite database, migrated by Alembic."""

import datetime as dt

import pytest
from sqlalchemy import create_engine, inspect

from bot.progress.store import Base, ProgressStore, upgrade


def test_migrations_match_the_models(progress_db):
    engine = create_engine(progress_db, future=True)
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        assert table.name in inspector.get_table_names()
        migrated = {c["name"] for c in inspector.get_columns(table.name)}
        assert migrated == {c.name for c in table.columns}, table.name


def test_upgrade_is_idempotent(progress_db):
    upgrade(progress_db)
    upgrade(progress_db)


def test_steps_and_answers_are_recorded_with_timestamps(store):
    store.set_consent("u1", True)
    store.set_region("u1", "UK")
    store.mark_onboarded("u1")
    store.start_step("u1", "budget")
    profile = store.profile("u1")
    assert profile.known and profile.consent and profile.onboarded
    assert profile.region == "UK"
    assert profile.in_progress == ["budget"]
    assert store.complete_step("u1", "budget", "We can afford two sessions a month.")
    profile = store.profile("u1")
    assert profile.done == ["budget"]
    assert profile.steps["budget"].completed_at >= profile.steps["budget"].started_at
    assert profile.answers[0]["answer"] == "We can afford two sessions a month."


def test_without_consent_nothing_but_the_safety_flag_is_written(store):
    store.set_consent("u2", False)
    assert not store.start_step("u2", "budget")
    assert not store.complete_step("u2", "budget", "secret")
    assert not store.set_region("u2", "UK")
    assert not store.mark_onboarded("u2")
    store.flag("u2")
    profile = store.profile("u2")
    assert profile.flagged and not profile.known
    assert profile.answers == [] and profile.steps == {}


def test_withdrawing_consent_deletes_progress_but_keeps_the_flag(store):
    store.set_consent("u3", True)
    store.complete_step("u3", "homework", "I'll do the exercises")
    store.flag("u3")
    store.set_consent("u3", False)
    profile = store.profile("u3")
    assert profile.flagged
    assert profile.answers == [] and profile.steps == {} and not profile.known


def test_flag_is_idempotent_and_never_cleared(store):
    store.flag("u4")
    store.flag("u4")
    store.set_consent("u4", True)
    assert store.is_flagged("u4")


def test_completing_a_step_twice_keeps_both_answers(store):
    store.set_consent("u5", True)
    store.complete_step("u5", "accountability", "first")
    store.complete_step("u5", "accountability", "second")
    profile = store.profile("u5")
    assert profile.done == ["accountability"]
    assert [a["answer"] for a in profile.answers] == ["first", "second"]


def test_the_same_answer_sent_again_within_minutes_is_kept_once(store, monkeypatch):
    """A server stopped after saving the answer, before answering: the user, told to send it
    again, does. One answer, not two; the same words days later are a new answer."""
    from bot.progress import store as store_module

    clock = [dt.datetime(2026, 12, 7, 18, 0)]
    monkeypatch.setattr(store_module, "utcnow", lambda: clock[0])
    store.set_consent("u9", True)
    store.complete_step("u9", "accountability", "I want to listen first.")
    clock[0] += dt.timedelta(seconds=30)
    assert store.complete_step("u9", "accountability", "I want to listen first.")
    assert [a["answer"] for a in store.profile("u9").answers] == ["I want to listen first."]
    clock[0] += dt.timedelta(days=3)
    store.complete_step("u9", "accountability", "I want to listen first.")
    assert len(store.profile("u9").answers) == 2


def test_users_do_not_see_each_other(store):
    store.set_consent("a", True)
    store.complete_step("a", "budget", "mine")
    assert store.profile("b").answers == []


def test_unreachable_database_raises_a_store_error(tmp_path):
    from bot.actions.common import STORE_ERRORS

    broken = ProgressStore(f"sqlite:///{tmp_path}/missing-dir/sub/x.db")
    # The directory is created on demand, but the schema is missing: a clear SQLAlchemy error.
    with pytest.raises(STORE_ERRORS):
        broken.profile("x")
