"""The stores that several Rasa processes share, configured by the environment only.

endpoints.yml names the two classes here; their URLs come from the environment:

    tracker_store:  type: bot.stores.URLTrackerStore   url: ${RASA_TRACKER_DB_URL}
    lock_store:     type: bot.stores.URLLockStore      url: ${RASA_LOCK_STORE_URL}

- Tracker store: Rasa's own `SQLTrackerStore` on ONE SQLAlchemy URL, `sqlite:///...` for one
  process or `postgresql+psycopg2://user:password@host:5432/db` for several. An empty URL means
  `tracker_db_url()` (bot/progress/retention.py's `tracker_url`): RASA_TRACKER_DB_URL, else the SQLite file RASA_TRACKER_DB, else
  `var/rasa_tracker.db`.
- Lock store: Rasa's `RedisLockStore` when RASA_LOCK_STORE_URL is `redis://[:password@]host:port/db`
  (`rediss://` for TLS), with its ticket changes made atomic (`AtomicRedisLockStore`), Rasa's
  `InMemoryLockStore` when it is empty. Several Rasa processes need Redis: without it two messages
  of one user handled at once by two processes can lose one.

Only the dialect and host of a store are logged, never a password.

    python -m bot.stores migrate    # Rasa's tracker tables + the progress database's migrations
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any, Optional
from urllib.parse import unquote, urlsplit

from rasa.core.lock_store import InMemoryLockStore, LockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import BotUttered, SlotSet, UserUttered
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from bot.progress.codes import redact
from bot.progress.retention import ERASE_OTHER_SLOT, ERASE_SLOT, delete_conversation
from bot.progress.retention import tracker_url as tracker_db_url  # the tracker's URL, read where retention reads it
from bot.rasa_ext.lock_store import AtomicRedisLockStore

logger = logging.getLogger(__name__)

# Pauses between tries of a tracker load or save while the database cannot be reached (15.5 s in all).
STORE_RETRY_PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0)

REPO_ROOT = Path(__file__).resolve().parents[1]


def describe(url: str) -> str:
    """Dialect and host of a database URL, for logs: no user name, password or path."""
    parsed = make_url(url)
    where = f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host
    return f"{parsed.get_backend_name()} on {where or 'a local file'}"


def prepare(url: str) -> str:
    """Check that `url` is a SQLAlchemy URL; for a SQLite file, create its directory."""
    if "://" not in url:
        raise ValueError("the tracker store needs a SQLAlchemy URL: sqlite:///path or postgresql://...")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return url


class URLTrackerStore(SQLTrackerStore):
    """Rasa's SQLTrackerStore on one SQLAlchemy URL (sqlite or postgresql).

    Rasa creates a custom tracker store as `cls(host=<the endpoint's url>, domain=...,
    event_broker=..., **other keys)`, and SQLTrackerStore uses a `host` containing "://" as the
    whole URL: so the URL goes through Rasa's own engine set-up (pool sizes, schema, retries).
    """

    def __init__(self, domain: Any = None, host: Optional[str] = None, event_broker: Any = None, **kwargs: Any) -> None:
        url = prepare(host or tracker_db_url())
        logger.info("tracker store: %s", describe(url))
        super().__init__(domain=domain, host=url, event_broker=event_broker, **kwargs)

    async def _retrying(self, what: str, call: Any, *args: Any) -> Any:
        """`call` again while the database cannot be reached (a restart, a fail-over), for about
        15 s. Rasa falls back to an empty in-memory tracker when its store fails: the conversation
        would go on from nothing and its messages never be stored (measured: a PostgreSQL restart
        under 30 users lost 5 answered messages and sent one user's answer to the wrong topic).
        Waiting a few seconds instead keeps the conversation; a save is safe to repeat (Rasa
        stores only the events the database does not have yet, in one transaction)."""
        for pause in STORE_RETRY_PAUSES + (None,):
            try:
                return await call(*args)
            except (OperationalError, InterfaceError) as error:
                if pause is None:
                    raise
                logger.warning(
                    "tracker store: %s failed (%s); trying again in %.1f s", what, type(error).__name__, pause
                )
                await asyncio.sleep(pause)

    async def retrieve(self, sender_id: str) -> Any:
        return await self._retrying("loading a conversation", super().retrieve, sender_id)

    async def retrieve_full_tracker(self, conversation_id: str) -> Any:
        return await self._retrying("loading a conversation", super().retrieve_full_tracker, conversation_id)

    async def save(self, tracker: Any) -> None:
        """Save the turn's new events, or, after "delete my data" (the `erase_conversation` slot set
        in this turn by action_delete_my_data), delete the whole conversation instead: deleting it
        from the action would not last, as Rasa saves the turn's tracker after the action. After a
        resume code (`erase_earlier_conversation`), the earlier conversation is deleted too."""
        if erase_requested(tracker):
            deleted = delete_conversation(tracker.sender_id, self.engine)
            logger.info("a conversation was erased on its user's request (%d events)", deleted)
            return
        earlier = earlier_conversation_to_erase(tracker)
        if earlier:
            try:
                deleted = delete_conversation(earlier, self.engine)
                logger.info("an earlier conversation was erased after its progress moved (%d events)", deleted)
            except SQLAlchemyError as error:  # the progress moved; retention deletes the old messages later
                logger.error("an earlier conversation could not be erased after resuming (%s)", type(error).__name__)
            tracker.update(SlotSet(ERASE_OTHER_SLOT, None))  # the earlier id is not kept
        redact_resume_codes(tracker)
        await self._retrying("saving a conversation", super().save, tracker)


def redact_resume_codes(tracker: Any) -> None:
    """Replace resume codes in the turn's messages before they are stored: a code is kept only as a
    hash (bot/progress/codes.py), never in the conversation's text, typed or shown."""
    for event in reversed(tracker.events):
        if isinstance(event, (UserUttered, BotUttered)) and event.text:
            cleaned = redact(event.text)
            if cleaned != event.text:
                event.text = cleaned
                if isinstance(event, UserUttered) and isinstance(event.parse_data, dict):
                    event.parse_data["text"] = cleaned
        if isinstance(event, UserUttered):
            break  # earlier turns were cleaned when they were saved


