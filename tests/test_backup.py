"""Backups of both databases and a restore (bot/progress/backup.py), on SQLite here; on PostgreSQL
in tests/scale/test_scaled.py."""

from __future__ import annotations

import json
import sqlite3

import pytest

from bot.progress import backup


def rows(path, table):
    with sqlite3.connect(path) as db:
        return db.execute(f"select * from {table} order by 1").fetchall()


def test_a_backup_restores_both_sqlite_databases(tmp_path, monkeypatch):
    tracker, progress = tmp_path / "tracker.db", tmp_path / "progress.db"
    for path, table in ((tracker, "events"), (progress, "reflections")):
        with sqlite3.connect(path) as db:
            db.execute(f"create table {table} (id integer primary key, text text)")
            db.execute(f"insert into {table} (text) values ('kept')")
    monkeypatch.setenv("RASA_TRACKER_DB_URL", f"sqlite:///{tracker}")
    monkeypatch.setenv("PROGRESS_DB_URL", f"sqlite:///{progress}")
    assert backup.main(["backup", str(tmp_path / "b")]) == 0
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert set(manifest["databases"]) == {"tracker", "progress"}
    assert "sqlite:///" not in json.dumps(manifest)  # no paths or URLs, only dialect and file names
    assert oct((tmp_path / "b" / "progress.sqlite").stat().st_mode & 0o777) == "0o600"
    # Lost after the backup, then restored.
    for path, table in ((tracker, "events"), (progress, "reflections")):
        with sqlite3.connect(path) as db:
            db.execute(f"delete from {table}")
            db.execute(f"insert into {table} (text) values ('after the backup')")
    assert backup.main(["restore", str(tmp_path / "b")]) == 0
    assert rows(tracker, "events") == [(1, "kept")]
    assert rows(progress, "reflections") == [(1, "kept")]


def test_a_restore_refuses_a_backup_of_another_kind(tmp_path, monkeypatch):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "manifest.json").write_text(
        json.dumps({"databases": {"tracker": {"dialect": "postgresql", "file": "tracker.pgdump"}}})
    )
    monkeypatch.setenv("RASA_TRACKER_DB_URL", f"sqlite:///{tmp_path / 't.db'}")
    with pytest.raises(SystemExit, match="the backup is postgresql"):
        backup.restore(tmp_path / "b")
    assert backup.main(["bogus"]) == 2
