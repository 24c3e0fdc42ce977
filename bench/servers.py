"""The real servers as `make run` starts them (scripts/run.sh), on free ports with their own stores,
and the small process helpers around them. Used by the benchmarks and by the tests; imports
nothing from tests/ (the bench stands alone)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {seconds}s")


def us_dv_number() -> str:
    """The US domestic-violence hotline number, as bot/safety/hotlines.yml gives it."""
    with open(REPO_ROOT / "bot" / "safety" / "hotlines.yml", encoding="utf-8") as f:
        data = yaml.safe_load(f)
    contact = data["regions"]["US"]["domestic_violence"][0]["contact"]
    return next(word.rstrip(",") for word in contact.split() if word[:1].isdigit() and "-" in word)


def post(port: int, sender: str, text: str):
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


class Nginx:
    """nginx in front of running servers, configured as scripts/run_scaled.sh configures it
    (scripts/nginx_conf.py, deploy/nginx.conf), on a free HTTPS port with a self-signed
    certificate; `cafile` verifies it. `socketio_hash` replaces the sticky socket.io balancing
    (only to show what happens without it)."""

    def __init__(
        self,
        workdir: Path,
        rasa_ports: List[int],
        web_port: int,
        actions_port: int,
        socketio_hash: Optional[str] = None,
    ) -> None:
        self.dir = workdir / "nginx"
        self.https_port, self.actions_proxy_port = free_port(), free_port()
        args = [
            sys.executable,
            str(REPO_ROOT / "scripts" / "nginx_conf.py"),
            "--dir",
            str(self.dir),
            "--https-port",
            str(self.https_port),
            "--rasa-ports",
            " ".join(map(str, rasa_ports)),
            "--web-port",
            str(web_port),
            "--actions-port",
            str(actions_port),
            "--actions-proxy-port",
            str(self.actions_proxy_port),
        ]
        if socketio_hash is not None:
            args += ["--socketio-hash", socketio_hash]
        made = subprocess.run(args, capture_output=True, text=True, cwd=REPO_ROOT, check=False)
        if made.returncode != 0:
            raise RuntimeError(f"nginx could not be set up: {made.stderr.strip()}")
        self.command = shlex.split(made.stdout.strip().splitlines()[-1])
        self.cafile = self.dir / "tls" / "cert.pem"
        self.url = f"https://localhost:{self.https_port}"
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.command + ["-g", "daemon off;"],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "stderr.log", "a"),
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx stopped: {(self.dir / 'error.log').read_text(errors='replace')[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", self.https_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not listen within 20 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # nginx's fast shutdown
            self.proc.wait(timeout=20)

    def access_log(self) -> List[str]:
        path = self.dir / "access.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []


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
            RASA_TRACKER_DB_URL=f"sqlite:///{workdir / 'tracker.db'}",
            RASA_LOCK_STORE_URL="",  # one Rasa process: the in-memory lock store
            PROGRESS_DB_URL=f"sqlite:///{workdir / 'progress.db'}",
            PYTHONPATH=str(REPO_ROOT),
            **(extra_env or {}),
        )
        self.log = workdir / "servers.log"
        self.proc = None

    def start(self):
        self.proc = start_script("scripts/run.sh", self.env, self.log)
        wait_for(f"http://127.0.0.1:{self.actions_port}/health", self.proc, 180)
        wait_for(f"http://127.0.0.1:{self.web_port}/health", self.proc, 60)
        wait_for(f"http://127.0.0.1:{self.rasa_port}/", self.proc, 240)

    def stop(self):
        ctrl_c(self.proc, 60)


def default_ctrl_c() -> None:
    """In the child before exec: Ctrl-C (SIGINT) back to its default action. A test run started in
    the background of a script (`cmd &`) inherits SIGINT ignored, and a shell cannot trap a signal
    ignored on entry, so scripts/run.sh would never see the tests' Ctrl-C (a CI run started with
    `&` failed five stops so); a terminal user's run.sh always gets it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_script(script: str, env: Dict[str, str], log: Path) -> subprocess.Popen:
    """A start script in its own session (so that a hung one can be killed whole), output to `log`,
    with Ctrl-C working as in a terminal."""
    return subprocess.Popen(
        [script],
        cwd=REPO_ROOT,
        env=env,
        start_new_session=True,
        preexec_fn=default_ctrl_c,
        stdout=open(log, "a"),
        stderr=subprocess.STDOUT,
    )


def _still_running(group: int) -> str:
    """The processes of a process group with what each is doing (py-spy dump when available), for
    the message of a test whose servers did not stop."""
    import shutil
    import sys

    lines = []
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent))
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) != group:
                continue
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ProcessLookupError):
            continue
        lines.append(f"- {entry}: {command[:160]}")
        if spy and "python" in command:
            dump = subprocess.run([spy, "dump", "--pid", entry], capture_output=True, text=True, timeout=30)
            lines.append("  " + (dump.stdout or dump.stderr)[-3000:].replace("\n", "\n  "))
    return "\n".join(lines)


def ctrl_c(proc: Optional[subprocess.Popen], seconds: float) -> None:
    """Stop a script from start_script as Ctrl-C does; fail if it takes longer than `seconds`,
    naming the processes left and where they were."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C does
        try:
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            left = _still_running(proc.pid)
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(
                f"{proc.args[0]} did not stop cleanly on Ctrl-C within {seconds:.0f} s; still running:\n{left}"
            ) from None