def earlier_conversation_to_erase(tracker: Any) -> Optional[str]:
    """The earlier conversation a resume code moved into this one, if set since the latest message."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return None
        if isinstance(event, SlotSet) and event.key == ERASE_OTHER_SLOT and event.value:
            return None if event.value == tracker.sender_id else str(event.value)
    return None


def erase_requested(tracker: Any) -> bool:
    """Whether the erase slot was set to true since the user's latest message."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, SlotSet) and event.key == ERASE_SLOT and event.value is True:
            return True
    return False


def lock_store_from_url(url: Optional[str]) -> LockStore:
    """AtomicRedisLockStore for a redis:// URL, Rasa's InMemoryLockStore for an empty one."""
    if not url:
        logger.info("lock store: in memory (one Rasa process only)")
        return InMemoryLockStore()
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(
            f"RASA_LOCK_STORE_URL must look like redis://[:password@]host:port/db, got the scheme {parts.scheme!r}"
        )
    host, port = parts.hostname or "localhost", parts.port or 6379
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ValueError(f"RASA_LOCK_STORE_URL: the Redis database must be a number, got {path!r}")
    store = AtomicRedisLockStore(
        host=host,
        port=port,
        db=int(path or 0),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_ssl=parts.scheme == "rediss",
    )
    import redis

    try:
        store.red.ping()
    except redis.exceptions.RedisError as error:
        # A built-in ConnectionError: Rasa turns it into "Cannot connect to lock store."
        raise ConnectionError(f"lock store: Redis on {host}:{port} does not answer ({type(error).__name__})") from None
    logger.info("lock store: redis on %s:%s", host, port)
    return store


class URLLockStore(LockStore):
    """The lock store of endpoints.yml: a RedisLockStore or Rasa's InMemoryLockStore, by URL.

    Rasa creates a custom lock store as `cls(endpoint_config=...)`; this returns one of Rasa's
    own classes (so Rasa's checks such as `isinstance(store, RedisLockStore)` hold).
    """

    def __new__(cls, endpoint_config: Optional[EndpointConfig] = None) -> LockStore:  # type: ignore[misc]
        url = endpoint_config.url if endpoint_config is not None else None
        return lock_store_from_url(url or os.environ.get("RASA_LOCK_STORE_URL"))


def migrate(tracker_url: Optional[str] = None, progress_url: Optional[str] = None) -> None:
    """Rasa's tracker tables on the tracker URL and the progress migrations. Idempotent."""
    from bot.progress.store import database_url, upgrade

    url = prepare(tracker_url or tracker_db_url())
    # SQLTrackerStore waits for ever for a database that does not answer; a command should fail.
    probe = create_engine(url)
    try:
        probe.connect().close()
    except SQLAlchemyError as error:
        raise SystemExit(f"the tracker database ({describe(url)}) does not answer: {type(error).__name__}") from None
    finally:
        probe.dispose()
    store = URLTrackerStore(host=url)
    try:
        if not inspect(store.engine).has_table(SQLTrackerStore.SQLEvent.__tablename__):
            raise SystemExit(f"could not create the tracker tables ({describe(url)}); see the log above")
    finally:
        store.engine.dispose()
    upgrade(progress_url or database_url())
    print(
        f"tracker store ready ({describe(url)}); progress database at head ({describe(progress_url or database_url())})"
    )


def main(argv: Optional[list] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["migrate"]:
        print("usage: python -m bot.stores migrate", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    migrate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
