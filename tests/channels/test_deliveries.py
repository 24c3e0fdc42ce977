"""The store that lets each webhook delivery be answered once (bot/channels/deliveries.py): in
memory for one process, in Redis for several (a real redis-server; under CI it must be there)."""

from __future__ import annotations

import pytest

from bot.channels import deliveries
from tests.scale.conftest import redis_url  # noqa: F401 - the fixture

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_in_memory_a_delivery_is_new_once_then_in_progress_then_done():
    store = deliveries.MemoryDeliveries()
    assert store.claim("telegram:1:10") == deliveries.NEW
    assert store.claim("telegram:1:10") == deliveries.IN_PROGRESS  # a retry while it is answered
    assert store.claim("telegram:1:11") == deliveries.NEW  # another update
    store.done("telegram:1:10")
    assert store.claim("telegram:1:10") == deliveries.DONE


def test_in_memory_a_claim_whose_process_never_finished_expires(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(deliveries, "_now", lambda: clock[0])
    store = deliveries.MemoryDeliveries()
    assert store.claim("slack:Ev1") == deliveries.NEW
    clock[0] += deliveries.CLAIM_SECONDS - 1
    assert store.claim("slack:Ev1") == deliveries.IN_PROGRESS
    clock[0] += 2  # the claim has expired: the handler died, the retry is handled
    assert store.claim("slack:Ev1") == deliveries.NEW
    store.done("slack:Ev1")
    clock[0] += deliveries.DONE_SECONDS - 1
    assert store.claim("slack:Ev1") == deliveries.DONE


def test_in_memory_the_store_is_bounded():
    store = deliveries.MemoryDeliveries(limit=3)
    for n in range(5):
        store.claim(f"k{n}")
        store.done(f"k{n}")
    assert store.claim("k4") == deliveries.DONE
    assert store.claim("k0") == deliveries.NEW  # the oldest were forgotten


def test_from_the_environment_redis_when_the_lock_store_is_redis(monkeypatch, redis_url):  # noqa: F811
    monkeypatch.delenv("RASA_LOCK_STORE_URL", raising=False)
    assert isinstance(deliveries.from_environment(), deliveries.MemoryDeliveries)
    monkeypatch.setenv("RASA_LOCK_STORE_URL", redis_url)
    assert isinstance(deliveries.from_environment(), deliveries.RedisDeliveries)


def test_in_redis_two_processes_share_the_claims(redis_url):  # noqa: F811
    one, other = deliveries.RedisDeliveries(redis_url), deliveries.RedisDeliveries(redis_url)
    assert one.claim("telegram:1:20") == deliveries.NEW
    assert other.claim("telegram:1:20") == deliveries.IN_PROGRESS
    one.done("telegram:1:20")
    assert other.claim("telegram:1:20") == deliveries.DONE
    ttl = one.red.ttl(deliveries.KEY_PREFIX + "telegram:1:20")
    assert deliveries.DONE_SECONDS - 60 < ttl <= deliveries.DONE_SECONDS
    assert other.claim("telegram:1:21") == deliveries.NEW
    assert 0 < one.red.ttl(deliveries.KEY_PREFIX + "telegram:1:21") <= deliveries.CLAIM_SECONDS
    # Only the platform's id and a state are kept.
    assert one.red.get(deliveries.KEY_PREFIX + "telegram:1:20") == b"done"


def test_in_redis_an_unanswering_redis_means_the_message_is_handled(caplog):
    store = deliveries.RedisDeliveries("redis://127.0.0.1:1/0")  # nothing listens there
    assert store.claim("slack:Ev2") == deliveries.NEW
    store.done("slack:Ev2")  # logged, not raised
    assert "Redis did not answer" in caplog.text
