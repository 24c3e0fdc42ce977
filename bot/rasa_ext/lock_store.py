"""Rasa 3.6's RedisLockStore with its ticket changes made atomic (fix).

Rasa issues and returns a conversation's tickets by reading the lock from Redis, changing it and
writing it back, outside any transaction. With two Rasa processes that race loses messages:
measured here with two processes, 14 of 60 messages sent in pairs were lost
(tests/scale/test_scaled.py sends them again under this class and loses none).
`AtomicRedisLockStore` overrides four ticket methods of RedisLockStore (public, but their
read-modify-write is Rasa's internal protocol); bot/stores.py builds it from RASA_LOCK_STORE_URL.
"""

from __future__ import annotations

import json
from typing import Callable, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore

from bot.rasa_ext.version import check_rasa_version

check_rasa_version()

T = TypeVar("T")


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
            return self._change(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime))
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        self._change(conversation_id, lambda lock: lock.remove_expired_tickets())

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._change(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number))

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # Returning the ticket deletes a lock nobody waits for, in the same transaction.
        self.finish_serving(conversation_id, ticket_number)
