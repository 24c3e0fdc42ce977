"""Custom actions (rasa-sdk). `rasa run actions --actions bot.actions` loads every module here.

Modules match the product's parts: onboarding, coaching, safety, practice (the rehearsal), privacy
and resume; the progress data lives in bot/progress/, content holds the coaching texts.
"""

import logging

from bot.content import practice as practice_settings
from bot.safety import hotlines

_logger = logging.getLogger(__name__)


def _warn_stale_hotlines() -> None:
    """Numbers change: remind the administrator at start-up (never fail because time passed)."""
    try:
        for line in hotlines.stale_entries(hotlines.load()):
            _logger.warning("hotline entry needs re-checking at its source: %s", line)
    except Exception:  # pragma: no cover - a broken file is caught by the tests
        _logger.exception("could not read the hotline file")


_warn_stale_hotlines()
# A broken practice file stops the action server here, with the bad field named, rather than
# giving users wrong prices later.
practice_settings.load()
