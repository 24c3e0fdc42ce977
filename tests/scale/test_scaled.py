"""Several instances on real servers: scripts/run_scaled.sh (`make run-scaled`) on free ports, with
a real PostgreSQL (tracker store and progress database) and Redis (lock store), one action server
and two Rasa processes. Started once for the module (each Rasa process takes 35 s or more and
1.2 GB); the test that stops one Rasa process and the one that stops everything come last.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from sqlalchemy import create_engine, text

from tests.channels import conftest as channels
from tests.integration.conftest import IN_CI, MODEL, REPO_ROOT, free_port, wait_for
from tests.safety_harness import ONBOARDING_NEGATIVE
from tests.scale.conftest import require
from tests.servers import ctrl_c, post, start_script

pytestmark = pytest.mark.integration

INTO_STEP = ['/start_step{"step": "accountability"}']
ANSWER = "I get defensive quickly and want to listen first."
CONVERSATION = ONBOARDING_NEGATIVE + INTO_STEP + [ANSWER, "show my progress"]


class Scaled:
    """scripts/run_scaled.sh on free ports, its state in a fresh directory."""

    def __init__(self) -> None:
        # Under /tmp, open to other users: as root, PostgreSQL runs as the postgres user.
        self.dir = Path(tempfile.mkdtemp(prefix="scaled-"))
        self.dir.chmod(0o755)
        self.rasa_ports = [free_port(), free_port()]
        self.actions_port, self.web_port = free_port(), free_port()
        self.https_port, self.actions_proxy_port = free_port(), free_port()
        self.pg_port, self.redis_port = free_port(), free_port()
        self.log = self.dir / "run_scaled.log"
        # Telegram and Slack on, their outbound calls to a fake API (tests/channels/conftest.py).
        self.fake = channels.FakeAPI()
        self.env = dict(
            os.environ,
            RASA_PORTS=" ".join(map(str, self.rasa_ports)),
            ACTIONS_PORT=str(self.actions_port),
            WEB_PORT=str(self.web_port),
            HTTPS_PORT=str(self.https_port),
            ACTIONS_PROXY_PORT=str(self.actions_proxy_port),
            SCALED_PG_PORT=str(self.pg_port),
            SCALED_REDIS_PORT=str(self.redis_port),
            SCALED_DIR=str(self.dir),
            PYTHONPATH=str(REPO_ROOT),
            TELEGRAM_TOKEN=channels.TELEGRAM_TOKEN,
            TELEGRAM_WEBHOOK_URL=channels.TELEGRAM_WEBHOOK_URL,
            TELEGRAM_SECRET_TOKEN=channels.TELEGRAM_SECRET,
            TELEGRAM_API_URL=self.fake.url,
            TELEGRAM_MESSAGE_DB=str(self.dir / "telegram_messages.db"),
            SLACK_TOKEN=channels.SLACK_TOKEN,
            SLACK_SIGNING_SECRET=channels.SLACK_SIGNING_SECRET,
            SLACK_API_URL=self.fake.url + "/api/",
        )
        self.proc = None

    def start(self) -> None:
        self.proc = start_script("scripts/run_scaled.sh", self.env, self.log)
        wait_for(f"http://127.0.0.1:{self.actions_proxy_port}/health", self.proc, 240)  # through nginx
        wait_for(f"http://127.0.0.1:{self.web_port}/health", self.proc, 60)
        for port in self.rasa_ports:
            wait_for(f"http://127.0.0.1:{port}/", self.proc, 420)

    @property
    def secret(self) -> str:
        return (self.dir / "secret").read_text().strip()

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://coach:{self.secret}@127.0.0.1:{self.pg_port}/{database}"

    def rasa_pid(self, port: int) -> int:
        return self.pid(f"rasa-{port}")

    def pid(self, name: str) -> int:
        return int((self.dir / "run" / f"{name}.pid").read_text())

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def channel(self, port: int) -> channels.Bot:
        """One Rasa process, as the channel helpers post to it (post_telegram, post_slack)."""
        return channels.Bot(port, self.fake, self.dir / "unused.db", self.dir / "telegram_messages.db", self.log)

    def stop(self) -> None:
        ctrl_c(self.proc, 120)
        self.fake.stop()


@pytest.fixture(scope="module")
def scaled():
    if not MODEL.exists():
        if IN_CI:
            pytest.fail("no trained model in CI")
        pytest.skip("no trained model: run `make train`")
    require("postgresql", "redis", "nginx")
    s = Scaled()
    try:
        s.start()
        yield s
    finally:
        s.stop()
        shutil.rmtree(s.dir, ignore_errors=True)


def sender() -> str:
    return uuid.uuid4().hex


def _wordings() -> List[Tuple[str, str]]:
    """Texts the bot words differently per sender (curriculum.variant): compared as placeholders."""
    from bot.coaching import curriculum

    found = []
    for step in curriculum.steps():
        found += [(q, "<question>") for q in step.question] + [(a, "<acknowledgement>") for a in step.acknowledge]
    return sorted(found, key=lambda pair: -len(pair[0]))


def replies_of(replies: List[dict]) -> List[Tuple[str, List[str]]]:
    """Text and button payloads; wordings chosen by the sender id, and resume codes (random),
    become placeholders, so two senders' conversations compare equal when the bot did the same."""
    from bot.progress.codes import redact

    wordings = _wordings()
    out = []
    for r in replies:
        text = redact(r.get("text") or "")
        for wording, placeholder in wordings:
            text = text.replace(wording, placeholder)
        out.append((text, [b["payload"] for b in r.get("buttons") or []]))
    return out


