"""The Slack channel against a real Rasa server and a fake Web API (see conftest.py).

Slack replies are posted from a background task, so the tests wait for the calls they expect.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List

import pytest

from bot.channels.slack import ESCALATION_NOTE, is_escalation, is_screen_question, screen_note
from tests.channels.conftest import (
    post_slack,
    question_text,
    slack_button_press,
    slack_dm,
    slack_signature,
    us_dv_number,
)


def posted(bot, mark: int, user: str) -> List[Dict[str, Any]]:
    return [
        c["params"] for c in bot.fake.since(mark, "slack", "chat.postMessage") if c["params"]["channel"] == f"D{user}"
    ]


def buttons(message: Dict[str, Any]) -> List[str]:
    return [
        e["value"] for block in message.get("blocks") or [] if block["type"] == "actions" for e in block["elements"]
    ]


def until_buttons(bot, mark: int, user: str, text: str) -> List[Dict[str, Any]]:
    """Wait for the turn's last message: the question `text` with its buttons."""
    return bot.fake.wait(
        lambda: (lambda ms: ms if any(m["text"] == text and buttons(m) for m in ms) else None)(posted(bot, mark, user))
    )


def is_note(message: Dict[str, Any]) -> bool:
    return "export direct messages" in message["text"] and "delete only my own messages" in message["text"]


# --- signature checks -------------------------------------------------------------------------


def test_unsigned_badly_signed_and_stale_requests_are_rejected(bot):
    user = "U0FORGED"
    body = slack_dm(user, "he hit me and I'm scared to go home")
    now = int(time.time())
    mark = bot.fake.mark()
    assert post_slack(bot, body, signed=False)[0] == 400
    assert post_slack(bot, body, signature=slack_signature(body, now, secret="another-secret"))[0] == 400
    assert post_slack(bot, body, timestamp=now - 6 * 60)[0] == 400  # correctly signed, but replayed late
    tampered = body.replace(b"scared", b"scarred")
    assert post_slack(bot, tampered, signature=slack_signature(body, now), timestamp=now)[0] == 400
    time.sleep(2)  # replies would come from a background task
    assert posted(bot, mark, user) == []
    assert bot.user_texts(user) == []


def test_url_verification_echoes_the_challenge_only_when_signed(bot):
    body = json.dumps({"token": "t", "challenge": "3eZbrw1aBm2rZgRN", "type": "url_verification"}).encode()
    status, answer = post_slack(bot, body)
    assert status == 200 and json.loads(answer) == {"challenge": "3eZbrw1aBm2rZgRN"}
    assert post_slack(bot, body, signed=False)[0] == 400


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"{not json", "application/json"),
        (b'{"type": "event_callback", "event": "not an object"}', "application/json"),
        (
            b'{"type": "event_callback", "event": {"type": "message", "text": 12, "channel_type": "im"}}',
            "application/json",
        ),
        (b"no_payload=1", "application/x-www-form-urlencoded"),
        (b"payload=%7Bnot+json", "application/x-www-form-urlencoded"),
        (b"payload=%7B%22actions%22%3A+%5B%7B%22type%22%3A+%22button%22%7D%5D%7D", "application/x-www-form-urlencoded"),
    ],
)
def test_signed_but_malformed_requests_get_400(bot, body, content_type):
    assert post_slack(bot, body, content_type=content_type)[0] == 400


# --- conversations ------------------------------------------------------------------------------


def test_a_danger_message_gets_the_admin_note_then_the_hotline(bot):
    user = "U0DANGER"
    mark = bot.fake.mark()
    assert post_slack(bot, slack_dm(user, "he hit me and I'm scared to go home"))[0] == 200
    number = us_dv_number()
    messages = bot.fake.wait(
        lambda: (lambda ms: ms if any(number in m["text"] for m in ms) else None)(posted(bot, mark, user))
    )
    first_hotline = next(i for i, m in enumerate(messages) if number in m["text"])
    notes = [i for i, m in enumerate(messages) if is_note(m)]
    assert notes and notes[0] < first_hotline
    assert messages[notes[0]]["text"] == ESCALATION_NOTE
    assert "as_user" not in messages[0]


