"""One trained Agent and one action server per test session.

Locally these tests skip when no model is trained (`make train`); under CI=true a missing model
or a dead action server is a failure, never a skip.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.servers import free_port, wait_for  # noqa: E402,F401  (shared with the bench)

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL = REPO_ROOT / "bot" / "models" / "reluctant-partner-coach.tar.gz"
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_model() -> None:
    """Skip without a trained model on a laptop; fail in CI."""
    if not MODEL.exists():
        if IN_CI:
            pytest.fail("no trained model in CI")
        pytest.skip("no trained model: run `make train`")


@pytest.fixture(scope="session")
def event_loop():
    """One loop for the session-wide Agent (Rasa installs uvloop's policy: set it as current)."""
    import rasa.core.agent  # noqa: F401  (installs uvloop's policy first, which drops any current loop)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()


@pytest.fixture(scope="session")
def integration_db(tmp_path_factory):
    from bot.progress.store import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('integration') / 'progress.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def action_server(integration_db, tmp_path_factory):
    port = free_port()
    env = dict(os.environ, PROGRESS_DB_URL=integration_db, PYTHONPATH=str(REPO_ROOT))
    log = open(tmp_path_factory.mktemp("logs") / "actions.log", "w")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("rasa")),
            "run",
            "actions",
            "--actions",
            "bot.actions",
            "--port",
            str(port),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", proc)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="session")
def agent(action_server, event_loop):
    if not MODEL.exists():
        if IN_CI:
            pytest.fail(f"no trained model at {MODEL}: `make train` must run before the tests in CI")
        pytest.skip("no trained model: run `make train`")
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    logging.getLogger("rasa").setLevel(logging.WARNING)
    loaded = Agent.load(str(MODEL), action_endpoint=EndpointConfig(url=action_server))
    return loaded
