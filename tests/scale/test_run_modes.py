"""scripts/run.sh's modes: `rasa` (one instance of the scaled setup), `actions`, `web`; the API rule
holds in each, and an unknown mode starts nothing."""

import os
import subprocess

from tests.integration.conftest import REPO_ROOT


def run_script(*args, **env):
    return subprocess.run(
        ["scripts/run.sh", *args],
        cwd=REPO_ROOT,
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_unknown_mode_starts_nothing():
    result = run_script("scaled")
    assert result.returncode == 2 and "usage: scripts/run.sh [run|shell|rasa|actions|web]" in result.stderr


def test_every_mode_keeps_the_api_closed_without_a_token():
    for mode in ("rasa", "actions", "web", "shell"):
        result = run_script(mode, RASA_ENABLE_API="true", RASA_API_TOKEN="short")
        assert result.returncode == 1 and "RASA_API_TOKEN" in result.stderr, mode
