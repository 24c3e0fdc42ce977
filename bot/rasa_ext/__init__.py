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
| action responses validated with a schema checked once | actions.validate_responses_once | speed | p50 4.9x slower without it (below) |
| one kept-alive session to the action server | actions.keep_action_connections | speed | p50 21 % slower without it (below) |
| every rule's states kept parsed | rule_policy.cache_every_rule_state | speed | RasaHQ/rasa#10703: a 1000-entry cache missed on all ~1,400 rule keys at every prediction; p50 1.53x without it (below) |
| Redis lock tickets changed in one transaction | lock_store.AtomicRedisLockStore | fix | two processes lost 14 of 60 paired messages |
| tickets of a process that is gone dropped | lock_store.AtomicRedisLockStore | fix | after a process was killed, its conversations waited up to 60 s |
| socket.io room joined (awaited) | socketio.join_room | fix | RasaHQ/rasa#13027: replies never arrived |
| Slack posts without `as_user`; direct messages only | slack | fix, choice | legacy flag; others would read a disclosure |

SPEED: a speed change is kept only while it pays for its upkeep. RASA_EXT_SPEED=off leaves them
all out, RASA_EXT_SPEED=without:<change>,... the ones named (the fixes stay), so they can be
measured against each other: bench/speed_changes.py (bench/load.py, 10 users through full
coaching conversations, one Rasa process, settings alternated, median of 2 runs; 2026-12-07, the
2-core machine; docs/benchmarks.md):

| RASA_EXT_SPEED | p50 | p95 | messages/s |
| --- | ---: | ---: | ---: |
| on (all three kept) | 52.5 ms | 102.9 ms | 12.80 |
| off | 452.6 ms | 1225.2 ms | 7.84 |
| without:validate_responses_once | 256.6 ms | 594.7 ms | 10.12 |
| without:keep_action_connections | 63.6 ms | 124.8 ms | 12.85 |
| without:cache_every_rule_state | 80.2 ms | 148.2 ms | 12.25 |

Two earlier speed changes were measured the same way and removed, as they bought nothing
measurable: a table for Rasa's event class lookup (p50 66.7 ms without it, against 66.6 ms with
it, before the rule cache) and a connection pool for the SQLite tracker store (67.4 ms without it).
"""

from __future__ import annotations

import os

from bot.rasa_ext.version import SUPPORTED_RASA, check_rasa_version

__all__ = ["SUPPORTED_RASA", "check_rasa_version", "install", "speed_patches_on"]


SPEED_CHANGES = ("validate_responses_once", "keep_action_connections", "cache_every_rule_state")


def speed_patches_on(change: str = "") -> bool:
    """Whether a speed change (or, without a name, any) is installed: not with RASA_EXT_SPEED=off,
    nor for a change named in RASA_EXT_SPEED=without:<change>,<change> (for measuring each)."""
    setting = os.environ.get("RASA_EXT_SPEED", "on").strip().lower()
    if setting in ("off", "0", "false", "no"):
        return False
    if setting.startswith("without:"):
        return change not in {name.strip() for name in setting[len("without:") :].split(",")}
    return True


def install() -> None:
    """Install the runtime changes (idempotent), after checking the Rasa version."""
    check_rasa_version()
    from bot.rasa_ext import actions, rule_policy

    actions.time_out_actions()
    if speed_patches_on("cache_every_rule_state"):
        rule_policy.cache_every_rule_state()
    if speed_patches_on("validate_responses_once"):
        actions.validate_responses_once()
    actions.answer_failed_actions(keep_connections=speed_patches_on("keep_action_connections"))
