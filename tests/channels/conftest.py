"""One real `rasa run` with the Telegram and Slack channels, talking to a fake Telegram/Slack API.

Why the real servers (tests/servers.py starts scripts/run.sh) rather than an in-process app with
mock.patch: it runs exactly what `make run` runs (the credentials generator, Rasa reading the `${VAR}` references, the channels
built from credentials and environment, the after-start setWebhook) and the test sees the
outbound calls as they go over the wire (aiogram's form fields, slack_sdk's JSON), not as Python
calls a patch happened to catch. TELEGRAM_API_URL and SLACK_API_URL point the server at
`FakeAPI`, a loopback HTTP server in this process that records every call and answers like the
real APIs; nothing reaches api.telegram.org or slack.com.

Started once per session (about 40 s: the action server, then Rasa). Locally the tests skip when
no model is trained; under CI=true that is a failure, never a skip.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import pytest
import yaml

from bench.servers import us_dv_number  # noqa: F401  (the channel tests import it from here)
from tests.integration.conftest import IN_CI, MODEL, REPO_ROOT
from tests.servers import Servers

TELEGRAM_TOKEN = "123456789:TEST-token_for-the-fake-api"
TELEGRAM_SECRET = "test-secret-token_0123456789abcdef"
TELEGRAM_WEBHOOK_URL = "https://coach.example.org/webhooks/telegram/webhook"
TELEGRAM_BOT_ID = 123456789
SLACK_TOKEN = "xoxb-test-token"
SLACK_SIGNING_SECRET = "0123456789abcdef0123456789abcdef"


def question_text(slot: str) -> str:
    """A form question's text: domain.yml's utter_ask_<slot> ("screen_who" for the follow-up)."""
    with open(REPO_ROOT / "domain.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)["responses"][f"utter_ask_{slot}"][0]["text"]


class FakeAPI:
    """Telegram's Bot API (/bot<token>/<method>) and Slack's Web API (/api/<method>) on loopback."""

    def __init__(self) -> None:
        self.calls: List[Dict[str, Any]] = []
        self.undeletable: Set[Tuple[str, int]] = set()
        self.lock = threading.Lock()
        self._ids = itertools.count(1000)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8")
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    params = json.loads(raw or "{}")
                else:
                    params = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
                parts = self.path.strip("/").split("/")
                service = "telegram" if parts[0].startswith("bot") else "slack"
                status, body = fake.answer(service, parts[-1], params)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, service: str, method: str, params: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
        with self.lock:
            status, body = self._reply(service, method, params)
            self.calls.append({"service": service, "method": method, "params": params, "result": body.get("result")})
            return status, body

    def _reply(self, service: str, method: str, params: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
        if service == "slack":
            return 200, {"ok": True, "channel": params.get("channel"), "ts": f"{time.time():.6f}"}
        if method == "sendMessage":
            message = {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "text": params.get("text", ""),
            }
            return 200, {"ok": True, "result": message}
        if method == "deleteMessage" and (str(params["chat_id"]), int(params["message_id"])) in self.undeletable:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message can't be deleted"}
        if method == "getMe":
            return 200, {
                "ok": True,
                "result": {"id": TELEGRAM_BOT_ID, "is_bot": True, "first_name": "Coach", "username": "CoachTestBot"},
            }
        return 200, {"ok": True, "result": True}

    def mark(self) -> int:
        with self.lock:
            return len(self.calls)

    def since(self, mark: int, service: Optional[str] = None, method: Optional[str] = None) -> List[Dict[str, Any]]:
        with self.lock:
            calls = list(self.calls[mark:])
        return [
            c
            for c in calls
            if (service is None or c["service"] == service) and (method is None or c["method"] == method)
        ]

    def wait(self, condition: Callable[[], Any], timeout: float = 60, what: str = "the expected API calls") -> Any:
        """Poll until `condition()` is truthy (the Slack channel replies from a background task)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.1)
        raise AssertionError(f"{what}: not within {timeout} s")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Bot:
    """The running Rasa server, the fake API and the files the test may inspect."""

    def __init__(self, port: int, fake: FakeAPI, tracker_db: Path, message_db: Path, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.fake = fake
        self.tracker_db = tracker_db
        self.message_db = message_db
        self.log = log

    def post(self, path: str, body: bytes, headers: Dict[str, str]) -> Tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def user_texts(self, sender_id: str) -> List[str]:
        """What the tracker store recorded as this conversation's user messages."""
        with sqlite3.connect(self.tracker_db) as conn:
            rows = conn.execute(
                "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id", (sender_id,)
            ).fetchall()
        return [json.loads(data).get("text") for (data,) in rows]


@pytest.fixture(scope="session")
def bot(tmp_path_factory):
    """The servers as `make run` starts them (scripts/run.sh, which generates the credentials from
    these variables), with both channels on and their outbound API calls sent to the fake."""
    if not MODEL.exists():
        if IN_CI:
            pytest.fail(f"no trained model at {MODEL}: `make train` must run before the tests in CI")
        pytest.skip("no trained model: run `make train`")
    from bot.progress.store import upgrade

    work = tmp_path_factory.mktemp("channels")
    upgrade(f"sqlite:///{work / 'progress.db'}")
    fake = FakeAPI()
    message_db = work / "var" / "telegram_messages.db"
    servers = Servers(
        work,
        extra_env=dict(
            TELEGRAM_TOKEN=TELEGRAM_TOKEN,
            TELEGRAM_WEBHOOK_URL=TELEGRAM_WEBHOOK_URL,
            TELEGRAM_SECRET_TOKEN=TELEGRAM_SECRET,
            TELEGRAM_BOT_NAME="CoachTestBot",
            TELEGRAM_API_URL=fake.url,
            TELEGRAM_MESSAGE_DB=str(message_db),
            SLACK_TOKEN=SLACK_TOKEN,
            SLACK_SIGNING_SECRET=SLACK_SIGNING_SECRET,
            SLACK_API_URL=fake.url + "/api/",
        ),
    )
    try:
        servers.start()
        fake.wait(lambda: fake.since(0, "telegram", "setMyCommands"), timeout=30)
        yield Bot(servers.rasa_port, fake, work / "tracker.db", message_db, servers.log)
    finally:
        servers.stop()
        fake.stop()


# --- Telegram updates in the Bot API's format ---------------------------------------------------

# Telegram's update ids are large and only grow; the tests' own small ones (1, 2, ...) stay apart.
_update_ids = itertools.count(700_000_001)


def telegram_message(
    chat_id: int, message_id: int, text: Optional[str] = None, chat_type: str = "private", **extra: Any
) -> Dict[str, Any]:
    user = {"id": chat_id, "is_bot": False, "first_name": "Sam", "language_code": "en"}
    message: Dict[str, Any] = {
        "message_id": message_id,
        "from": user,
        "date": int(time.time()),
        "chat": {"id": chat_id, "first_name": "Sam", "type": chat_type},
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
    message.update(extra)
    return {"update_id": next(_update_ids), "message": message}


def telegram_button_press(chat_id: int, message_id: int, data: str) -> Dict[str, Any]:
    """A callback_query: the user pressed an inline button under the bot's message `message_id`."""
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": f"cbq-{next(_update_ids)}",
            "from": {"id": chat_id, "is_bot": False, "first_name": "Sam"},
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "text": "...",
                "from": {"id": TELEGRAM_BOT_ID, "is_bot": True, "first_name": "Coach", "username": "CoachTestBot"},
                "chat": {"id": chat_id, "first_name": "Sam", "type": "private"},
            },
            "chat_instance": "-7000000000000000000",
            "data": data,
        },
    }


