"""bot/stores.py: the stores of endpoints.yml, loaded the way Rasa loads them, and the lock store's
tickets under real concurrency on a real Redis."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading

import pytest
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import ConnectionException
from rasa.utils.endpoints import EndpointConfig

from bot import stores
from bot.progress import retention
from tests.integration.conftest import REPO_ROOT, free_port


def test_the_tracker_url_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("RASA_TRACKER_DB_URL", raising=False)
    monkeypatch.delenv("RASA_TRACKER_DB", raising=False)
    assert stores.tracker_db_url() == f"sqlite:///{REPO_ROOT / 'var' / 'rasa_tracker.db'}"
    monkeypatch.setenv("RASA_TRACKER_DB", str(tmp_path / "t.db"))
    assert stores.tracker_db_url() == f"sqlite:///{tmp_path / 't.db'}"
    monkeypatch.setenv("RASA_TRACKER_DB_URL", "")  # empty, as the Makefile exports it: not set
    assert stores.tracker_db_url() == f"sqlite:///{tmp_path / 't.db'}"
    monkeypatch.setenv("RASA_TRACKER_DB_URL", "postgresql+psycopg2://u:pw@db.example:5432/tracker")
    assert stores.tracker_db_url() == retention.tracker_url() == "postgresql+psycopg2://u:pw@db.example:5432/tracker"


def test_logs_name_the_dialect_and_host_only():
    described = stores.describe("postgresql+psycopg2://coach:s3cret-pw@db.example:5432/tracker")
    assert described == "postgresql on db.example:5432"
    assert stores.describe("sqlite:////srv/coach/var/rasa_tracker.db") == "sqlite on a local file"


def endpoints(monkeypatch, **env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return AvailableEndpoints.read_endpoints(str(REPO_ROOT / "endpoints.yml"))


def test_endpoints_yml_gives_rasas_sql_tracker_store_on_the_url(monkeypatch, tmp_path, caplog):
    url = f"sqlite:///{tmp_path / 'sub' / 'tracker.db'}"
    loaded = endpoints(
        monkeypatch, ACTION_ENDPOINT_URL="http://127.0.0.1:1/webhook", RASA_TRACKER_DB_URL=url, RASA_LOCK_STORE_URL=""
    )
    with caplog.at_level(logging.INFO, logger="bot.stores"):
        store = TrackerStore.create(loaded.tracker_store, Domain.empty())
    assert "tracker store: sqlite on a local file" in caplog.text
    tracker = DialogueStateTracker("someone", [])
    tracker.update(UserUttered("hello"))
    asyncio.new_event_loop().run_until_complete(store.save(tracker))
    with sqlite3.connect(tmp_path / "sub" / "tracker.db") as db:
        assert db.execute("select count(*) from events where type_name = 'user'").fetchone() == (1,)
    # Empty URL: the SQLite file RASA_TRACKER_DB, as before.
    loaded = endpoints(monkeypatch, RASA_TRACKER_DB_URL="", RASA_TRACKER_DB=str(tmp_path / "plain.db"))
    TrackerStore.create(loaded.tracker_store, Domain.empty())
    assert (tmp_path / "plain.db").exists()


def test_endpoints_yml_lock_store_is_in_memory_without_a_redis_url(monkeypatch):
    loaded = endpoints(
        monkeypatch, ACTION_ENDPOINT_URL="http://127.0.0.1:1/webhook", RASA_TRACKER_DB_URL="", RASA_LOCK_STORE_URL=""
    )
    assert type(LockStore.create(loaded.lock_store)) is InMemoryLockStore


def test_endpoints_yml_lock_store_is_redis_with_a_url(monkeypatch, redis_url):
    loaded = endpoints(
        monkeypatch,
        ACTION_ENDPOINT_URL="http://127.0.0.1:1/webhook",
        RASA_TRACKER_DB_URL="",
        RASA_LOCK_STORE_URL=redis_url,
    )
    store = LockStore.create(loaded.lock_store)
    assert isinstance(store, stores.AtomicRedisLockStore) and isinstance(store, RedisLockStore)


def test_a_bad_or_dead_lock_store_url_stops_the_start():
    with pytest.raises(ValueError, match="redis://"):
        stores.lock_store_from_url("http://127.0.0.1:6379/0")
    dead = EndpointConfig(url=f"redis://:pw@127.0.0.1:{free_port()}/0", type="bot.stores.URLLockStore")
    with pytest.raises(ConnectionException):  # Rasa says "Cannot connect to lock store."
        LockStore.create(dead)


def test_migrate_is_idempotent(tmp_path):
    tracker_url, progress_url = f"sqlite:///{tmp_path / 'tracker.db'}", f"sqlite:///{tmp_path / 'progress.db'}"
    for _ in range(2):
        stores.migrate(tracker_url, progress_url)
    with sqlite3.connect(tmp_path / "tracker.db") as db:
        assert db.execute("select count(*) from events").fetchone() == (0,)
    with sqlite3.connect(tmp_path / "progress.db") as db:
        assert db.execute("select count(*) from alembic_version").fetchone() == (1,)


def test_two_processes_tickets_never_collide_and_the_lock_excludes(redis_url):
    """Two lock stores with their own connections, as two Rasa processes have: tickets issued at
    the same time are all different, and only one holder at a time is inside the lock."""
    a, b = stores.lock_store_from_url(redis_url), stores.lock_store_from_url(redis_url)
    issued = {a: [], b: []}
    start = threading.Barrier(2)

    def issue(store):
        start.wait()
        for _ in range(150):
            issued[store].append(store.issue_ticket("same-user"))

    threads = [threading.Thread(target=issue, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = issued[a] + issued[b]
    assert len(set(everything)) == 300
    for store in (a, b):
        for ticket in issued[store]:
            store.cleanup("same-user", ticket)
    assert a.get_lock("same-user") is None  # the last return deletes the lock

    inside, most = [0], [0]

    def hold(store):
        async def run():
            for _ in range(3):
                async with store.lock("same-user", wait_time_in_seconds=0.05):
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                    await asyncio.sleep(0.05)
                    inside[0] -= 1

        start.wait()
        asyncio.new_event_loop().run_until_complete(run())

    threads = [threading.Thread(target=hold, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1 and a.get_lock("same-user") is None


def test_a_tracker_load_or_save_waits_for_a_restarting_database(tmp_path, monkeypatch, caplog):
    """Rasa falls back to an empty in-memory tracker when its store fails; the store tries again
    for a few seconds first (a PostgreSQL restart), so the conversation is kept."""
    from sqlalchemy.exc import OperationalError

    monkeypatch.setattr(stores, "STORE_RETRY_PAUSES", (0.0, 0.0, 0.0))
    store = stores.URLTrackerStore(Domain.empty(), host=f"sqlite:///{tmp_path / 'tracker.db'}")
    tracker = DialogueStateTracker.from_events("restart", [UserUttered("hello")])
    asyncio.run(store.save(tracker))
    failures = {"left": 2}
    original = stores.SQLTrackerStore._retrieve

    async def flaky(self, *args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("select", {}, Exception("the database system is starting up"))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(stores.SQLTrackerStore, "_retrieve", flaky)
    with caplog.at_level(logging.WARNING):
        loaded = asyncio.run(store.retrieve("restart"))
    assert [e.text for e in loaded.events if isinstance(e, UserUttered)] == ["hello"]
    assert caplog.text.count("trying again") == 2 and "starting up" not in caplog.text
    # Down for longer than the pauses: the error goes on to Rasa.
    failures["left"] = 10
    with pytest.raises(OperationalError):
        asyncio.run(store.retrieve("restart"))


def test_the_tickets_of_a_process_that_is_gone_are_dropped(redis_url):
    """A Rasa process killed while it holds a conversation's lock: the other process's next message
    of that conversation waits for the killed one's ticket only until its alive key is gone (10 s),
    not until the ticket expires (60 s)."""
    killed, other = stores.lock_store_from_url(redis_url), stores.lock_store_from_url(redis_url)
    held = killed.issue_ticket("dying-user")
    waiting = other.issue_ticket("dying-user")
    assert other.get_lock("dying-user").is_locked(waiting)
    other.update_lock("dying-user")  # the holder is alive: nothing is dropped
    assert other.get_lock("dying-user").is_locked(waiting)
    killed.stop_beating()  # as if killed: its alive key is gone
    other.update_lock("dying-user")
    lock = other.get_lock("dying-user")
    assert not lock.is_locked(waiting) and held not in [t.number for t in lock.tickets]
    other.cleanup("dying-user", waiting)
    assert other.get_lock("dying-user") is None
    assert other.red.hgetall(other._holders_key("dying-user")) == {}
    other.stop_beating()
