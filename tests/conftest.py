"""Shared fixtures: a fresh progress database per test, trackers, dispatchers, the domain."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")


@pytest.fixture
def progress_db(tmp_path, monkeypatch):
    """A migrated SQLite progress database used by every ProgressStore() in the test."""
    from bot.progress.store import upgrade

    url = f"sqlite:///{tmp_path / 'progress.db'}"
    monkeypatch.setenv("PROGRESS_DB_URL", url)
    upgrade(url)
    return url


@pytest.fixture
def store(progress_db):
    from bot.progress.store import ProgressStore

    return ProgressStore(progress_db)


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    with open(REPO_ROOT / "domain.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture
def dispatcher():
    from rasa_sdk.executor import CollectingDispatcher

    return CollectingDispatcher()


def make_tracker(
    sender_id: str = "test-user",
    slots: Optional[Dict[str, Any]] = None,
    text: str = "",
    intent: Optional[str] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
    events: Optional[List[Dict[str, Any]]] = None,
    active_loop: Optional[str] = None,
):
    from rasa_sdk import Tracker

    base = {
        "violence_flag": False,
        "onboarded": False,
        "region": None,
        "consent_storage": None,
        "steps_done": [],
    }
    base.update(slots or {})
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": entities or []}
    return Tracker(
        sender_id,
        base,
        latest,
        events or [],
        False,
        None,
        {"name": active_loop} if active_loop else {},
        "action_listen",
    )


@pytest.fixture
def tracker_factory():
    return make_tracker


def load_eval(name: str) -> List[Dict[str, Any]]:
    with open(REPO_ROOT / "tests" / "safety" / name, encoding="utf-8") as f:
        return yaml.safe_load(f)["items"]
