"""Alembic environment: the progress database's URL comes from the caller or PROGRESS_DB_URL."""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine

from bot.progress.store import Base, database_url

config = context.config
if config.config_file_name is not None and not config.attributes.get("url"):
    fileConfig(config.config_file_name)

target_metadata = Base.metadata
url = config.attributes.get("url") or database_url()


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(url, future=True)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
