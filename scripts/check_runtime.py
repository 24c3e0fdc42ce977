"""Warn when the bot runs on a Python that no longer gets security fixes (scripts/run.sh, make run).

Rasa Open Source 3.6, the last open-source Rasa, runs only on Python 3.8 to 3.10, and all three
have reached their end of life at python.org (3.10 in October 2026). From then on, only an operating
system that still patches its own build of that Python keeps it safe (README, "Runtime support"):

- Ubuntu 22.04 LTS, /usr/bin/python3.10: standard security maintenance until April 2027, Ubuntu Pro
  (Expanded Security Maintenance) until April 2032.
- RHEL 9 and its rebuilds (Rocky Linux 9, AlmaLinux 9), /usr/bin/python3.9: patched for the life of
  RHEL 9 (maintenance until May 2032). Rasa 3.6 supports 3.9; this project is tested on 3.10 only.

Anything else (pyenv, a python.org build, a container's own build) gets a warning naming the
interpreter. A warning, never a refusal: the bot still runs. Exit status 0 either way.

    .venv/bin/python scripts/check_runtime.py
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Dict, Optional, Tuple

# End of life at python.org, by month (PEP 569, PEP 596, PEP 619): counted from the month's end.
END_OF_LIFE = {(3, 8): dt.date(2024, 10, 31), (3, 9): dt.date(2025, 10, 31), (3, 10): dt.date(2026, 10, 31)}
# (os-release ID or ID_LIKE, VERSION_ID major, interpreter path, Python) -> who patches it, until when (for the reader)
PATCHED = {
    (
        "ubuntu",
        "22",
        "/usr/bin/python3.10",
        (3, 10),
    ): "Ubuntu 22.04 LTS patches it (until April 2027; Ubuntu Pro until April 2032)",
    ("rhel", "9", "/usr/bin/python3.9", (3, 9)): "RHEL 9 patches it (until May 2032)",
}


def os_release(path: Path = Path("/etc/os-release")) -> Dict[str, str]:
    values: Dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return values
    for line in lines:
        key, _, value = line.partition("=")
        if key and value:
            values[key.strip()] = value.strip().strip('"')
    return values


def interpreter() -> str:
    """The real interpreter behind the virtual environment."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(base)


def verdict(
    version: Tuple[int, int], exe: str, release: Dict[str, str], today: Optional[dt.date] = None
) -> Optional[str]:
    """None when this Python still gets security fixes, else the warning."""
    today = today or dt.date.today()
    eol = END_OF_LIFE.get(version)
    if eol is None or today <= eol:
        return None
    families = {release.get("ID", "")} | set(release.get("ID_LIKE", "").split())
    major = release.get("VERSION_ID", "").split(".")[0]
    for family, os_major, path, python in PATCHED:
        # The os-release path is read as given (the real path of /usr/bin/python3.10 may be itself).
        if family in families and os_major == major and python == version and exe in (path, os.path.realpath(path)):
            return None
    name = release.get("PRETTY_NAME", "this system")
    return (
        f"warning: Python {version[0]}.{version[1]} reached its end of life in {eol:%B %Y} and {exe} "
        f"({name}) gets no security fixes from python.org any more. Rasa 3.6 runs only on Python "
        "3.8-3.10: run the bot on an operating system that still patches its own Python, such as "
        'Ubuntu 22.04 LTS with /usr/bin/python3.10 (README, "Runtime support"; docs/operating.md).'
    )


def main() -> int:
    message = verdict(sys.version_info[:2], interpreter(), os_release())
    if message:
        print(message, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
