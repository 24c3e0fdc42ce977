"""Back up and restore both databases: the tracker store (the conversations) and the progress
database (steps, answers, safety flags). Redis holds only locks and delivery keys, which live
seconds to a day: it needs no backup.

    python -m bot.progress.backup backup  DIR    # make backup BACKUP_DIR=...
    python -m bot.progress.backup restore DIR    # make restore BACKUP_DIR=...  (servers stopped)

The URLs are the ones the servers use (RASA_TRACKER_DB_URL or RASA_TRACKER_DB, PROGRESS_DB_URL).
PostgreSQL: `pg_dump --format=custom` per database, restored with `pg_restore --clean
--single-transaction` (all or nothing); the password goes through the environment, never the
command line. SQLite: SQLite's online backup (consistent while the bot runs), restored the same
way. DIR gets `tracker.*`, `progress.*` and `manifest.json` (dialect, time, sizes: no secret).
A backup holds what people wrote about their relationships: keep it encrypted, on a machine as
private as the databases, and delete it by the retention period (docs/operating.md).
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from sqlalchemy.engine import URL, make_url

from bot.progress.retention import tracker_url
from bot.progress.store import database_url

USAGE = "usage: python -m bot.progress.backup backup|restore DIR"


def databases() -> Dict[str, str]:
    return {"tracker": tracker_url(), "progress": database_url()}


def _pg_program(name: str) -> str:
    """pg_dump / pg_restore: PG_BIN, else the newest Debian PostgreSQL, else PATH."""
    candidates = [Path(os.environ["PG_BIN"]) / name] if os.environ.get("PG_BIN") else []
    debian = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[-3]))
    candidates += [Path(p) for p in reversed(debian)]
    found = shutil.which(name)
    candidates += [Path(found)] if found else []
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    raise SystemExit(f"{name} is missing (Debian: apt-get install postgresql-client; or set PG_BIN)")


def _pg_args(url: URL) -> Tuple[List[str], Dict[str, str]]:
    args = ["--host", url.host or "localhost", "--port", str(url.port or 5432), "--username", url.username or ""]
    env = dict(os.environ, PGPASSWORD=url.password or "", PGCONNECT_TIMEOUT="10")
    return args, env


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise SystemExit("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy even while another process writes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    os.chmod(target, 0o600)


def backup(directory: Path) -> Dict[str, Dict[str, object]]:
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    manifest: Dict[str, Dict[str, object]] = {}
    for name, raw in databases().items():
        url = make_url(raw)
        if url.get_backend_name() == "postgresql":
            target = directory / f"{name}.pgdump"
            args, env = _pg_args(url)
            subprocess.run(
                [_pg_program("pg_dump"), *args, "--format=custom", "--no-owner", "--file", str(target), url.database],
                env=env,
                check=True,
            )
            os.chmod(target, 0o600)
        elif url.get_backend_name() == "sqlite":
            target = directory / f"{name}.sqlite"
            source = _sqlite_path(url)
            if not source.exists():
                raise SystemExit(f"{name}: {source} does not exist")
            _copy_sqlite(source, target)
        else:
            raise SystemExit(f"{name}: no backup for {url.get_backend_name()} databases")
        manifest[name] = {"dialect": url.get_backend_name(), "file": target.name, "bytes": target.stat().st_size}
    record = {"made": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "databases": manifest}
    (directory / "manifest.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return manifest


def restore(directory: Path) -> List[str]:
    """Replace both databases with the backup in `directory` (each in one transaction)."""
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))["databases"]
    done = []
    for name, raw in databases().items():
        if name not in manifest:
            raise SystemExit(f"the backup in {directory} has no {name} database")
        url = make_url(raw)
        entry = manifest[name]
        if entry["dialect"] != url.get_backend_name():
            raise SystemExit(f"{name}: the backup is {entry['dialect']}, the database is {url.get_backend_name()}")
        source = directory / str(entry["file"])
        if url.get_backend_name() == "postgresql":
            args, env = _pg_args(url)
            subprocess.run(
                [_pg_program("pg_restore"), *args, "--clean", "--if-exists", "--no-owner", "--single-transaction"]
                + ["--dbname", url.database or "", str(source)],
                env=env,
                check=True,
            )
        else:
            _copy_sqlite(source, _sqlite_path(url))
        done.append(name)
    return done


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] not in ("backup", "restore"):
        print(USAGE, file=sys.stderr)
        return 2
    directory = Path(argv[1])
    try:
        if argv[0] == "backup":
            made = backup(directory)
            print(f"backed up {', '.join(made)} to {directory}")
        else:
            print(f"restored {', '.join(restore(directory))} from {directory}")
    except subprocess.CalledProcessError as error:
        print(f"error: {Path(str(error.cmd[0])).name} failed (exit status {error.returncode})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