def texts(replies: List[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def events(scaled: Scaled, who: str) -> List[Dict]:
    engine = create_engine(scaled.url("tracker"))
    try:
        with engine.connect() as conn:
            rows = (
                conn.execute(
                    text(
                        "select id, type_name, timestamp, intent_name, action_name, data from events "
                        "where sender_id = :s order by id"
                    ),
                    {"s": who},
                )
                .mappings()
                .all()
            )
    finally:
        engine.dispose()
    return [dict(row) for row in rows]


def user_texts(rows: List[Dict]) -> List[str]:
    return [json.loads(r["data"])["text"] for r in rows if r["type_name"] == "user"]


def assert_whole_turns(rows: List[Dict]) -> None:
    """Events in the order they happened, each message's turn complete before the next message."""
    stamps = [r["timestamp"] for r in rows]
    assert stamps == sorted(stamps), "events out of order"
    listening = True
    for row in rows:
        if row["type_name"] == "user":
            assert listening, "a message was handled while another one's turn was still running"
            listening = False
        elif row["type_name"] == "action" and row["action_name"] == "action_listen":
            listening = True
    assert listening, "the last turn did not finish"


def test_one_conversation_alternating_between_two_processes(scaled):
    a, b = scaled.rasa_ports
    alone, alternating = sender(), sender()
    for i, message in enumerate(CONVERSATION):
        reference = post(a, alone, message)
        got = post([a, b][i % 2], alternating, message)
        assert got, f"no reply to {message!r}"
        assert replies_of(got) == replies_of(reference), message
    rows, reference_rows = events(scaled, alternating), events(scaled, alone)
    assert user_texts(rows) == CONVERSATION
    assert_whole_turns(rows)
    # The same events, in the same order, as one process alone writes for the same conversation.
    assert [shape(r) for r in rows] == [shape(r) for r in reference_rows]


def shape(row: Dict) -> Tuple:
    return row["type_name"], row["intent_name"], row["action_name"]


def test_messages_of_one_user_at_once_on_both_processes_are_all_kept(scaled):
    a, b = scaled.rasa_ports
    who = sender()
    for i, message in enumerate(ONBOARDING_NEGATIVE):
        post([a, b][i % 2], who, message)
    sent, replies, errors = [], {}, []
    for pair in range(10):
        together = threading.Barrier(2)

        def send(port, message):
            together.wait()  # noqa: B023 (both threads run and are joined in this iteration)
            try:
                replies[message] = post(port, who, message)
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(repr(error))

        messages = [(a, f"show my progress, note {pair}a"), (b, f"show my progress, note {pair}b")]
        threads = [threading.Thread(target=send, args=m) for m in messages]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sent += [m for _, m in messages]
    assert not errors
    assert all("Your progress" in texts(replies[m]) for m in sent), replies
    rows = events(scaled, who)
    kept = user_texts(rows)[len(ONBOARDING_NEGATIVE) :]
    assert sorted(kept) == sorted(sent), "a message was lost or doubled"
    assert_whole_turns(rows)
    bot_after = [r for r in rows if r["type_name"] == "bot"][-len(sent) :]
    assert len(bot_after) == len(sent)


def test_progress_written_through_one_process_is_seen_through_the_other(scaled):
    a, b = scaled.rasa_ports
    who = sender()
    for message in ONBOARDING_NEGATIVE + INTO_STEP:
        post(a, who, message)
    assert "saved your answer" in texts(post(a, who, ANSWER))
    shown = texts(post(b, who, "show my progress"))
    assert "[x] Hold yourself accountable" in shown and ANSWER in shown
    # And the other way round: a step done through B, seen through A.
    post(b, who, '/start_step{"step": "commitment"}')
    assert "saved your answer" in texts(post(b, who, "I will stay with it for a year, whatever happens."))
    shown = texts(post(a, who, "show my progress"))
    assert "[x] Make a long-term commitment" in shown and "whatever happens" in shown
    engine = create_engine(scaled.url("progress"))
    try:
        with engine.connect() as conn:
            done = (
                conn.execute(
                    text(
                        "select step_id from step_progress where sender_id = :s and completed_at is not null "
                        "order by completed_at"
                    ),
                    {"s": who},
                )
                .scalars()
                .all()
            )
            answers = (
                conn.execute(text("select answer from reflections where sender_id = :s order by id"), {"s": who})
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert done == ["accountability", "commitment"]
    assert answers == [ANSWER, "I will stay with it for a year, whatever happens."]


def progress_counts(scaled: Scaled, who: str) -> Dict[str, int]:
    engine = create_engine(scaled.url("progress"))
    try:
        with engine.connect() as conn:
            return {
                t: conn.execute(text(f"select count(*) from {t} where sender_id = :s"), {"s": who}).scalar()
                for t in ("users", "step_progress", "reflections", "safety_flags", "practice_runs")
            }
    finally:
        engine.dispose()


def test_export_then_delete_my_data_on_postgresql_across_both_processes(scaled):
    """Export shows the answer; "delete my data" (asked through A, confirmed through B) leaves no
    event and no progress row of that person in PostgreSQL, and the next message starts afresh."""
    a, b = scaled.rasa_ports
    who, other = sender(), sender()
    for person in (who, other):
        for message in ONBOARDING_NEGATIVE + INTO_STEP + [ANSWER]:
            post(a, person, message)
    assert ANSWER in texts(post(b, who, "what do you store about me?"))
    assert "can't be undone" in texts(post(a, who, "delete my data"))
    reply = texts(post(b, who, "/affirm"))
    assert "deleted everything I stored about you" in reply and "1 answer" in reply
    assert events(scaled, who) == []
    assert set(progress_counts(scaled, who).values()) == {0}
    assert progress_counts(scaled, other)["reflections"] == 1 and events(scaled, other)
    assert "What do you store" not in texts(post(a, who, "hi"))
    assert [r for r in events(scaled, who) if r["type_name"] == "user"] != []  # a new conversation


def test_retention_on_postgresql_deletes_the_expired_and_keeps_live_users(scaled, monkeypatch, capsys):
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.progress import retention
    from bot.progress.store import ProgressStore
    from bot.stores import URLTrackerStore

    monkeypatch.delenv("RETENTION_DAYS", raising=False)
    a, _ = scaled.rasa_ports
    live, old = sender(), sender()
    for message in ONBOARDING_NEGATIVE + INTO_STEP + [ANSWER]:
        post(a, live, message)
    live_events = len(events(scaled, live))
    # Someone who last wrote 120 days ago: their conversation and progress, with old dates.
    long_ago = dt.datetime.utcnow() - dt.timedelta(days=120)
    tracker = DialogueStateTracker(old, [])
    tracker.update(UserUttered("hello", timestamp=long_ago.replace(tzinfo=dt.timezone.utc).timestamp()))
    store = URLTrackerStore(Domain.empty(), host=scaled.url("tracker"))
    asyncio.new_event_loop().run_until_complete(store.save(tracker))
    store.engine.dispose()
    progress = ProgressStore(scaled.url("progress"))
    progress.set_consent(old, True)
    progress.complete_step(old, "accountability", "an old answer")
    engine = create_engine(scaled.url("progress"))
    try:
        with engine.begin() as conn:
            for table, column in [
                ("users", "created_at"),
                ("users", "updated_at"),
                ("step_progress", "started_at"),
                ("step_progress", "completed_at"),
                ("reflections", "created_at"),
            ]:
                conn.execute(text(f"update {table} set {column} = :t where sender_id = :s"), {"t": long_ago, "s": old})
    finally:
        engine.dispose()

    monkeypatch.setenv("PROGRESS_DB_URL", scaled.url("progress"))
    monkeypatch.setenv("RASA_TRACKER_DB_URL", scaled.url("tracker"))
    assert retention.main(["retention", "--dry-run"]) == 0
    assert "1 person past the period" in capsys.readouterr().out
    report = retention.run_retention(90, scaled.url("progress"), scaled.url("tracker"))
    assert report.expired_senders == 1 and report.tracker_events >= 1 and report.progress_rows == 3
    assert events(scaled, old) == []
    assert progress.profile(old).known is False
    assert len(events(scaled, live)) == live_events and progress.profile(live).done == ["accountability"]
    # The live user's conversation goes on through the running processes.
    assert "Your progress" in texts(post(a, live, "show my progress"))


def test_a_delivery_sent_again_to_the_other_process_is_answered_once(scaled):
    """Telegram's and Slack's retries land on whichever process the load balancer picks: the claim
    in Redis (bot/channels/deliveries.py) makes the other process acknowledge it unanswered."""
    a, b = (scaled.channel(port) for port in scaled.rasa_ports)
    chat_id = 7901
    update = channels.telegram_message(chat_id, 1, "hi")
    mark = scaled.fake.mark()
    assert channels.post_telegram(a, update) == 200
    assert channels.post_telegram(b, update) == 200
    time.sleep(1)
    sent = [c for c in scaled.fake.since(mark, "telegram", "sendMessage") if c["params"]["chat_id"] == str(chat_id)]
    assert [c["params"]["text"] for c in sent].count(channels.question_text("consent_storage")) == 1
    assert user_texts(events(scaled, str(chat_id))) == ["hi"]

    user = "U0SCALED"
    body = channels.slack_dm(user, "hi")
    mark = scaled.fake.mark()
    assert channels.post_slack(a, body)[0] == 200
    scaled.fake.wait(
        lambda: [
            c for c in scaled.fake.since(mark, "slack", "chat.postMessage") if c["params"]["channel"] == f"D{user}"
        ]
    )
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
    assert channels.post_slack(b, body, extra_headers=retry)[0] == 200
    time.sleep(2)
    assert user_texts(events(scaled, user)) == ["hi"]
    consent = channels.question_text("consent_storage")
    slack_texts = [c["params"]["text"] for c in scaled.fake.since(mark, "slack", "chat.postMessage")]
    assert slack_texts.count(consent) == 1


def test_a_backup_of_both_postgresql_databases_restores_what_was_lost(scaled, tmp_path):
    """make backup / make restore (bot/progress/backup.py) on the scaled setup's PostgreSQL: a
    conversation and its saved answer come back, and the conversation goes on from them."""
    import subprocess
    import sys

    from bot.progress.store import ProgressStore

    who = sender()
    for message in CONVERSATION[:-1]:
        post(scaled.rasa_ports[0], who, message)
    env = dict(os.environ, RASA_TRACKER_DB_URL=scaled.url("tracker"), PROGRESS_DB_URL=scaled.url("progress"))
    run = [sys.executable, "-m", "bot.progress.backup"]
    made = subprocess.run(run + ["backup", str(tmp_path / "b")], env=env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    assert scaled.secret not in made.stdout + made.stderr
    events_before = len(events(scaled, who))
    # Lost: the conversation and the progress (as a broken disk or a wrong command would).
    for database, statement in (("tracker", "delete from events"), ("progress", "delete from reflections")):
        engine = create_engine(scaled.url(database))
        with engine.begin() as conn:
            conn.execute(text(statement))
        engine.dispose()
    assert events(scaled, who) == []
    done = subprocess.run(run + ["restore", str(tmp_path / "b")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(events(scaled, who)) == events_before
    assert ProgressStore(scaled.url("progress")).profile(who).answers
    assert "Your progress" in texts(post(scaled.rasa_ports[1], who, "show my progress"))


def killed(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 30
    while Path(f"/proc/{pid}").exists() and time.time() < deadline:
        time.sleep(0.1)


def test_a_killed_process_is_started_again_and_the_conversation_goes_on(scaled):
    """kill -9 (a crash, the out-of-memory killer): run_scaled.sh starts the process again, as a
    service manager would; meanwhile the other Rasa process and the calm failure reply carry on."""
    a, b = scaled.rasa_ports
    who = sender()
    for message in ONBOARDING_NEGATIVE + INTO_STEP:
        post(a, who, message)
    old_actions = scaled.pid("actions")
    killed(old_actions)
    # The action server is down: the step's answer gets the calm reply, nothing is saved twice.
    replies = post(a, who, ANSWER)
    assert "something went wrong on my side" in texts(replies), texts(replies)
    old_rasa = scaled.rasa_pid(b)
    killed(old_rasa)
    deadline = time.time() + 240
    while time.time() < deadline:
        try:
            if scaled.pid("actions") != old_actions and scaled.rasa_pid(b) != old_rasa:
                wait_for(f"http://127.0.0.1:{scaled.actions_proxy_port}/health", scaled.proc, 120)
                wait_for(f"http://127.0.0.1:{b}/", scaled.proc, 240)
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    output = scaled.output()
    assert "actions stopped (exit status 137); starting it again" in output
    assert f"rasa-{b} stopped (exit status 137); starting it again" in output
    # Sent again, the answer is saved once, through the restarted process.
    assert "saved your answer" in texts(post(b, who, ANSWER))
    assert "[x] Hold yourself accountable" in texts(post(a, who, "show my progress"))
    assert user_texts(events(scaled, who)).count(ANSWER) == 2  # the failed try and the one sent again


def test_when_one_process_stops_the_other_carries_on_with_the_conversation(scaled):
    a, b = scaled.rasa_ports
    who = sender()
    conversation = ONBOARDING_NEGATIVE + INTO_STEP
    for i, message in enumerate(conversation):
        post([a, b][(len(conversation) - 1 - i) % 2], who, message)  # the last one, into the step, to B
    pid = scaled.rasa_pid(b)
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 60
    while Path(f"/proc/{pid}").exists() and time.time() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists(), "the Rasa process did not stop on SIGTERM"
    with pytest.raises(OSError):
        post(b, who, "hello?")
    # A goes on where B stopped: the answer to B's question is saved.
    replies = post(a, who, ANSWER)
    assert "saved your answer" in texts(replies), texts(replies)
    assert "[x] Hold yourself accountable" in texts(post(a, who, "show my progress"))
    assert scaled.proc.poll() is None, "run_scaled.sh stopped with one Rasa instance left"
    time.sleep(1.5)
    assert f"Rasa on :{b} stopped; 1 instance(s) left" in scaled.output()


def test_ctrl_c_stops_everything_and_no_password_is_printed(scaled):
    secret = scaled.secret
    scaled.stop()
    assert scaled.proc.returncode == 0
    output = scaled.output()
    assert output.rstrip().endswith("stopped")
    assert secret not in output and secret not in (scaled.dir / "pg" / "postgres.log").read_text()
    assert ANSWER not in output  # nothing typed reaches the log at the default level
    ports = [*scaled.rasa_ports, scaled.actions_port, scaled.web_port, scaled.pg_port, scaled.redis_port]
    for port in ports + [scaled.https_port, scaled.actions_proxy_port]:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert not list((scaled.dir / "run").glob("*.pid"))
