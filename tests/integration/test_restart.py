"""Progress survives a restart of both servers: the real processes, started as `make run` does."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.conftest import IN_CI, MODEL, REPO_ROOT, free_port, wait_for
from tests.safety_harness import ONBOARDING_NEGATIVE

pytestmark = pytest.mark.integration


def post(port: int, sender: str, text: str):
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


class Servers:
    """scripts/run.sh (action server + Rasa server) on free ports with the given stores."""

    def __init__(self, workdir: Path):
        self.rasa_port, self.actions_port = free_port(), free_port()
        self.env = dict(
            os.environ,
            RASA_PORT=str(self.rasa_port),
            ACTIONS_PORT=str(self.actions_port),
            ACTION_ENDPOINT_URL=f"http://127.0.0.1:{self.actions_port}/webhook",
            RASA_TRACKER_DB=str(workdir / "tracker.db"),
            PROGRESS_DB_URL=f"sqlite:///{workdir / 'progress.db'}",
            PYTHONPATH=str(REPO_ROOT),
        )
        self.log = workdir / "servers.log"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["scripts/run.sh"], cwd=REPO_ROOT, env=self.env, start_new_session=True,
            stdout=open(self.log, "a"), stderr=subprocess.STDOUT,
        )
        wait_for(f"http://127.0.0.1:{self.actions_port}/health", self.proc, 180)
        wait_for(f"http://127.0.0.1:{self.rasa_port}/", self.proc, 240)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # what Ctrl-C does
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                raise AssertionError("servers did not stop cleanly on Ctrl-C")


@pytest.fixture
def servers(tmp_path):
    if not MODEL.exists():
        if IN_CI:
            pytest.fail("no trained model in CI")
        pytest.skip("no trained model: run `make train`")
    from bot.actions.progress_db import upgrade

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