def test_buttons_the_screen_note_and_a_positive_screen(bot):
    user = "U0SCREEN"
    mark = bot.fake.mark()
    post_slack(bot, slack_dm(user, "hi"))
    messages = until_buttons(bot, mark, user, question_text("consent_storage"))
    assert buttons(messages[-1]) == ["/affirm", "/deny"]
    assert not any(is_note(m) for m in messages)  # nothing safety-related yet

    mark = bot.fake.mark()
    assert post_slack(bot, slack_button_press(user, "/affirm"), "application/x-www-form-urlencoded")[0] == 200
    messages = until_buttons(bot, mark, user, question_text("safe_to_talk"))
    assert [m["text"] for m in messages][-2:] == [screen_note(), question_text("safe_to_talk")]
    assert "1-800-799-7233" in screen_note() and "0808 2000 247" in screen_note()

    mark = bot.fake.mark()
    post_slack(bot, slack_button_press(user, "/affirm"), "application/x-www-form-urlencoded")
    messages = until_buttons(bot, mark, user, question_text("region"))
    assert len(buttons(messages[-1])) == 6  # Rasa alone would drop them all (more than five)
    assert '/inform_region{"region": "US"}' in buttons(messages[-1])

    mark = bot.fake.mark()
    post_slack(bot, slack_button_press(user, '/inform_region{"region": "US"}'), "application/x-www-form-urlencoded")
    messages = until_buttons(bot, mark, user, question_text("screen_all"))
    assert not any(is_note(m) for m in messages)  # once per conversation for the screen
    mark = bot.fake.mark()
    post_slack(bot, slack_button_press(user, "yes one or more"), "application/x-www-form-urlencoded")
    messages = until_buttons(bot, mark, user, question_text("screen_humiliated"))

    # A "yes" is checked once (current partner or someone before?); about the current partner it
    # ends the screen: the action sends utter_escalate_violence; the note comes first.
    mark = bot.fake.mark()
    post_slack(bot, slack_button_press(user, "/affirm"), "application/x-www-form-urlencoded")
    messages = until_buttons(bot, mark, user, question_text("screen_who"))
    assert "my current partner" in buttons(messages[-1])
    mark = bot.fake.mark()
    post_slack(bot, slack_button_press(user, "my current partner"), "application/x-www-form-urlencoded")
    number = us_dv_number()
    messages = bot.fake.wait(
        lambda: (lambda ms: ms if any(number in m["text"] for m in ms) else None)(posted(bot, mark, user))
    )
    assert is_note(messages[0]) and messages[0]["text"] == ESCALATION_NOTE
    # Rasa saves the tracker after the turn's last message: wait for it rather than race it.
    turns = [
        "hi",
        "/affirm",
        "/affirm",
        '/inform_region{"region": "US"}',
        "yes one or more",
        "/affirm",
        "my current partner",
    ]
    bot.fake.wait(lambda: bot.user_texts(user) == turns, timeout=30, what="the tracker's user turns")


def test_a_mention_in_a_channel_gets_no_reply_there(bot):
    user = "U0CHANNEL"
    event = json.loads(slack_dm(user, "<@U0BOT> he hit me"))
    event["event"].update(type="app_mention", channel="C0PUBLIC", channel_type="channel")
    mark = bot.fake.mark()
    assert post_slack(bot, json.dumps(event).encode())[0] == 200
    time.sleep(2)
    assert [c for c in bot.fake.since(mark, "slack") if c["params"]["channel"] == "C0PUBLIC"] == []
    assert bot.user_texts(user) == []


def test_domain_buttons_with_doubled_braces_arrive_as_json_payloads(bot):
    user = "U0REGION"
    mark = bot.fake.mark()
    post_slack(bot, slack_dm(user, "/change_region"))
    messages = bot.fake.wait(lambda: [m for m in posted(bot, mark, user) if buttons(m)])
    assert '/inform_region{"region": "UK"}' in buttons(messages[-1])


# --- recognising safety content (no server needed) ----------------------------------------------


def test_safety_content_is_recognised_by_response_name():
    assert is_escalation({"utter_action": "utter_escalate_violence", "text": "..."})
    assert is_escalation({"utter_action": "utter_hotline_reminder", "text": "..."})
    assert not is_escalation({"utter_action": "utter_intro", "text": "..."})
    assert not is_escalation({"text": "Your safety comes first."})
    for slot in (
        "safe_to_talk",
        "screen_humiliated",
        "screen_afraid",
        "screen_forced",
        "screen_hurt",
        "screen_feels_safe",
        "screen_ex_unsafe",
    ):
        assert is_screen_question({"utter_action": f"utter_ask_{slot}", "text": "..."}), slot
    for name in ("utter_screen_intro", "utter_ask_screen_all", "utter_ask_screen_who", "utter_ask_screen_hurt_unclear"):
        assert is_screen_question({"utter_action": name, "text": "..."}), name
    assert not is_screen_question({"utter_action": "utter_ask_consent_storage", "text": "..."})
    assert not is_screen_question({"utter_action": "utter_ask_region", "text": "..."})
    # by name only: the same words without the name (typed back by a user, say) are not the screen
    assert not is_screen_question({"text": question_text("screen_hurt")})
