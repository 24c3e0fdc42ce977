"""Rasa 3.6's RulePolicy with every rule's states kept parsed (speed).

At every prediction RulePolicy filters all its memorised rules: for each rule key (the rule's
states as a JSON string) `_rule_key_to_state` parses the JSON, behind an `lru_cache` of 1000
entries. This bot's rules expand to 1,132 keys plus 273 for forms' unhappy paths (the generated
safety rules: every safety intent in every form), and a cache smaller than a loop it serves misses
every time, so every prediction parsed every rule again: the rule policy took 46 % of the Rasa
process's busy time (bench/profile_servers.py, one user, 2026-12-07; 15 % with 484 rules before).
Known upstream: RasaHQ/rasa#10703 ("Rule policy consumes a lot of CPU at inference time"); the
larger cache proposed there (RasaHQ/rasa#10704) was never merged.

`cache_every_rule_state` puts the same function behind a cache big enough for every key. Same
results (the cached lists were already shared by every caller), a few MB more memory. Measured
(bench/speed_changes.py, 10 users, median of 2 runs): p50 52.5 ms with it, 80.2 ms without.
"""

from __future__ import annotations

import functools

from bot.rasa_ext.version import check_rasa_version

check_rasa_version()

# Far above the keys a bot has (this one: about 1,400), still a bound for a long-running process.
RULE_STATE_CACHE_SIZE = 65536


def cache_every_rule_state() -> None:
    """Give RulePolicy._rule_key_to_state a cache that holds every rule key (idempotent)."""
    from rasa.core.policies.rule_policy import RulePolicy

    current = RulePolicy.__dict__["_rule_key_to_state"].__func__
    if getattr(current, "_cache_every_rule", False):
        return
    parse = getattr(current, "__wrapped__", current)  # Rasa's function without its small cache
    cached = functools.lru_cache(maxsize=RULE_STATE_CACHE_SIZE)(parse)
    cached._cache_every_rule = True  # type: ignore[attr-defined]
    cached._rasa_own = current  # type: ignore[attr-defined]  # Rasa's, with its cache (for tests)
    RulePolicy._rule_key_to_state = staticmethod(cached)  # type: ignore[method-assign]
