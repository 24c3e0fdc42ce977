"""Each webhook delivery answered once, across Rasa processes: Telegram's and Slack's retries.

Telegram delivers an update again when the webhook did not answer 2xx in time; Slack sends an
event again after 3 seconds without an answer, after an error, or when the connection failed
(`X-Slack-Retry-Num`, `X-Slack-Retry-Reason`). With nginx and two Rasa processes, the retry may
reach the other process, so a memory of one process is not enough: answered twice, the user gets
every reply twice and the tracker holds the message twice.

A delivery is *claimed* by the process that handles it (Telegram's `update_id`, Slack's
`event_id`), and marked *done* when its replies are sent. Another delivery with the same key:

- done: acknowledged and dropped (the replies were sent);
- claimed and not done yet: refused with 503, so the platform tries again later, by when it is
  done (then dropped) or the claim has expired because the process handling it died (then
  handled: nothing lost);
- unknown: handled.

The claims live in Redis when RASA_LOCK_STORE_URL is set (the lock store every process shares;
`SET NX` makes the claim atomic), else in this process's memory (one Rasa process). If Redis does
not answer, the delivery is handled anyway: a possible duplicate is better than a lost message.
Only the platform's ids are kept, never text or user ids.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from typing import Any, Dict, Optional, Text, Tuple

logger = logging.getLogger(__name__)

# Longer than a slow turn (several custom actions of up to ACTION_TIMEOUT_SECONDS each), shorter
# than Slack's second retry (about a minute) and Telegram's back-off: a delivery whose process died
# is handled by a later retry.
CLAIM_SECONDS = 45
# Telegram keeps retrying for hours; Slack for about 5 minutes.
DONE_SECONDS = 24 * 3600
MAX_IN_MEMORY = 100_000
KEY_PREFIX = "delivery:"

NEW, DONE, IN_PROGRESS = "new", "done", "in progress"


def _now() -> float:
    return time.monotonic()


class MemoryDeliveries:
    """Claims in this process (bounded; the oldest are forgotten first)."""

    def __init__(self, limit: int = MAX_IN_MEMORY) -> None:
        self.limit = limit
        self._keys: "OrderedDict[Text, Tuple[Text, float]]" = OrderedDict()

    def _get(self, key: Text) -> Optional[Text]:
        entry = self._keys.get(key)
        if entry is None or entry[1] <= _now():
            return None
        return entry[0]

    def _set(self, key: Text, state: Text, seconds: float) -> None:
        self._keys[key] = (state, _now() + seconds)
        self._keys.move_to_end(key)
        while len(self._keys) > self.limit:
            self._keys.popitem(last=False)

    def claim(self, key: Text) -> Text:
        state = self._get(key)
        if state is not None:
            return DONE if state == DONE else IN_PROGRESS
        self._set(key, "claimed", CLAIM_SECONDS)
        return NEW

    def done(self, key: Text) -> None:
        self._set(key, DONE, DONE_SECONDS)


class RedisDeliveries:
    """Claims in Redis, shared by every process that uses the same Redis."""

    def __init__(self, url: Text) -> None:
        import redis

        self.red = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.errors = redis.exceptions.RedisError

    def claim(self, key: Text) -> Text:
        state = None
        for _ in range(3):  # a claim that expires between the two calls: try again
            try:
                if self.red.set(KEY_PREFIX + key, b"claimed", nx=True, ex=CLAIM_SECONDS):
                    return NEW
                state = self.red.get(KEY_PREFIX + key)
            except self.errors as error:
                logger.warning("deliveries: Redis did not answer (%s); handling the delivery", type(error).__name__)
                return NEW
            if state is not None:
                break
        return DONE if state == DONE.encode() else IN_PROGRESS

    def done(self, key: Text) -> None:
        try:
            self.red.set(KEY_PREFIX + key, DONE.encode(), ex=DONE_SECONDS)
        except self.errors as error:
            logger.warning("deliveries: Redis did not answer (%s); a retry may be answered again", type(error).__name__)


def answer_to_a_repeat(state: Text, done_headers: Optional[Dict[str, str]] = None) -> Any:
    """The webhook's answer to a delivery that is not new (None for a new one): 200 when it was
    answered, 503 while it is being answered (the platform then tries again later, by when it is
    answered or its claim has expired because its process died)."""
    from sanic import response

    if state == DONE:
        return response.text("ok", headers=done_headers or {})
    if state == IN_PROGRESS:
        return response.text("being answered", status=503)
    return None


def from_environment() -> Any:
    """Redis when RASA_LOCK_STORE_URL is set (several processes), else this process's memory."""
    url = os.environ.get("RASA_LOCK_STORE_URL", "").strip()
    if url:
        return RedisDeliveries(url)
    return MemoryDeliveries()