def post_telegram(bot: Bot, update: Any, secret: Optional[str] = TELEGRAM_SECRET) -> int:
    body = update if isinstance(update, bytes) else json.dumps(update).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    status, _ = bot.post("/webhooks/telegram/webhook", body, headers)
    return status


# --- Slack requests, signed as Slack signs them (v0 HMAC-SHA256 of "v0:<timestamp>:<body>") ------


def slack_signature(body: bytes, timestamp: int, secret: str = SLACK_SIGNING_SECRET) -> str:
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def post_slack(
    bot: Bot,
    body: bytes,
    content_type: str = "application/json",
    timestamp: Optional[int] = None,
    signature: Optional[str] = None,
    signed: bool = True,
    extra_headers: Optional[Dict[str, str]] = None,
) -> Tuple[int, bytes]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {"Content-Type": content_type, **(extra_headers or {})}
    if signed:
        headers["X-Slack-Request-Timestamp"] = str(timestamp)
        headers["X-Slack-Signature"] = signature or slack_signature(body, timestamp)
    return bot.post("/webhooks/slack/webhook", body, headers)


def slack_dm(user: str, text: str) -> bytes:
    """An Events API `message.im` event: the user wrote to the bot in its direct-message channel."""
    ts = f"{time.time():.6f}"
    return json.dumps(
        {
            "token": "verification-token-unused",
            "team_id": "T0TEST",
            "api_app_id": "A0TEST",
            "event": {
                "type": "message",
                "channel": f"D{user}",
                "user": user,
                "text": text,
                "ts": ts,
                "event_ts": ts,
                "channel_type": "im",
                "client_msg_id": f"m-{ts}",
            },
            "type": "event_callback",
            "event_id": f"Ev{ts.replace('.', '')}",
            "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": "T0TEST", "user_id": "U0BOT", "is_bot": True}],
        }
    ).encode()


def slack_button_press(user: str, value: str) -> bytes:
    """An interactivity `block_actions` payload (form-encoded): the user pressed a button."""
    ts = f"{time.time():.6f}"
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEST"},
        "user": {"id": user, "username": "sam", "team_id": "T0TEST"},
        "api_app_id": "A0TEST",
        "container": {"type": "message", "message_ts": ts, "channel_id": f"D{user}"},
        "channel": {"id": f"D{user}", "name": "directmessage"},
        "message": {"type": "message", "ts": ts, "text": "...", "bot_id": "B0TEST"},
        "actions": [
            {
                "type": "button",
                "action_id": "a1",
                "block_id": "b1",
                "value": value,
                "text": {"type": "plain_text", "text": "..."},
                "action_ts": ts,
            }
        ],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
