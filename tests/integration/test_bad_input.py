"""Bad input over REST against the real servers (scripts/run.sh, as `make run` starts them).

Each kind gets a calm reply, the server stays up, the next "hi" works, and what is stored reads
back intact: every tracker event is valid JSON and an over-long answer is kept whole up to the
store's limit.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from bench.servers import us_dv_number
from bot.progress.store import MAX_ANSWER_CHARS
from tests.integration.conftest import require_model
from tests.safety_harness import ONBOARDING_NEGATIVE
from tests.servers import Servers, post

pytestmark = pytest.mark.integration

BAD_INPUTS = {
    "empty": "",
    "whitespace": " \t\n  ",
    "nul and control characters": "hi\x00there\x07\x1b[31m",
    "20,000 characters": "we argue about money " * 953,
    "emoji only": "😀😢🙏",
    "right-to-left": "مرحبا، كيف حالك؟",
    "another script": "こんにちは、元気ですか",
    "markup": "<b>hi</b><img src=x onerror=alert(1)>",
    "script tag": "<script>alert('x')</script>",
    "SQL-looking": "'; DROP TABLE events; --",
    "JSON": '{"sender": "someone-else", "message": "/restart"}',
    "intent with entities": '/greet{"x":1}',
    "unknown intent": "/no_such_intent",
    "restart": "/restart",
    "format strings": "%s %d {0} {sender_id} %(name)s",
    "lone surrogate-like escapes": "\\ud800 \\u0000",
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    require_model()
    from bot.progress.store import upgrade

    workdir = tmp_path_factory.mktemp("bad-input")
    upgrade(f"sqlite:///{workdir / 'progress.db'}")
    s = Servers(workdir)
    s.workdir = workdir
    s.start()
    yield s
    s.stop()


def texts(replies):
    return "\n".join(r.get("text", "") for r in replies)


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_bad_input_gets_a_calm_reply_and_the_next_hi_works(servers, kind):
    sender = f"bad-{list(BAD_INPUTS).index(kind)}"
    replies = post(servers.rasa_port, sender, BAD_INPUTS[kind])
    text = texts(replies)
    assert text.strip(), f"no reply to {kind}"
    for word in ("Traceback", "Exception", "error:", "KeyError"):
        assert word not in text
    assert "<script" not in text and "onerror" not in text  # nothing of the input is echoed as markup
    after = texts(post(servers.rasa_port, sender, "hi"))
    assert after.strip(), f"no reply to hi after {kind}"


def test_empty_message_is_named_as_empty(servers):
    assert "came through empty" in texts(post(servers.rasa_port, "bad-empty-2", "   "))


def test_restart_is_calm_and_keeps_the_safety_flag(servers):
    sender = "bad-restart-flagged"
    assert us_dv_number() in texts(post(servers.rasa_port, sender, "he hit me last night"))
    assert "afresh" in texts(post(servers.rasa_port, sender, "/restart"))
    # After the restart the partner path stays closed: an objection gets support, not coaching.
    reply = texts(post(servers.rasa_port, sender, "he says therapy is too expensive"))
    assert "won't coach you on persuading your partner" in reply


def test_another_language_gets_the_english_only_note(servers):
    text = texts(post(servers.rasa_port, "bad-lang-1", "mi novio dice que la terapia es muy cara"))
    assert "only read English" in text
    assert us_dv_number() not in text


def test_danger_in_another_language_gets_the_hotline_in_the_same_reply(servers):
    text = texts(post(servers.rasa_port, "bad-lang-2", "mi esposo me pega"))
    assert "only read English" in text and us_dv_number() in text


def test_an_over_long_answer_is_stored_up_to_the_limit_and_everything_reads_back(servers):
    sender = "bad-long-answer"
    for text in ONBOARDING_NEGATIVE + ['/start_step{"step": "accountability"}']:
        post(servers.rasa_port, sender, text)
    answer = "I want to listen before I answer. " * 600  # about 20,000 characters
    assert "saved your answer" in texts(post(servers.rasa_port, sender, answer))
    with sqlite3.connect(servers.workdir / "progress.db") as db:
        stored = db.execute("select answer from reflections where sender_id = ?", (sender,)).fetchone()[0]
    assert len(stored) <= MAX_ANSWER_CHARS and stored.startswith("I want to listen before I answer.")
    with sqlite3.connect(servers.workdir / "tracker.db") as db:
        rows = db.execute("select data from events").fetchall()
    assert rows and all(isinstance(json.loads(data), dict) for (data,) in rows)
    log = (servers.workdir / "servers.log").read_text(errors="replace")
    assert "Traceback" not in log


def test_delete_my_data_on_sqlite_leaves_nothing_of_that_person(servers):
    sender = "privacy-sqlite"
    for text in ONBOARDING_NEGATIVE + ['/start_step{"step": "accountability"}', "I want to listen before I answer."]:
        post(servers.rasa_port, sender, text)
    assert "listen before I answer" in texts(post(servers.rasa_port, sender, "export my data"))
    post(servers.rasa_port, sender, "delete my data")
    assert "Okay, I haven't deleted anything." in texts(post(servers.rasa_port, sender, "/deny"))
    post(servers.rasa_port, sender, "delete my data")
    assert "deleted everything I stored about you" in texts(post(servers.rasa_port, sender, "/affirm"))
    with sqlite3.connect(servers.workdir / "tracker.db") as db:
        assert db.execute("select count(*) from events where sender_id = ?", (sender,)).fetchone()[0] == 0
    with sqlite3.connect(servers.workdir / "progress.db") as db:
        for table in ("users", "step_progress", "reflections", "safety_flags", "practice_runs"):
            assert db.execute(f"select count(*) from {table} where sender_id = ?", (sender,)).fetchone()[0] == 0
    # The next message is a new conversation: the introduction and the first question again.
    assert texts(post(servers.rasa_port, sender, "hi")).strip()
