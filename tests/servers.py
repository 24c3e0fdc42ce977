"""The real servers as `make run` starts them (scripts/run.sh), on free ports with their own stores."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Dict, Optional

from tests.integration.conftest import REPO_ROOT, free_port, wait_for


def post(port: int, sender: str, text: str):
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


class Servers:
    """scripts/run.sh (action server, Rasa server, web page) on free ports with the given stores."""

    def __init__(self, workdir: Path, extra_env: Optional[Dict[str, str]] = None):
        self.rasa_port, self.actions_port, self.web_port = free_port(), free_port(), free_port()
        self.env = dict(
            os.environ,
            RASA_PORT=str(self.rasa_port),
            ACTIONS_PORT=str(self.actions_port),
            WEB_PORT=str(self.web_port),
            RASA_PUBLIC_URL=f"http://127.0.0.1:{self.rasa_port}",
            ACTION_ENDPOINT_URL=f"http://127.0.0.1:{self.actions_port}/webhook",
            RASA_TRACKER_DB=str(workdir / "tracker.db"),
            PROGRESS_DB_URL=f"sqlite:///{workdir / 'progress.db'}",
            PYTHONPATH=str(REPO_ROOT),
            **(extra_env or {}),
        )
        self.log = workdir / "servers.log"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["scripts/run.sh"], cwd=REPO_ROOT, env=self.env, start_new_session=True,
            stdout=open(self.log, "a"), stderr=subprocess.STDOUT,
        )
        wait_for(f"http://127.0.0.1:{self.actions_port}/health", self.proc, 180)
        wait_for(f"http://127.0.0.1:{self.web_port}/health", self.proc, 60)
        wait_for(f"http://127.0.0.1:{self.rasa_port}/", self.proc, 240)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # what Ctrl-C does
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                raise AssertionError("servers did not stop cleanly on Ctrl-C")
