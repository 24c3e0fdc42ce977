"""Progress survives a restart of both servers: the real processes, started as `make run` does."""

from __future__ import annotations

import pytest

from tests.integration.conftest import IN_CI, MODEL
from tests.safety_harness import ONBOARDING_NEGATIVE
from tests.servers import Servers, post

pytestmark = pytest.mark.integration


@pytest.fixture
def servers(tmp_path):
    if not MODEL.exists():
        if IN_CI:
            pytest.fail("no trained model in CI")
        pytest.skip("no trained model: run `make train`")
    from bot.progress.store import upgrade

    upgrade(f"sqlite:///{tmp_path / 'progress.db'}")
    s = Servers(tmp_path)
    yield s
    s.stop()


def texts(replies):
    return "\n".join(r.get("text", "") for r in replies)


def test_progress_survives_a_restart_of_both_servers(servers):
    servers.start()
    sender = "restart-user"
    for text in ONBOARDING_NEGATIVE + ['/start_step{"step": "accountability"}']:
        replies = post(servers.rasa_port, sender, text)
    assert replies, "no reply over REST"
    replies = post(servers.rasa_port, sender, "I get defensive quickly and want to listen first.")
    assert "saved your answer" in texts(replies)

    servers.stop()
    assert servers.proc.returncode is not None
    servers.start()

    replies = post(servers.rasa_port, sender, "hi")
    text = texts(replies)
    assert 'finished "Hold yourself accountable"' in text, text
    assert "Make a long-term commitment" in text or "commitment" in text.lower()
    # A brand-new user still gets the introduction.
    assert "not therapy" in texts(post(servers.rasa_port, "someone-new", "hello"))
