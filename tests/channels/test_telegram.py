"""The Telegram channel against a real Rasa server and a fake Bot API (see conftest.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from bot.channels.telegram import (
    DELETE_WINDOW_SECONDS,
    MAX_CALLBACK_DATA_BYTES,
    NOT_TEXT_TEXT,
    PRIVATE_ONLY_TEXT,
    MessageStore,
)
from tests.channels.conftest import (
    REPO_ROOT,
    TELEGRAM_SECRET,
    TELEGRAM_WEBHOOK_URL,
    post_slack,
    post_telegram,
    question_text,
    slack_dm,
    telegram_button_press,
    telegram_message,
    us_dv_number,
)


def sent(bot, mark: int, chat_id: int) -> List[Dict[str, Any]]:
    """The bot's messages to this chat since `mark`: what it sent, with the id the API gave it."""
    return [
        dict(c["params"], message_id=c["result"]["message_id"])
        for c in bot.fake.since(mark, "telegram", "sendMessage")
        if c["params"]["chat_id"] == str(chat_id)
    ]


def keyboard(params: Dict[str, Any]) -> List[List[Dict[str, str]]]:
    return json.loads(params["reply_markup"])["inline_keyboard"]


def payloads(params: Dict[str, Any]) -> List[str]:
    return [button["callback_data"] for row in keyboard(params) for button in row]


# --- the running server -----------------------------------------------------------------------


def test_webhook_is_registered_with_the_secret_and_wipe_is_in_the_menu(bot):
    webhook = bot.fake.since(0, "telegram", "setWebhook")[0]["params"]
    assert webhook["url"] == TELEGRAM_WEBHOOK_URL
    assert webhook["secret_token"] == TELEGRAM_SECRET
    assert "callback_query" in json.loads(webhook["allowed_updates"])
    commands = json.loads(bot.fake.since(0, "telegram", "setMyCommands")[0]["params"]["commands"])
    assert "wipe" in [c["command"] for c in commands]


@pytest.mark.parametrize(
    "chat_id, secret",
    [
        (7101, None),
        (7102, ""),
        (7103, "wrong-secret-token_0123456789abcdef"),
        (7104, TELEGRAM_SECRET[:-1]),
        (7105, TELEGRAM_SECRET + "x"),
        (7106, TELEGRAM_SECRET.upper()),
    ],
)
def test_a_missing_or_forged_secret_is_rejected_before_anything_happens(bot, chat_id, secret):
    mark = bot.fake.mark()
    assert post_telegram(bot, telegram_message(chat_id, 1, "he hit me and I'm scared to go home"), secret=secret) == 403
    assert bot.fake.since(mark, "telegram") == []
    assert bot.user_texts(str(chat_id)) == []


def test_malformed_updates_get_a_calm_answer_and_the_chat_still_works(bot):
    chat_id = 7201
    mark = bot.fake.mark()
    assert post_telegram(bot, b"{not json") == 400
    assert post_telegram(bot, b"[1, 2]") == 400
    assert post_telegram(bot, {"update_id": 1}) == 200
    assert post_telegram(bot, {"update_id": 2, "message": {"message_id": 3}}) == 200
    assert post_telegram(bot, {"update_id": 3, "message": {"message_id": 4, "chat": "not an object"}}) == 200
    assert post_telegram(bot, {"update_id": 4, "callback_query": {"id": "q", "data": "/affirm"}}) == 200
    # Fails inside the handler (a message id that is not a number): logged, answered 200, not retried.
    broken = telegram_message(chat_id, 9, "hi")
    broken["message"]["message_id"] = "nine"
    assert post_telegram(bot, broken) == 200
    assert bot.fake.since(mark, "telegram", "sendMessage") == []
    # A photo (no text): recorded for /wipe, and the user learns to type instead.
    assert post_telegram(bot, telegram_message(chat_id, 10, photo=[{"file_id": "f", "width": 1, "height": 1}])) == 200
    assert [m["text"] for m in sent(bot, mark, chat_id)] == [NOT_TEXT_TEXT]
    assert post_telegram(bot, telegram_message(chat_id, 11, "hi")) == 200
    assert question_text("consent_storage") in [m["text"] for m in sent(bot, mark, chat_id)]
    assert bot.user_texts(str(chat_id)) == ["hi"]


