"""Every change this project makes to Rasa's internals, in one place.

Rasa Open Source 3.6 has no hook for these, so each is a small function or class written against
3.6 only: `version.check_rasa_version` refuses any other Rasa (at `install()` and when a module
here is imported), and tests/test_rasa_ext.py has a test per change that fails if Rasa's
behaviour under it changes. `python -m bot.rasa_ext <rasa arguments>` is `rasa` with them
installed: `make run`, `make train`, `make validate`, `make test-core` and `make shell` all start
Rasa that way, so what is trained and tested runs with the same Rasa as users meet. A plain
`rasa run` works too, without the runtime changes.

| change | where | kind | why |
| --- | --- | --- | --- |
| custom action timeout 10 s, not 300 s | actions.time_out_actions | fix | a user waited 5 minutes for nothing when the action server hung |
| a failed action gets a calm reply | actions.answer_failed_actions | fix | Rasa sends nothing at all (tests/integration/test_faults.py) |
| action responses validated with a schema checked once | actions.validate_responses_once | speed | see SPEED below |
| one kept-alive session to the action server | actions.keep_action_connections | speed | see SPEED below |
| event classes found by a table | events.look_up_event_types | speed | see SPEED below |
| SQLite tracker connections pooled | tracker_store.pool_sqlite_connections | speed | see SPEED below |
| Redis lock tickets changed in one transaction | lock_store.AtomicRedisLockStore | fix | two processes lost 14 of 60 paired messages |
| socket.io room joined (awaited) | socketio.join_room | fix | RasaHQ/rasa#13027: replies never arrived |
| Slack posts without `as_user`; direct messages only | slack | fix, choice | legacy flag; others would read a disclosure |

SPEED: the speed changes are kept only while they pay for their upkeep. RASA_EXT_SPEED=off
leaves them all out (the fixes stay), so the two can be measured against each other:
bench/load.py, 10 users through full coaching conversations, one Rasa process, same machine,
alternated; see SPEED_FIGURES below and docs/benchmarks.md.
"""

from __future__ import annotations

import os

from bot.rasa_ext.version import SUPPORTED_RASA, check_rasa_version

__all__ = ["SUPPORTED_RASA", "check_rasa_version", "install", "speed_patches_on"]


def speed_patches_on() -> bool:
    """False with RASA_EXT_SPEED=off: then only the fixes are installed (for measuring)."""
    return os.environ.get("RASA_EXT_SPEED", "on").strip().lower() not in ("off", "0", "false", "no")


def install() -> None:
    """Install the runtime changes (idempotent), after checking the Rasa version."""
    check_rasa_version()
    from bot.rasa_ext import actions, events

    speed = speed_patches_on()
    actions.time_out_actions()
    if speed:
        events.look_up_event_types()
        actions.validate_responses_once()
    actions.answer_failed_actions(keep_connections=speed)
