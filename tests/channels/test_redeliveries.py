"""Telegram and Slack deliver again what they think was not received; each message is answered and
recorded once (bot/channels/deliveries.py). One Rasa process here (its memory); the scaled tests
send the retry to the other process (Redis)."""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, List

from tests.channels.conftest import post_slack, post_telegram, question_text, slack_dm, telegram_message
from tests.channels.test_slack import posted


def telegram_sent(bot, mark: int, chat_id: int) -> List[Dict[str, Any]]:
    return [
        c["params"] for c in bot.fake.since(mark, "telegram", "sendMessage") if c["params"]["chat_id"] == str(chat_id)
    ]


def test_a_telegram_update_delivered_again_is_answered_once(bot):
    chat_id = 7801
    update = telegram_message(chat_id, 1, "hi")
    mark = bot.fake.mark()
    assert post_telegram(bot, update) == 200
    first = telegram_sent(bot, mark, chat_id)
    assert question_text("consent_storage") in [m["text"] for m in first]
    assert post_telegram(bot, update) == 200  # Telegram did not see the first 200: it sends it again
    assert post_telegram(bot, update) == 200
    time.sleep(1)
    assert telegram_sent(bot, mark, chat_id) == first
    assert bot.user_texts(str(chat_id)) == ["hi"]
    # The next update is answered as usual.
    assert post_telegram(bot, telegram_message(chat_id, 2, "yes")) == 200
    assert bot.user_texts(str(chat_id)) == ["hi", "yes"]


def test_a_telegram_update_delivered_twice_at_once_is_answered_once(bot):
    """The retry arrives while the first delivery is still being answered: it is refused (503),
    so Telegram tries again later, when it will be acknowledged, or answered if the first died."""
    chat_id = 7802
    update = telegram_message(chat_id, 1, "my husband refuses couples therapy, what can I do")
    mark = bot.fake.mark()
    statuses: List[int] = []
    threads = [threading.Thread(target=lambda: statuses.append(post_telegram(bot, update))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 503}, statuses
    time.sleep(1)
    assert post_telegram(bot, update) == 200  # the later retry: acknowledged, not answered
    assert bot.user_texts(str(chat_id)) == [update["message"]["text"]]
    texts = [m["text"] for m in telegram_sent(bot, mark, chat_id)]
    assert texts.count(question_text("consent_storage")) == 1


def wait_for_turn(bot, mark: int, user: str, text: str) -> List[Dict[str, Any]]:
    return bot.fake.wait(
        lambda: (lambda ms: ms if any(m["text"] == text for m in ms) else None)(posted(bot, mark, user))
    )


def test_a_slack_event_sent_again_after_a_timeout_or_an_error_is_answered_once(bot):
    user = "U0RETRY1"
    body = slack_dm(user, "hi")
    mark = bot.fake.mark()
    assert post_slack(bot, body)[0] == 200
    first = wait_for_turn(bot, mark, user, question_text("consent_storage"))
    for number, reason in ((1, "http_timeout"), (2, "http_error"), (3, "unknown_error")):
        status, _ = post_slack(
            bot, body, extra_headers={"X-Slack-Retry-Num": str(number), "X-Slack-Retry-Reason": reason}
        )
        assert status == 200
    time.sleep(2)  # a second answer would come from a background task
    assert posted(bot, mark, user) == first
    assert bot.user_texts(user) == ["hi"]


def test_a_slack_retry_of_an_event_that_never_arrived_is_answered(bot):
    """Rasa drops every `http_timeout` retry unseen; if the first delivery never reached a Rasa
    process (the process was restarting), that lost the message."""
    user = "U0RETRY2"
    body = slack_dm(user, "hi")
    mark = bot.fake.mark()
    status, _ = post_slack(bot, body, extra_headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert status == 200
    wait_for_turn(bot, mark, user, question_text("consent_storage"))
    assert bot.user_texts(user) == ["hi"]
