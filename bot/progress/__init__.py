"""Progress: what the bot remembers of a person and how it forgets.

- store.py: the progress database's models and data access (SQLAlchemy, Alembic in migrations/),
  used by the actions, by Rasa's tracker store (bot/stores.py), retention, migrations and the bench;
- retention.py: the retention job (`make retention`), erasing one conversation from Rasa's tables,
  the tracker's URL and the counts the export shows;
- codes.py: resume codes (made, hashed, redacted from stored events).

May import: SQLAlchemy, the standard library. Never bot.actions or Rasa at import time.
"""
