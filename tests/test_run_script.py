"""scripts/run.sh refuses to open Rasa's HTTP API without a token (before starting anything)."""

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_script(**env):
    return subprocess.run(
        ["scripts/run.sh"], cwd=REPO_ROOT, env=dict(os.environ, **env), capture_output=True, text=True, timeout=60
    )


def test_api_needs_a_token():
    for token in ("", "short"):
        result = run_script(RASA_ENABLE_API="true", RASA_API_TOKEN=token)
        assert result.returncode == 1
        assert "RASA_API_TOKEN" in result.stderr