def test_a_group_chat_is_told_to_use_a_private_chat(bot):
    chat_id = -7301
    mark = bot.fake.mark()
    assert post_telegram(bot, telegram_message(chat_id, 1, "he hit me", chat_type="group")) == 200
    assert [m["text"] for m in sent(bot, mark, chat_id)] == [PRIVATE_ONLY_TEXT]
    assert bot.user_texts(str(chat_id)) == []


def test_a_danger_message_gets_the_hotline_then_the_wipe_tip(bot):
    chat_id = 7401
    mark = bot.fake.mark()
    assert post_telegram(bot, telegram_message(chat_id, 1, "he hit me and I'm scared to go home")) == 200
    texts = [m["text"] for m in sent(bot, mark, chat_id)]
    hotline = next(i for i, t in enumerate(texts) if us_dv_number() in t)
    tip = next(i for i, t in enumerate(texts) if "/wipe" in t)
    assert hotline < tip
    assert sum("/wipe" in t for t in texts) == 1


def test_buttons_are_inline_keyboards_and_a_press_is_answered(bot):
    chat_id = 7501
    mark = bot.fake.mark()
    post_telegram(bot, telegram_message(chat_id, 1, "/start"))  # Telegram's first message: a greeting
    consent = sent(bot, mark, chat_id)[-1]
    assert consent["text"] == question_text("consent_storage")
    assert payloads(consent) == ["/affirm", "/deny"]
    assert all(len(row) == 1 for row in keyboard(consent))  # long titles: one per row

    mark = bot.fake.mark()
    press = telegram_button_press(chat_id, consent["message_id"], "/affirm")
    assert post_telegram(bot, press) == 200
    answered = bot.fake.since(mark, "telegram", "answerCallbackQuery")
    assert [c["params"]["callback_query_id"] for c in answered] == [press["callback_query"]["id"]]
    safe_to_talk = sent(bot, mark, chat_id)[-1]
    assert safe_to_talk["text"] == question_text("safe_to_talk")

    mark = bot.fake.mark()
    post_telegram(bot, telegram_button_press(chat_id, safe_to_talk["message_id"], "/affirm"))
    region = sent(bot, mark, chat_id)[-1]
    assert region["text"] == question_text("region")
    assert '/inform_region{"region": "US"}' in payloads(region) and len(payloads(region)) == 6
    assert bot.user_texts(str(chat_id)) == ["/greet", "/affirm", "/affirm"]


def test_domain_buttons_with_doubled_braces_arrive_as_json_payloads(bot):
    chat_id = 7601
    mark = bot.fake.mark()
    post_telegram(bot, telegram_message(chat_id, 1, "/change_region"))
    with_buttons = [m for m in sent(bot, mark, chat_id) if "reply_markup" in m]
    assert with_buttons, "utter_choose_region was not sent"
    assert '/inform_region{"region": "UK"}' in payloads(with_buttons[-1])


def test_wipe_deletes_what_telegram_allows_and_reports_the_rest(bot):
    chat_id = 7701
    mark = bot.fake.mark()
    post_telegram(bot, telegram_message(chat_id, 501, "hi"))
    bot_ids = [m["message_id"] for m in sent(bot, mark, chat_id)]
    assert bot_ids
    # One message from three days ago, and one of the bot's that Telegram refuses to delete.
    MessageStore(bot.message_db).record(chat_id, 400, False, sent_at=time.time() - DELETE_WINDOW_SECONDS - 3600)
    bot.fake.undeletable.add((str(chat_id), bot_ids[0]))
    user_turns = bot.user_texts(str(chat_id))

    mark = bot.fake.mark()
    assert post_telegram(bot, telegram_message(chat_id, 502, "/wipe")) == 200
    deleted = [int(c["params"]["message_id"]) for c in bot.fake.since(mark, "telegram", "deleteMessage")]
    assert sorted(deleted) == sorted([501, 502] + bot_ids)  # not 400: too old to try
    report = sent(bot, mark, chat_id)
    assert len(report) == 1
    text = report[0]["text"]
    assert f"I deleted {len(bot_ids) + 1} messages" in text
    assert "couldn't delete 1 older message" in text and "48 hours" in text
    assert "1 message couldn't be deleted" in text
    assert "auto-delete" in text.lower()
    assert bot.user_texts(str(chat_id)) == user_turns  # /wipe never reached the NLU or the tracker

    # The next /wipe deletes the report, retries the refused one and forgets what is gone.
    report_id = report[0]["message_id"]
    bot.fake.undeletable.clear()
    mark = bot.fake.mark()
    post_telegram(bot, telegram_message(chat_id, 503, "/wipe@CoachTestBot"))
    deleted = [int(c["params"]["message_id"]) for c in bot.fake.since(mark, "telegram", "deleteMessage")]
    assert sorted(deleted) == sorted([bot_ids[0], report_id, 503])
    text = sent(bot, mark, chat_id)[0]["text"]
    assert "I deleted 3 messages" in text
    assert "couldn't delete" not in text and "couldn't be deleted" not in text


