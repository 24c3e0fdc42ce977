"""What the scale tests need besides Python: Debian's PostgreSQL, Redis and nginx (`.ci/run` installs them).

On a laptop without them these tests skip; under CI=true they fail.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Optional

import pytest

from tests.integration.conftest import IN_CI, free_port


def postgres_bin() -> Optional[Path]:
    """Where scripts/run_scaled.sh finds PostgreSQL: PG_BIN, the newest Debian version, or PATH."""
    if os.environ.get("PG_BIN"):
        candidates = [Path(os.environ["PG_BIN"]) / "initdb"]
    else:
        debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
        candidates = [Path(p) for p in debian[-1:] + [shutil.which("initdb") or ""] if p]
    found = [c for c in candidates if c.is_file()]
    return found[0].parent if found else None


def require(*what: str) -> None:
    """Skip (fail under CI) when PostgreSQL, Redis or nginx is missing."""
    missing = []
    if "postgresql" in what and postgres_bin() is None:
        missing.append("PostgreSQL (apt-get install postgresql)")
    if "redis" in what and shutil.which("redis-server") is None:
        missing.append("Redis (apt-get install redis-server)")
    if "nginx" in what and shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"):
        missing.append("nginx (apt-get install nginx)")
    if missing:
        message = "missing: " + ", ".join(missing)
        if IN_CI:
            pytest.fail(message + " (.ci/run installs them)")
        pytest.skip(message)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A throw-away redis-server on a free loopback port, nothing saved."""
    require("redis")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.time() + 10
    while True:
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)
