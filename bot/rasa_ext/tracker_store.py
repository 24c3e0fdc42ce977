"""Rasa 3.6's SQLTrackerStore on a SQLite file, with its connections pooled (speed).

Rasa's engine on a SQLite file opens a new connection for every session (SQLAlchemy 1.4's
NullPool), three or more a message; `pool_sqlite_connections` keeps them in a pool, as SQLAlchemy
2.0 does. It replaces the store's `engine` and `sessionmaker` attributes, which Rasa sets in
SQLTrackerStore.__init__. Measured figure: rasa_ext/__init__.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from bot.rasa_ext.version import check_rasa_version

check_rasa_version()


def pool_sqlite_connections(store: Any, url: str) -> None:
    """Give a SQLTrackerStore on a SQLite file a connection pool (nothing for other databases, or
    with RASA_EXT_SPEED=off). The Rasa process uses the connections from its event loop's thread only."""
    from bot.rasa_ext import speed_patches_on

    parsed = make_url(url)
    if not speed_patches_on() or parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    store.engine.dispose()
    store.engine = create_engine(url, poolclass=QueuePool, connect_args={"check_same_thread": False})
    store.sessionmaker = sessionmaker(bind=store.engine)
