"""The progress log: SQLAlchemy models and a small data-access class keyed by the sender id.

Actions never write SQL themselves; they call `ProgressStore`. No engine or session exists at
import time (the action server imports every module at start-up): engines are created on first
use and cached per URL, and each call opens its own session and transaction, rolled back on error.

The URL comes from PROGRESS_DB_URL (default: a SQLite file under var/, which git ignores).
The schema is managed by Alembic (migrations/); `python -m bot.progress.store upgrade`
applies it.

What is stored: consent, region, steps started and completed with timestamps, reflective answers,
practice runs (persona, outcome, technique ids; never the lines typed), and the safety flag. Never any detail of a disclosure. When the user declined storing, only the
safety flag is written.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, declarative_base
from sqlalchemy.pool import QueuePool

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_URL = f"sqlite:///{REPO_ROOT / 'var' / 'progress.db'}"
MAX_ANSWER_CHARS = 4000

Base = declarative_base()
logger = logging.getLogger(__name__)
# A call that fails on the connection (server restarting, file locked, network blip) is tried once
# more after this pause, on fresh connections; a second failure goes to the caller, which tells the
# user that nothing was saved. Each call is one transaction, so a retry never writes twice.
RETRY_PAUSE_SECONDS = float(os.environ.get("PROGRESS_DB_RETRY_PAUSE", "0.5"))
_TRANSIENT = (OperationalError, DisconnectionError)


def _retry_once(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except _TRANSIENT as error:
            logger.warning("progress store: %s failed (%s), trying once more", method.__name__, type(error).__name__)
            self.engine.dispose()
            time.sleep(RETRY_PAUSE_SECONDS)
            return method(self, *args, **kwargs)

    return wrapper


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class User(Base):
    __tablename__ = "users"
    sender_id = Column(String(255), primary_key=True)
    consent = Column(Boolean, nullable=False)
    region = Column(String(8), nullable=True)
    onboarded_at = Column(DateTime, nullable=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)


class SafetyFlag(Base):
    """One row per flagged user: that a violence signal was seen, and when, with its tier and source
    (a message, the screen, a check-in, two quiet signs) and whether a clear, checked statement may
    reopen the partner steps (never for the gravest signs). No details of what was said."""

    __tablename__ = "safety_flags"
    sender_id = Column(String(255), primary_key=True)
    flagged_at = Column(DateTime, nullable=False, default=utcnow)
    tier = Column(String(32), nullable=True)
    source = Column(String(32), nullable=True)
    reopenable = Column(Boolean, nullable=True)  # NULL (flags from before 0003): as reopenable


class SafetySign(Base):
    """A quiet sign of control that was noted (its kind only: "monitoring", "money"...), so that
    signs add up across sessions. Kept like the flag: even without consent to store progress."""

    __tablename__ = "safety_signs"
    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(255), nullable=False, index=True)
    kind = Column(String(32), nullable=False)
    noted_at = Column(DateTime, nullable=False, default=utcnow)


class StepProgress(Base):
    __tablename__ = "step_progress"
    __table_args__ = (UniqueConstraint("sender_id", "step_id", name="uq_step_progress_sender_step"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(255), ForeignKey("users.sender_id", ondelete="CASCADE"), nullable=False, index=True)
    step_id = Column(String(64), nullable=False)
    started_at = Column(DateTime, nullable=False, default=utcnow)
    completed_at = Column(DateTime, nullable=True)


# An answer identical to the step's latest one, saved within this time, is the same answer sent
# again (its reply was lost), not a second answer.
RESENT_WITHIN = dt.timedelta(minutes=10)


class Reflection(Base):
    __tablename__ = "reflections"
    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(255), ForeignKey("users.sender_id", ondelete="CASCADE"), nullable=False, index=True)
    step_id = Column(String(64), nullable=False)
    answer = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class PracticeRun(Base):
    """A finished practice run: who the partner was like, how it ended, the techniques used and
    missed and the pitfalls (comma-separated ids). The lines the user typed are never stored."""

    __tablename__ = "practice_runs"
    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(255), ForeignKey("users.sender_id", ondelete="CASCADE"), nullable=False, index=True)
    persona = Column(String(32), nullable=False)
    outcome = Column(String(32), nullable=False)
    turns = Column(Integer, nullable=False)
    techniques_used = Column(String(255), nullable=False)
    techniques_missed = Column(String(255), nullable=False)
    pitfalls = Column(String(255), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class ResumeCode(Base):
    """A resume code (web only): how a person comes back from a new tab or device. Only the code's
    hash is stored (bot/actions/resume.py); one code per person, replaced when a new one is shown."""

    __tablename__ = "resume_codes"
    code_hash = Column(String(128), primary_key=True)
    sender_id = Column(String(255), ForeignKey("users.sender_id", ondelete="CASCADE"), nullable=False, unique=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class ResumeAttempt(Base):
    """A code typed that matched nothing: guesses are limited per conversation and per hour."""

    __tablename__ = "resume_attempts"
    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(255), nullable=False, index=True)
    attempted_at = Column(DateTime, nullable=False, default=utcnow, index=True)


@dataclass
class StepState:
    step_id: str
    started_at: dt.datetime
    completed_at: Optional[dt.datetime]


@dataclass
class Profile:
    sender_id: str
    known: bool = False
    consent: Optional[bool] = None
    region: Optional[str] = None
    onboarded: bool = False
    flagged: bool = False
    flag_reopenable: bool = False
    signs: List[str] = field(default_factory=list)
    steps: Dict[str, StepState] = field(default_factory=dict)
    answers: List[Dict[str, object]] = field(default_factory=list)
    practice_runs: List[Dict[str, object]] = field(default_factory=list)
    resume_code: bool = False  # a resume code exists (only its hash is stored)

    @property
    def done(self) -> List[str]:
        finished = [s for s in self.steps.values() if s.completed_at]
        return [s.step_id for s in sorted(finished, key=lambda s: s.completed_at)]

    @property
    def in_progress(self) -> List[str]:
        return [s.step_id for s in self.steps.values() if not s.completed_at]


def _ids(value: str) -> List[str]:
    return [v for v in (value or "").split(",") if v]


def database_url() -> str:
    return os.environ.get("PROGRESS_DB_URL") or DEFAULT_URL


@functools.lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    kwargs = {"future": True, "pool_pre_ping": True}
    if url.startswith("sqlite"):
        # How long a write waits for a SQLite file another connection has locked before failing.
        lock_timeout = float(os.environ.get("PROGRESS_DB_LOCK_TIMEOUT", "10"))
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": lock_timeout}
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # SQLAlchemy 1.4 opens a new SQLite connection for every session of a file database
            # (NullPool); a pool keeps them, as SQLAlchemy 2.0 does by default (0.8 -> 0.3 ms a
            # session here). Same transactions, same locking: `_retry_once` still disposes it.
            kwargs["poolclass"] = QueuePool
    return create_engine(url, **kwargs)


class ProgressStore:
    """Progress of one installation, by sender id. Cheap to create; the engine is shared."""

    def __init__(self, url: Optional[str] = None, engine: Optional[Engine] = None) -> None:
        self.url = url or database_url()
        self._given_engine = engine

    @property
    def engine(self) -> Engine:
        return self._given_engine or _engine(self.url)

    def _session(self) -> Session:
        return Session(self.engine, future=True)

    # ------------------------------------------------------------------ reads
    @_retry_once
    def profile(self, sender_id: str) -> Profile:
        with self._session() as session:
            user = session.get(User, sender_id)
            flag = session.get(SafetyFlag, sender_id)
            signs = (
                session.execute(
                    select(SafetySign.kind)
                    .where(SafetySign.sender_id == sender_id)
                    .order_by(SafetySign.noted_at, SafetySign.id)
                )
                .scalars()
                .all()
            )
            profile = Profile(
                sender_id=sender_id,
                flagged=flag is not None,
                flag_reopenable=flag is not None and flag.reopenable is not False,
                signs=list(signs),
            )
            if user is None:
                return profile
            profile.known = True
            profile.consent = user.consent
            profile.resume_code = (
                session.execute(select(ResumeCode.code_hash).where(ResumeCode.sender_id == sender_id)).first()
                is not None
            )
            profile.region = user.region
            profile.onboarded = user.onboarded_at is not None
            rows = session.execute(select(StepProgress).where(StepProgress.sender_id == sender_id)).scalars()
            profile.steps = {r.step_id: StepState(r.step_id, r.started_at, r.completed_at) for r in rows}
            answers = session.execute(
                select(Reflection)
                .where(Reflection.sender_id == sender_id)
                .order_by(Reflection.created_at, Reflection.id)
            ).scalars()
            profile.answers = [{"step_id": a.step_id, "answer": a.answer, "created_at": a.created_at} for a in answers]
            runs = session.execute(
                select(PracticeRun)
                .where(PracticeRun.sender_id == sender_id)
                .order_by(PracticeRun.created_at, PracticeRun.id)
            ).scalars()
            profile.practice_runs = [
                {
                    "persona": r.persona,
                    "outcome": r.outcome,
                    "turns": r.turns,
                    "created_at": r.created_at,
                    "techniques_used": _ids(r.techniques_used),
                    "techniques_missed": _ids(r.techniques_missed),
                    "pitfalls": _ids(r.pitfalls),
                }
                for r in runs
            ]
            return profile

    @_retry_once
    def is_flagged(self, sender_id: str) -> bool:
        with self._session() as session:
            return session.get(SafetyFlag, sender_id) is not None

    # ------------------------------------------------------------------ writes
    @_retry_once
    def flag(
        self, sender_id: str, tier: Optional[str] = None, source: Optional[str] = None, reopenable: bool = True
    ) -> None:
        """Record that a violence signal was seen. Written even without consent. A second flag keeps
        the first's time and can only make it less reopenable."""
        with self._session() as session, session.begin():
            row = session.get(SafetyFlag, sender_id)
            if row is None:
                session.add(SafetyFlag(sender_id=sender_id, tier=tier, source=source, reopenable=reopenable))
            else:
                row.reopenable = (row.reopenable is not False) and reopenable
                row.tier = row.tier or tier
                row.source = row.source or source

    @_retry_once
    def unflag(self, sender_id: str) -> bool:
        """Reopen the partner steps after a clear, checked statement (bot/actions/safety.py). Only a
        reopenable flag goes; the quiet signs noted stay. True when a flag was removed."""
        with self._session() as session, session.begin():
            row = session.get(SafetyFlag, sender_id)
            if row is None or row.reopenable is False:
                return False
            session.delete(row)
            return True

    @_retry_once
    def note_sign(self, sender_id: str, kind: str) -> None:
        """Record a quiet sign's kind (written even without consent, like the flag)."""
        with self._session() as session, session.begin():
            session.add(SafetySign(sender_id=sender_id, kind=str(kind)[:32]))

    @_retry_once
    def set_consent(self, sender_id: str, consent: bool) -> None:
        """Record the choice. Saying no deletes any stored progress (the safety flag stays)."""
        with self._session() as session, session.begin():
            if consent:
                user = session.get(User, sender_id)
                if user is None:
                    session.add(User(sender_id=sender_id, consent=True))
                else:
                    user.consent = True
            else:
                session.execute(delete(PracticeRun).where(PracticeRun.sender_id == sender_id))
                session.execute(delete(Reflection).where(Reflection.sender_id == sender_id))
                session.execute(delete(StepProgress).where(StepProgress.sender_id == sender_id))
                session.execute(delete(ResumeCode).where(ResumeCode.sender_id == sender_id))
                session.execute(delete(User).where(User.sender_id == sender_id))

    @_retry_once
    def save_practice_run(
        self,
        sender_id: str,
        persona: str,
        outcome: str,
        turns: int,
        used: List[str],
        missed: List[str],
        pitfalls: List[str],
    ) -> bool:
        with self._session() as session, session.begin():
            if self._consenting_user(session, sender_id) is None:
                return False
            session.add(
                PracticeRun(
                    sender_id=sender_id,
                    persona=persona,
                    outcome=outcome,
                    turns=turns,
                    techniques_used=",".join(used),
                    techniques_missed=",".join(missed),
                    pitfalls=",".join(pitfalls),
                )
            )
            return True

    @_retry_once
    def reset_progress(self, sender_id: str) -> None:
        """ "Start over": forget steps, answers and practice runs. Consent, country and the flag stay."""
        with self._session() as session, session.begin():
            session.execute(delete(PracticeRun).where(PracticeRun.sender_id == sender_id))
            session.execute(delete(Reflection).where(Reflection.sender_id == sender_id))
            session.execute(delete(StepProgress).where(StepProgress.sender_id == sender_id))

    def _consenting_user(self, session: Session, sender_id: str) -> Optional[User]:
        user = session.get(User, sender_id)
        return user if user is not None and user.consent else None

    @_retry_once
    def set_region(self, sender_id: str, region: str) -> bool:
        with self._session() as session, session.begin():
            user = self._consenting_user(session, sender_id)
            if user is None:
                return False
            user.region = region
            return True

    @_retry_once
    def mark_onboarded(self, sender_id: str) -> bool:
        with self._session() as session, session.begin():
            user = self._consenting_user(session, sender_id)
            if user is None:
                return False
            if user.onboarded_at is None:
                user.onboarded_at = utcnow()
            return True

    @_retry_once
    def start_step(self, sender_id: str, step_id: str) -> bool:
        with self._session() as session, session.begin():
            if self._consenting_user(session, sender_id) is None:
                return False
            row = session.execute(
                select(StepProgress).where(StepProgress.sender_id == sender_id, StepProgress.step_id == step_id)
            ).scalar_one_or_none()
            if row is None:
                session.add(StepProgress(sender_id=sender_id, step_id=step_id))
            return True

    @_retry_once
    def complete_step(self, sender_id: str, step_id: str, answer: str) -> bool:
        """Store the answer and mark the step done, in one transaction (all or nothing)."""
        with self._session() as session, session.begin():
            if self._consenting_user(session, sender_id) is None:
                return False
            now = utcnow()
            row = session.execute(
                select(StepProgress).where(StepProgress.sender_id == sender_id, StepProgress.step_id == step_id)
            ).scalar_one_or_none()
            if row is None:
                row = StepProgress(sender_id=sender_id, step_id=step_id, started_at=now)
                session.add(row)
            row.completed_at = now
            answer = answer[:MAX_ANSWER_CHARS]
            latest = session.execute(
                select(Reflection)
                .where(Reflection.sender_id == sender_id, Reflection.step_id == step_id)
                .order_by(Reflection.created_at.desc(), Reflection.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            if latest is not None and latest.answer == answer and now - latest.created_at < RESENT_WITHIN:
                # The same answer again within minutes: sent again because its reply never arrived
                # (a server stopped after saving it, before answering). Kept once.
                return True
            session.add(Reflection(sender_id=sender_id, step_id=step_id, answer=answer, created_at=now))
            return True

    # ------------------------------------------------------------------ resume codes
    @_retry_once
    def set_resume_code(self, sender_id: str, code_hash: str) -> bool:
        """Keep a new code's hash for a consenting person (an older code stops working)."""
        with self._session() as session, session.begin():
            if self._consenting_user(session, sender_id) is None:
                return False
            session.execute(delete(ResumeCode).where(ResumeCode.sender_id == sender_id))
            session.add(ResumeCode(code_hash=code_hash, sender_id=sender_id))
            return True

    @_retry_once
    def forget_resume_code(self, sender_id: str) -> bool:
        with self._session() as session, session.begin():
            return session.execute(delete(ResumeCode).where(ResumeCode.sender_id == sender_id)).rowcount > 0

    @_retry_once
    def has_resume_code(self, sender_id: str) -> bool:
        with self._session() as session:
            return (
                session.execute(select(ResumeCode.code_hash).where(ResumeCode.sender_id == sender_id)).first()
                is not None
            )

    @_retry_once
    def failed_resume_attempts(self, sender_id: Optional[str] = None, since: Optional[dt.datetime] = None) -> int:
        """Codes typed that matched nothing: by this conversation, or by everyone since a time."""
        from sqlalchemy import func

        query = select(func.count()).select_from(ResumeAttempt)
        if sender_id is not None:
            query = query.where(ResumeAttempt.sender_id == sender_id)
        if since is not None:
            query = query.where(ResumeAttempt.attempted_at >= since)
        with self._session() as session:
            return int(session.execute(query).scalar() or 0)

    @_retry_once
    def note_failed_resume_attempt(self, sender_id: str) -> None:
        with self._session() as session, session.begin():
            session.add(ResumeAttempt(sender_id=sender_id))

    @_retry_once
    def resume(self, sender_id: str, code_hash: str) -> Optional[str]:
        """Move the progress of the person whose code this is to this conversation, in one
        transaction; the earlier conversation's id, or None when no code matches. The safety flag
        and the quiet signs move too (a flag on either side stays); the code keeps working here."""
        with self._session() as session, session.begin():
            row = session.get(ResumeCode, code_hash)
            if row is None:
                return None
            old = row.sender_id
            if old == sender_id:
                return old
            old_user = session.get(User, old)
            new_user = session.get(User, sender_id)
            if new_user is None:
                new_user = User(sender_id=sender_id, consent=True)
                session.add(new_user)
                session.flush()
            if old_user is not None:
                new_user.consent = True
                new_user.region = old_user.region or new_user.region
                if old_user.onboarded_at and (
                    new_user.onboarded_at is None or old_user.onboarded_at < new_user.onboarded_at
                ):
                    new_user.onboarded_at = old_user.onboarded_at
                new_user.created_at = min(new_user.created_at or old_user.created_at, old_user.created_at)
            have = {
                r.step_id: r
                for r in session.execute(select(StepProgress).where(StepProgress.sender_id == sender_id)).scalars()
            }
            for item in session.execute(select(StepProgress).where(StepProgress.sender_id == old)).scalars():
                here = have.get(item.step_id)
                if here is None:
                    item.sender_id = sender_id
                    continue
                # The same step in both: keep the earlier start and any completion.
                here.started_at = min(here.started_at, item.started_at)
                here.completed_at = here.completed_at or item.completed_at
                session.delete(item)
            for model in (Reflection, PracticeRun, SafetySign):
                for item in session.execute(select(model).where(model.sender_id == old)).scalars():
                    item.sender_id = sender_id
            old_flag = session.get(SafetyFlag, old)
            if old_flag is not None:
                new_flag = session.get(SafetyFlag, sender_id)
                if new_flag is None:
                    session.add(
                        SafetyFlag(
                            sender_id=sender_id,
                            flagged_at=old_flag.flagged_at,
                            tier=old_flag.tier,
                            source=old_flag.source,
                            reopenable=old_flag.reopenable,
                        )
                    )
                else:
                    new_flag.reopenable = (new_flag.reopenable is not False) and (old_flag.reopenable is not False)
                session.delete(old_flag)
            session.delete(row)
            session.flush()
            session.add(ResumeCode(code_hash=code_hash, sender_id=sender_id))
            if old_user is not None:
                session.flush()
                session.delete(old_user)
            return old


def upgrade(url: Optional[str] = None) -> None:
    """Apply the Alembic migrations to `url` (default: PROGRESS_DB_URL)."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.attributes["url"] = url or database_url()
    _engine(config.attributes["url"])  # creates the SQLite directory if needed
    command.upgrade(config, "head")


if __name__ == "__main__":
    if sys.argv[1:] == ["upgrade"]:
        upgrade()
        print(f"progress database at head: {database_url()}")
    else:
        print("usage: python -m bot.progress.store upgrade")
        sys.exit(2)