def test_no_message_text_reaches_the_server_log(bot):
    chat_id, user = 7801, "U0PRIVACY"
    text = "my husband hit me with a saucepan last night"
    mark = bot.fake.mark()
    post_telegram(bot, telegram_message(chat_id, 1, text))
    broken = telegram_message(chat_id, 2, text)
    broken["message"]["message_id"] = "two"
    assert post_telegram(bot, broken) == 200
    post_slack(bot, slack_dm(user, text))
    bot.fake.wait(
        lambda: [
            c
            for c in bot.fake.since(mark, "slack")
            if c["params"]["channel"] == f"D{user}" and us_dv_number() in c["params"]["text"]
        ]
    )
    log = bot.log.read_text(encoding="utf-8")
    assert "saucepan" not in log
    assert "failed to handle an update (ValueError" in log  # the broken update: its class, not its text


# --- no server needed ---------------------------------------------------------------------------


def test_the_message_store_keeps_ids_for_48_hours_then_only_a_count(tmp_path):
    db = tmp_path / "var" / "messages.db"
    store = MessageStore(db)
    now = time.time()
    store.record(1, 10, False, sent_at=now - DELETE_WINDOW_SECONDS - 60)
    store.record(1, 11, True, sent_at=now - 60)
    store.record(1, 11, True, sent_at=now)  # an edit: same message, first date kept
    store.record(2, 20, False, sent_at=now - DELETE_WINDOW_SECONDS - 60)
    store.prune(now)
    assert store.chat(1) == ([(11, now - 60)], 1)
    assert store.chat(2) == ([], 1)
    assert oct(db.stat().st_mode & 0o777) == "0o600"
    # A restart keeps both (the store is a file); forgetting clears the chat's count as well.
    again = MessageStore(db)
    again.forget(1, [11])
    assert again.chat(1) == ([], 0)
    assert again.chat(2) == ([], 1)
    columns = {c["name"] for c in again.engine.dialect.get_columns(again.engine.connect(), "telegram_messages")}
    assert columns == {"chat_id", "message_id", "from_bot", "sent_at"}  # ids and dates, never text


def test_every_button_payload_fits_telegrams_callback_data_limit():
    """Telegram rejects a whole message when one button's callback_data is over 64 bytes."""
    from bot.coaching import menu as coaching_menu

    found = []
    data_files = [
        *sorted((REPO_ROOT / "bot" / "content").glob("*.yml")),
        *sorted((REPO_ROOT / "bot" / "coaching").glob("*.yml")),
    ]
    for path in [REPO_ROOT / "domain.yml", *data_files]:
        found += _payloads(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    with open(REPO_ROOT / "bot" / "coaching" / "steps.yml", encoding="utf-8") as f:
        steps = yaml.safe_load(f)["steps"]
    found += [coaching_menu.start_payload(step["id"]) for step in steps]
    found += [coaching_menu.group_payload(step["group"]) for step in steps]
    assert len(found) > 20
    too_long = [p for p in found if len(p.replace("{{", "{").replace("}}", "}").encode()) > MAX_CALLBACK_DATA_BYTES]
    assert too_long == []


def _payloads(node: Any) -> List[str]:
    if isinstance(node, dict):
        own = [node["payload"]] if isinstance(node.get("payload"), str) else []
        return own + [p for value in node.values() for p in _payloads(value)]
    if isinstance(node, list):
        return [p for item in node for p in _payloads(item)]
    return []
