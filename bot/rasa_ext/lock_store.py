"""Rasa 3.6's RedisLockStore with its ticket changes made atomic (fix).

Rasa issues and returns a conversation's tickets by reading the lock from Redis, changing it and
writing it back, outside any transaction. With two Rasa processes that race loses messages:
measured here with two processes, 14 of 60 messages sent in pairs were lost
(tests/scale/test_scaled.py sends them again under this class and loses none).
`AtomicRedisLockStore` overrides four ticket methods of RedisLockStore (public, but their
read-modify-write is Rasa's internal protocol); bot/stores.py builds it from RASA_LOCK_STORE_URL.

A second fix: a ticket of a process that died (kill -9, out of memory) stays until it expires
(TICKET_LOCK_LIFETIME, 60 s), and every message of that conversation waits behind it: measured with
a Rasa process killed under 60 users, 1 % of the messages took 58 s. Here each process says in
Redis that it is alive (a key refreshed every 2 s, gone 10 s after the process), each ticket names
the process that holds it, and a waiting process drops the tickets of a process that is gone.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any, Callable, List, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore

from bot.rasa_ext.version import check_rasa_version

check_rasa_version()

T = TypeVar("T")

# A process is taken for gone when its key has not been refreshed for this long.
ALIVE_SECONDS = 10
BEAT_SECONDS = 2


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's RedisLockStore whose read-modify-write of a conversation's lock is one transaction.

    Rasa 3.6 issues and returns tickets by reading the lock, changing it and writing it back: two
    processes doing that at once both get the same ticket, or bring back a finished one, and then
    two messages of one user run at the same time (and one is lost) or the queue stalls until the
    ticket expires. Measured here with two processes: 14 of 60 messages lost, sent in pairs. The
    same ticket logic (Rasa's TicketLock) runs inside a Redis WATCH/MULTI transaction, retried when
    another process changed the lock in between; a lock without tickets is deleted in the same
    transaction.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.process_id = uuid.uuid4().hex
        self._stopped = threading.Event()
        self._beat()
        threading.Thread(target=self._keep_beating, name="lock-store-alive", daemon=True).start()

    def _alive_key(self, process_id: str) -> str:
        return f"{self.key_prefix}alive:{process_id}"

    def _holders_key(self, conversation_id: str) -> str:
        return f"{self.key_prefix}holders:{conversation_id}"

    def _beat(self) -> None:
        import redis

        try:
            self.red.set(self._alive_key(self.process_id), b"1", ex=ALIVE_SECONDS)
        except redis.exceptions.RedisError:
            pass  # the lock operations themselves report Redis being away

    def _keep_beating(self) -> None:
        while not self._stopped.wait(BEAT_SECONDS):
            self._beat()

    def stop_beating(self) -> None:
        """Stop saying this process is alive (tests; a process that exits stops anyway)."""
        self._stopped.set()
        self.red.delete(self._alive_key(self.process_id))

    def _tickets_of_gone_processes(self, conversation_id: str) -> List[int]:
        holders = {int(k): v.decode() for k, v in self.red.hgetall(self._holders_key(conversation_id)).items()}
        if not holders:
            return []
        processes = sorted(set(holders.values()))
        alive = dict(zip(processes, self.red.mget([self._alive_key(p) for p in processes])))
        gone = [ticket for ticket, process in holders.items() if alive.get(process) is None]
        if gone:
            self.red.hdel(self._holders_key(conversation_id), *gone)
        return gone

    def _change(self, conversation_id: str, change: Callable[[TicketLock], T]) -> T:
        import redis

        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    stored = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(stored)) if stored else self.create_lock(conversation_id)
                    result = change(lock)
                    pipe.multi()
                    if lock.is_someone_waiting():
                        pipe.set(key, lock.dumps())
                    else:
                        pipe.delete(key)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            ticket = self._change(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime))
            holders = self._holders_key(conversation_id)
            with self.red.pipeline() as pipe:
                pipe.hset(holders, str(ticket), self.process_id)
                pipe.expire(holders, int(lock_lifetime) + 60)
                pipe.execute()
            return ticket
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        """Rasa's: drop expired tickets; here also those of processes that are gone."""
        gone = self._tickets_of_gone_processes(conversation_id)

        def change(lock: TicketLock) -> None:
            lock.remove_expired_tickets()
            for ticket in gone:
                lock.remove_ticket_for(ticket)

        self._change(conversation_id, change)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._change(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number))
        self.red.hdel(self._holders_key(conversation_id), str(ticket_number))

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # Returning the ticket deletes a lock nobody waits for, in the same transaction.
        self.finish_serving(conversation_id, ticket_number)
