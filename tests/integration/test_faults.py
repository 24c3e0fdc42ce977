"""Faults with the real processes (scripts/run.sh, as `make run` starts them): the action server
down or hanging, the progress database unavailable (its SQLite file locked by another process). The user gets a short, calm "try again in a moment", a disclosure still gets its
hotline in the same reply, nothing is half-written, and the conversation carries on when the
action server is back (the flag that could not be written then is written).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time

import pytest

from bench.servers import us_dv_number
from tests.integration.conftest import REPO_ROOT, require_model, wait_for
from tests.safety_harness import ONBOARDING_NEGATIVE
from tests.servers import Servers, default_ctrl_c, post

pytestmark = pytest.mark.integration

CALM = "something went wrong on my side"
ACTION_TIMEOUT = 3


def texts(replies):
    return "\n".join(r.get("text", "") for r in replies)


class Parts:
    """The action server and the Rasa server as separate processes (scripts/run.sh actions / rasa,
    as `make run-scaled` starts them), so that one can fail while the other runs."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.servers = Servers(
            workdir,
            extra_env={
                "ACTION_TIMEOUT_SECONDS": str(ACTION_TIMEOUT),
                "PROGRESS_DB_LOCK_TIMEOUT": "0.2",
                "PROGRESS_DB_RETRY_PAUSE": "0.1",
            },
        )
        self.env, self.log = self.servers.env, self.servers.log
        self.rasa_port, self.actions_port = self.servers.rasa_port, self.servers.actions_port
        self.procs = {}

    def start(self, part: str, health: str, seconds: float) -> None:
        proc = subprocess.Popen(
            ["scripts/run.sh", part],
            cwd=REPO_ROOT,
            env=self.env,
            start_new_session=True,
            preexec_fn=default_ctrl_c,
            stdout=open(self.log, "a"),
            stderr=subprocess.STDOUT,
        )
        self.procs[part] = proc
        wait_for(health, proc, seconds)

    def start_actions(self) -> None:
        self.start("actions", f"http://127.0.0.1:{self.actions_port}/health", 180)

    def stop(self, part: str) -> None:
        proc = self.procs.pop(part, None)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    require_model()
    workdir = tmp_path_factory.mktemp("faults")
    parts = Parts(workdir)
    subprocess.run(
        [".venv/bin/python", "-m", "bot.stores", "migrate"],
        cwd=REPO_ROOT,
        env=parts.env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    parts.start_actions()
    parts.start("rasa", f"http://127.0.0.1:{parts.rasa_port}/", 240)
    yield parts
    for part in list(parts.procs):
        parts.stop(part)


def flagged(servers, sender) -> bool:
    with sqlite3.connect(servers.workdir / "progress.db") as db:
        return db.execute("select count(*) from safety_flags where sender_id = ?", (sender,)).fetchone()[0] == 1


def test_action_server_down_calm_reply_hotline_still_works_and_recovery(servers):
    sender = "fault-down"
    for text in ONBOARDING_NEGATIVE:
        post(servers.rasa_port, sender, text)
    servers.stop("actions")

    # An ordinary message: the action is needed and fails -> the calm reply, once.
    reply = texts(post(servers.rasa_port, sender, "what's next?"))
    assert CALM in reply and reply.count(CALM) == 1
    # A disclosure: the hotline comes from Rasa itself, in the same reply.
    reply = texts(post(servers.rasa_port, sender, "he hit me last night"))
    assert us_dv_number() in reply
    assert not flagged(servers, sender)  # could not be written yet

    servers.start_actions()
    reply = texts(post(servers.rasa_port, sender, "show my progress"))
    assert reply and CALM not in reply
    # The flag that Rasa kept in the conversation is now in the progress database too.
    assert flagged(servers, sender)
    # And the partner path stays closed.
    reply = texts(post(servers.rasa_port, sender, "he says it's too expensive"))
    assert "won't coach you on persuading your partner" in reply


def test_a_hanging_action_server_times_out_calmly_and_nothing_is_half_written(servers):
    sender = "fault-slow"
    for text in ONBOARDING_NEGATIVE + ['/start_step{"step": "accountability"}']:
        post(servers.rasa_port, sender, text)
    pid = servers.procs["actions"].pid  # scripts/run.sh execs the action server
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        reply = texts(post(servers.rasa_port, sender, "I get defensive and I want to listen first."))
        waited = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    assert CALM in reply
    assert waited < ACTION_TIMEOUT * 4, f"the user waited {waited:.0f}s"
    time.sleep(1)
    with sqlite3.connect(servers.workdir / "progress.db") as db:
        answers = db.execute("select count(*) from reflections where sender_id = ?", (sender,)).fetchone()[0]
    # Either the late action finished its one transaction, or nothing of it is there: never half.
    with sqlite3.connect(servers.workdir / "progress.db") as db:
        done = db.execute(
            "select count(*) from step_progress where sender_id = ? and completed_at is not null", (sender,)
        ).fetchone()[0]
    assert answers == done
    # The conversation carries on.
    reply = texts(post(servers.rasa_port, sender, "menu"))
    assert reply and CALM not in reply


def test_progress_database_unavailable_the_answer_is_not_lost_silently(servers):
    """Another process holds the progress database's SQLite file locked: the save is tried twice,
    then the user is told it is NOT stored and nothing of it is written; once the lock is gone the
    same answer is saved."""
    sender = "fault-db"
    for text in ONBOARDING_NEGATIVE + ['/start_step{"step": "accountability"}']:
        post(servers.rasa_port, sender, text)
    locker = sqlite3.connect(servers.workdir / "progress.db", isolation_level=None, timeout=1)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        reply = texts(post(servers.rasa_port, sender, "I interrupt him and want to listen first."))
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert "NOT stored" in reply and CALM not in reply
    with sqlite3.connect(servers.workdir / "progress.db") as db:
        assert db.execute("select count(*) from reflections where sender_id = ?", (sender,)).fetchone()[0] == 0
    # The database is back: the step again, and the answer is saved.
    post(servers.rasa_port, sender, '/start_step{"step": "accountability"}')
    assert "saved your answer" in texts(post(servers.rasa_port, sender, "I interrupt him and want to listen first."))
    log = servers.log.read_text(errors="replace")
    assert "trying once more" in log and "I interrupt him" not in log


def test_an_answer_sent_again_after_the_action_server_was_down_is_saved(servers):
    """The user is told to try again; trying again must then work: the step is still waiting for
    the answer (the failed turn left the form as it was)."""
    sender = "fault-again"
    answer = "I get defensive and I want to listen first."
    for text in ONBOARDING_NEGATIVE + ['/start_step{"step": "accountability"}']:
        post(servers.rasa_port, sender, text)
    servers.stop("actions")
    try:
        assert CALM in texts(post(servers.rasa_port, sender, answer))
    finally:
        servers.start_actions()
    reply = texts(post(servers.rasa_port, sender, answer))
    assert "saved your answer" in reply, reply
    with sqlite3.connect(servers.workdir / "progress.db") as db:
        answers = db.execute("select count(*) from reflections where sender_id = ?", (sender,)).fetchone()[0]
    assert answers == 1
