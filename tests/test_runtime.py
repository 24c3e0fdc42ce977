"""The end-of-life warning of scripts/check_runtime.py (make run, make run-scaled)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from tests.integration.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import check_runtime  # noqa: E402

AFTER = dt.date(2026, 12, 7)
UBUNTU_22 = {"ID": "ubuntu", "VERSION_ID": "22.04", "PRETTY_NAME": "Ubuntu 22.04.5 LTS"}
ROCKY_9 = {"ID": "rocky", "ID_LIKE": "rhel centos fedora", "VERSION_ID": "9.4", "PRETTY_NAME": "Rocky Linux 9.4"}
DEBIAN_12 = {"ID": "debian", "VERSION_ID": "12", "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)"}


def test_an_interpreter_the_system_still_patches_gets_no_warning():
    assert check_runtime.verdict((3, 10), "/usr/bin/python3.10", UBUNTU_22, AFTER) is None
    assert check_runtime.verdict((3, 9), "/usr/bin/python3.9", ROCKY_9, AFTER) is None


def test_an_unpatched_python_after_its_end_of_life_is_named():
    pyenv = "/root/.pyenv/versions/3.10.13/bin/python3.10"
    message = check_runtime.verdict((3, 10), pyenv, DEBIAN_12, AFTER)
    assert message and pyenv in message and "October 2026" in message and "Ubuntu 22.04" in message
    # The system's Python, but on a system that does not patch 3.10 (Ubuntu 24.04 ships 3.12).
    ubuntu_24 = {"ID": "ubuntu", "VERSION_ID": "24.04"}
    assert check_runtime.verdict((3, 10), "/usr/bin/python3.10", ubuntu_24, AFTER)
    # A private build on Ubuntu 22.04 is not the one Ubuntu patches.
    assert check_runtime.verdict((3, 10), pyenv, UBUNTU_22, AFTER)


def test_before_the_end_of_life_nothing_is_said():
    assert check_runtime.verdict((3, 10), "/opt/python/bin/python3.10", DEBIAN_12, dt.date(2026, 10, 1)) is None


def test_the_script_warns_and_never_fails():
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "check_runtime.py")], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout == ""
    expected = check_runtime.verdict(sys.version_info[:2], check_runtime.interpreter(), check_runtime.os_release())
    assert out.stderr.strip() == (expected or "")
