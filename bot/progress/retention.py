"""Retention: conversations and progress are kept no longer than a configurable period.

    python -m bot.progress.retention retention [--days 90] [--dry-run]     # `make retention`

Someone who did not agree to storing keeps no conversation beyond RETENTION_NO_CONSENT_HOURS (default
24) after their last message: it is deleted then (a safety flag, if any, stays for the full period,
so the bot keeps pointing them to help).

A person's data expires when nothing of theirs is newer than the cut-off: no tracker event (Rasa's
`events` table) and no progress row (users, steps, answers, practice runs, safety flag). Then
everything of theirs goes, in both databases: the conversation and every progress row. Deleting
whole people, not old rows, keeps what is left consistent (no answers without their step, no
conversation that refers to a deleted flag); someone who comes back after that starts afresh,
with the safety questions again.

Databases: RASA_TRACKER_DB (the tracker store's SQLite file; RASA_TRACKER_DB_URL, a SQLAlchemy URL,
wins when set, for PostgreSQL) and PROGRESS_DB_URL. The period: RETENTION_DAYS (default 90).
Prints counts only, never a sender id or any content. A documented cron line runs it nightly
(README, "Retention").
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, delete, func, inspect, select
from sqlalchemy.engine import Engine

from bot.progress.store import (
    PracticeRun,
    Reflection,
    ResumeAttempt,
    ResumeCode,
    SafetyFlag,
    SafetySign,
    StepProgress,
    User,
    _engine,
    database_url,
)

DEFAULT_RETENTION_DAYS = 90
# Someone who said no to storing: their conversation is deleted this long after their last message
# (the safety flag, if any, stays for the retention period: it keeps pointing them to help).
DEFAULT_NO_CONSENT_HOURS = 24
# Rasa's SQLTrackerStore table; only the columns needed here.
_metadata = MetaData()
EVENTS = Table(
    "events",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
)

# Every progress table with the time columns that show activity.
PROGRESS_ACTIVITY = [
    (User, [User.updated_at, User.created_at]),
    (SafetyFlag, [SafetyFlag.flagged_at]),
    (SafetySign, [SafetySign.noted_at]),
    (StepProgress, [StepProgress.started_at, StepProgress.completed_at]),
    (Reflection, [Reflection.created_at]),
    (PracticeRun, [PracticeRun.created_at]),
]
# Children before parents (foreign keys).
PROGRESS_DELETE_ORDER = [PracticeRun, Reflection, StepProgress, SafetySign, SafetyFlag, ResumeCode, ResumeAttempt, User]
# Failed resume-code guesses are only needed for the hourly limit (bot/actions/resume.py).
RESUME_ATTEMPTS_KEPT = dt.timedelta(days=1)


DEFAULT_TRACKER_DB = Path(__file__).resolve().parents[2] / "var" / "rasa_tracker.db"


def retention_days() -> int:
    raw = os.environ.get("RETENTION_DAYS", str(DEFAULT_RETENTION_DAYS))
    try:
        days = int(raw)
    except ValueError:
        raise SystemExit(f"RETENTION_DAYS must be a whole number of days, got {raw!r}") from None
    if days < 1:
        raise SystemExit(f"RETENTION_DAYS must be at least 1, got {days}")
    return days


def no_consent_hours() -> int:
    raw = os.environ.get("RETENTION_NO_CONSENT_HOURS", str(DEFAULT_NO_CONSENT_HOURS))
    try:
        hours = int(raw)
    except ValueError:
        raise SystemExit(f"RETENTION_NO_CONSENT_HOURS must be a whole number of hours, got {raw!r}") from None
    if hours < 1:
        raise SystemExit(f"RETENTION_NO_CONSENT_HOURS must be at least 1, got {hours}")
    return hours


def tracker_url() -> str:
    """RASA_TRACKER_DB_URL, else the SQLite file RASA_TRACKER_DB, else var/rasa_tracker.db (the
    tracker store in bot/stores.py reads it here too)."""
    url = os.environ.get("RASA_TRACKER_DB_URL")
    if url:
        return url
    return f"sqlite:///{os.environ.get('RASA_TRACKER_DB') or DEFAULT_TRACKER_DB}"


@dataclass
class Report:
    expired_senders: int = 0
    tracker_events: int = 0
    progress_rows: int = 0
    # conversations of people who did not agree to storing, past their shorter period
    unconsented_conversations: int = 0
    unconsented_events: int = 0

    def people(self) -> str:
        return f"{self.expired_senders} {'person' if self.expired_senders == 1 else 'people'}"

    def __str__(self) -> str:
        return (
            f"{self.people()} past the retention period: deleted {self.tracker_events} "
            f"conversation events and {self.progress_rows} progress rows; "
            f"{self.unconsented_conversations} conversations without consent to storing past their "
            f"period: deleted {self.unconsented_events} events"
        )


def _has_events(engine: Optional[Engine]) -> bool:
    return engine is not None and inspect(engine).has_table("events")


def last_activity(progress: Engine, tracker: Optional[Engine]) -> Dict[str, dt.datetime]:
    """The newest activity of every sender known to either database (naive UTC)."""
    latest: Dict[str, dt.datetime] = {}

    def note(sender: str, when: Optional[dt.datetime]) -> None:
        if when is not None and (sender not in latest or when > latest[sender]):
            latest[sender] = when

    with progress.connect() as conn:
        for model, columns in PROGRESS_ACTIVITY:
            if not inspect(progress).has_table(model.__tablename__):
                continue
            for column in columns:
                rows = conn.execute(select(model.sender_id, func.max(column)).group_by(model.sender_id))
                for sender, when in rows:
                    note(sender, when)
    if _has_events(tracker):
        with tracker.connect() as conn:
            rows = conn.execute(select(EVENTS.c.sender_id, func.max(EVENTS.c.timestamp)).group_by(EVENTS.c.sender_id))
            for sender, stamp in rows:
                if stamp is not None:
                    note(sender, dt.datetime.utcfromtimestamp(stamp))
    return latest


def delete_senders(senders: Iterable[str], progress: Engine, tracker: Optional[Engine]) -> Report:
    """Everything of these senders, in one transaction per database."""
    ids: List[str] = sorted(set(senders))
    report = Report(expired_senders=len(ids))
    if not ids:
        return report
    batches = [ids[i : i + 500] for i in range(0, len(ids), 500)]
    if _has_events(tracker):
        with tracker.begin() as conn:
            for batch in batches:
                report.tracker_events += conn.execute(delete(EVENTS).where(EVENTS.c.sender_id.in_(batch))).rowcount
    with progress.begin() as conn:
        for model in PROGRESS_DELETE_ORDER:
            if not inspect(progress).has_table(model.__tablename__):
                continue
            for batch in batches:
                report.progress_rows += conn.execute(delete(model).where(model.sender_id.in_(batch))).rowcount
    return report


def expired(progress: Engine, tracker: Optional[Engine], days: int, now: Optional[dt.datetime] = None) -> Set[str]:
    cutoff = (now or dt.datetime.utcnow()) - dt.timedelta(days=days)
    return {sender for sender, when in last_activity(progress, tracker).items() if when < cutoff}


def unconsented_conversations(
    progress: Engine, tracker: Optional[Engine], hours: int, now: Optional[dt.datetime] = None
) -> Set[str]:
    """Senders whose conversation has been quiet for `hours` and who have not agreed to storing."""
    if not _has_events(tracker):
        return set()
    cutoff = (now or dt.datetime.utcnow()) - dt.timedelta(hours=hours)
    consenting: Set[str] = set()
    if inspect(progress).has_table(User.__tablename__):
        with progress.connect() as conn:
            consenting = set(conn.execute(select(User.sender_id).where(User.consent.is_(True))).scalars())
    with tracker.connect() as conn:
        rows = conn.execute(select(EVENTS.c.sender_id, func.max(EVENTS.c.timestamp)).group_by(EVENTS.c.sender_id))
        return {
            sender
            for sender, stamp in rows
            if stamp is not None and sender not in consenting and dt.datetime.utcfromtimestamp(stamp) < cutoff
        }


def run_retention(
    days: int,
    progress_url: Optional[str] = None,
    tracker_db_url: Optional[str] = None,
    dry_run: bool = False,
    now: Optional[dt.datetime] = None,
    no_consent_hours_: Optional[int] = None,
) -> Report:
    progress = _engine(progress_url or database_url())
    tracker = _engine(tracker_db_url) if tracker_db_url else None
    senders = expired(progress, tracker, days, now)
    hours = no_consent_hours_ if no_consent_hours_ is not None else no_consent_hours()
    quiet = unconsented_conversations(progress, tracker, hours, now) - senders
    if dry_run:
        return Report(expired_senders=len(senders), unconsented_conversations=len(quiet))
    report = delete_senders(senders, progress, tracker)
    if inspect(progress).has_table(ResumeAttempt.__tablename__):
        with progress.begin() as conn:
            report.progress_rows += conn.execute(
                delete(ResumeAttempt).where(
                    ResumeAttempt.attempted_at < (now or dt.datetime.utcnow()) - RESUME_ATTEMPTS_KEPT
                )
            ).rowcount
    report.unconsented_conversations = len(quiet)
    for sender in sorted(quiet):
        report.unconsented_events += delete_conversation(sender, tracker)
    return report


# "Delete my data" (bot/actions/privacy.py): the action deletes the progress rows and sets this slot;
# the tracker store (bot/stores.py) then deletes the conversation's events instead of saving them,
# after the turn, so Rasa cannot write the deleted conversation back.
ERASE_SLOT = "erase_conversation"
# A resume code brought someone's progress into this conversation (bot/actions/resume.py): the action
# sets this slot to the earlier conversation's sender id, and the tracker store deletes that
# conversation's events in the same save. Only the Rasa process writes Rasa's tables.
ERASE_OTHER_SLOT = "erase_earlier_conversation"


@dataclass
class PersonData:
    """What is stored about one person, in counts (for "delete my data" and "export my data")."""

    messages: int = 0  # their messages in the conversation (tracker store)
    events: int = 0  # all conversation events
    first_message: Optional[dt.datetime] = None
    last_message: Optional[dt.datetime] = None


def conversation_counts(sender: str, tracker: Optional[Engine]) -> PersonData:
    data = PersonData()
    if not _has_events(tracker):
        return data
    events = EVENTS
    with tracker.connect() as conn:
        data.events = conn.execute(select(func.count()).where(events.c.sender_id == sender)).scalar() or 0
        row = conn.execute(
            select(func.count(), func.min(events.c.timestamp), func.max(events.c.timestamp)).where(
                events.c.sender_id == sender, events.c.type_name == "user"
            )
        ).one()
    data.messages = row[0] or 0
    if row[1] is not None:
        data.first_message = dt.datetime.utcfromtimestamp(row[1])
        data.last_message = dt.datetime.utcfromtimestamp(row[2])
    return data


def delete_person_progress(sender: str, progress: Engine) -> Dict[str, int]:
    """Every progress row of one person, in one transaction: rows deleted per table."""
    counts: Dict[str, int] = {}
    with progress.begin() as conn:
        for model in PROGRESS_DELETE_ORDER:
            if inspect(progress).has_table(model.__tablename__):
                counts[model.__tablename__] = conn.execute(delete(model).where(model.sender_id == sender)).rowcount
    return counts


def delete_conversation(sender: str, tracker: Optional[Engine]) -> int:
    """Every event of one conversation; the number deleted."""
    if not _has_events(tracker):
        return 0
    with tracker.begin() as conn:
        return conn.execute(delete(EVENTS).where(EVENTS.c.sender_id == sender)).rowcount


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Delete conversations and progress past the retention period.")
    sub = parser.add_subparsers(dest="command", required=True)
    retention = sub.add_parser("retention", help="delete everything of people inactive for longer than the period")
    retention.add_argument("--days", type=int, default=None, help="the period (default RETENTION_DAYS or 90)")
    retention.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    args = parser.parse_args(argv)
    days = args.days if args.days is not None else retention_days()
    if days < 1:
        print("the retention period must be at least 1 day", file=sys.stderr)
        return 1
    report = run_retention(days, tracker_db_url=tracker_url(), dry_run=args.dry_run)
    if args.dry_run:
        print(
            f"dry run, retention {days} days: {report.people()} past the period, "
            f"{report.unconsented_conversations} conversations without consent past theirs; nothing deleted"
        )
    else:
        print(f"retention {days} days: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
