"""Telegram channel: Rasa's Telegram connector made safe for people who may live with violence.

Configured by `python -m bot.channels.credentials` when TELEGRAM_TOKEN, TELEGRAM_WEBHOOK_URL and
TELEGRAM_SECRET_TOKEN are set (see docs/channels.md). Compared with Rasa's `TelegramInput`:

- Every update must carry Telegram's `X-Telegram-Bot-Api-Secret-Token` header with the secret we
  registered through setWebhook; anything else gets 403 before it is read. Rasa's connector only
  calls getMe (a network call per update that proves nothing about the sender), so anyone who knew
  the webhook URL could post as any chat.
- setWebhook (with the secret) and setMyCommands run once the server is up, in the server's event
  loop, retried with back-off while Telegram is unreachable; Rasa's connector calls setWebhook
  with `asyncio.run` while the app is being built, so the server does not start without Telegram.
- `/wipe` deletes the chat's messages on both sides where Telegram allows it (under 48 hours old)
  and says what it could not delete. It is answered here and never reaches the NLU or the
  tracker. To know what to delete, `MessageStore` keeps the ids and dates (never the text) of the
  user's and the bot's messages for 48 hours.
- An update Telegram delivers again (its `update_id` seen before, by any process) is answered
  once: bot/channels/deliveries.py.
- Only private chats are served: in a group, other members would read a disclosure and the reply.
- Malformed updates get 400 (not JSON) or 200 (JSON we cannot use, so Telegram does not redeliver
  it forever); an error while handling an update is logged without the message text.
- Buttons are inline keyboards (one row for short answers such as Yes / No, else one button per
  row); pressing one (a callback_query) sends its payload to Rasa and stops the button's spinner.
- After the first escalation reply in a chat, the bot mentions /wipe.

TELEGRAM_API_URL points the outbound calls at another server (tests only; a warning is logged).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import time
import traceback
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Set, Text, Tuple

import sqlalchemy as sa
from aiogram.bot.api import TELEGRAM_PRODUCTION, TelegramAPIServer
from aiogram.utils.exceptions import (
    MessageToDeleteNotFound,
    RetryAfter,
    TelegramAPIError,
)
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.channels import deliveries, texts
from bot.channels.slack import is_escalation
from bot.rasa_ext.version import check_rasa_version

# The Telegram channel replaces the webhook of Rasa's TelegramInput and builds on TelegramOutput's
# internals (an aiogram Bot): written for Rasa 3.6 only.
check_rasa_version()

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MESSAGE_DB = REPO_ROOT / "var" / "telegram_messages.db"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram lets a bot delete a message in a private chat only while it is under 48 hours old.
DELETE_WINDOW_SECONDS = 48 * 3600
# A chat's count of forgotten (too old) messages is itself forgotten after a month of silence.
EXPIRED_COUNT_TTL_SECONDS = 30 * 24 * 3600
PRUNE_EVERY_SECONDS = 60
MAX_CALLBACK_DATA_BYTES = 64  # Telegram rejects the whole message if one button's data is longer
MAX_TEXT_CHARS = 4096
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
WEBHOOK_RETRY_SECONDS = (5, 15, 60, 300)

# Telegram's own commands mapped to the bot's intents (a "/word" text reaches Rasa as an intent).
COMMAND_INTENTS = {"/start": "/greet", "/help": "/ask_help"}
BOT_COMMANDS = [{"command": c, "description": d} for c, d in texts.load()["telegram"]["commands"].items()]

PRIVATE_ONLY_TEXT = texts.text("telegram.private_only")
NOT_TEXT_TEXT = texts.text("telegram.not_text")
WIPE_TIP_TEXT = texts.text("telegram.wipe_tip")


def _now() -> float:
    return time.time()


def _open_private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only: it links chat ids to activity times."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


class MessageStore:
    """Ids and dates (never text) of a chat's messages, so `/wipe` knows what to delete.

    Its own SQLite file (TELEGRAM_MESSAGE_DB, default var/telegram_messages.db, mode 0600), so it
    survives a restart without a migration of the progress database. Entries older than 48 hours
    can no longer be deleted by the bot: they are pruned and only counted per chat, so `/wipe`
    can still tell the user how many it could not delete. Writes are tiny local transactions, done
    in the event loop; several processes may share the file (SQLite locks it).
    """

    def __init__(self, path: Path) -> None:
        _open_private_file(path)
        self.engine = sa.create_engine(f"sqlite:///{path}", future=True, connect_args={"timeout": 10})
        metadata = sa.MetaData()
        self.messages = sa.Table(
            "telegram_messages",
            metadata,
            sa.Column("chat_id", sa.String(32), primary_key=True),
            sa.Column("message_id", sa.BigInteger, primary_key=True),
            sa.Column("from_bot", sa.Boolean, nullable=False),
            sa.Column("sent_at", sa.Float, nullable=False, index=True),
        )
        self.expired = sa.Table(
            "telegram_expired",
            metadata,
            sa.Column("chat_id", sa.String(32), primary_key=True),
            sa.Column("count", sa.Integer, nullable=False),
            sa.Column("updated_at", sa.Float, nullable=False),
        )
        metadata.create_all(self.engine)
        self._last_prune = 0.0

    def record(self, chat_id: Any, message_id: int, from_bot: bool, sent_at: Optional[float] = None) -> None:
        """Remember one message (an edit of the same message keeps its first date)."""
        row = {
            "chat_id": str(chat_id),
            "message_id": int(message_id),
            "from_bot": from_bot,
            "sent_at": float(sent_at or _now()),
        }
        with self.engine.begin() as conn:
            conn.execute(sqlite_insert(self.messages).values(**row).on_conflict_do_nothing())
        if _now() - self._last_prune > PRUNE_EVERY_SECONDS:
            self.prune()

    def prune(self, now: Optional[float] = None) -> None:
        """Replace entries too old to delete by a per-chat count."""
        now = now or _now()
        cutoff = now - DELETE_WINDOW_SECONDS
        m, e = self.messages, self.expired
        with self.engine.begin() as conn:
            counts = conn.execute(
                sa.select(m.c.chat_id, sa.func.count()).where(m.c.sent_at < cutoff).group_by(m.c.chat_id)
            ).all()
            for chat_id, count in counts:
                stmt = sqlite_insert(e).values(chat_id=chat_id, count=count, updated_at=now)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[e.c.chat_id],
                        set_={"count": e.c.count + stmt.excluded.count, "updated_at": now},
                    )
                )
            conn.execute(sa.delete(m).where(m.c.sent_at < cutoff))
            conn.execute(sa.delete(e).where(e.c.updated_at < now - EXPIRED_COUNT_TTL_SECONDS))
        self._last_prune = now

    def chat(self, chat_id: Any) -> Tuple[List[Tuple[int, float]], int]:
        """(message id, sent at) of the chat's remembered messages, and how many were forgotten."""
        m, e = self.messages, self.expired
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(m.c.message_id, m.c.sent_at).where(m.c.chat_id == str(chat_id)).order_by(m.c.message_id)
            ).all()
            expired = conn.execute(sa.select(e.c.count).where(e.c.chat_id == str(chat_id))).scalar()
        return [(int(r[0]), float(r[1])) for r in rows], int(expired or 0)

    def forget(self, chat_id: Any, message_ids: Iterable[int]) -> None:
        """Drop these entries and the chat's forgotten count (the user has been told about them)."""
        ids = list(message_ids)
        m, e = self.messages, self.expired
        with self.engine.begin() as conn:
            if ids:
                conn.execute(sa.delete(m).where(m.c.chat_id == str(chat_id), m.c.message_id.in_(ids)))
            conn.execute(sa.delete(e).where(e.c.chat_id == str(chat_id)))


def wipe_report(deleted: int, too_old: int, failed: int) -> Text:
    """What /wipe did, in plain words, with what the user can do about the rest."""
    if deleted:
        lines = [f"Done: I deleted {deleted} message{'s' if deleted != 1 else ''} from this chat, yours and mine."]
    else:
        lines = ["I had no messages left to delete in this chat."]
    if too_old:
        lines.append(
            f"I couldn't delete {too_old} older message{'s' if too_old != 1 else ''}: Telegram lets a bot "
            "delete messages only in the first 48 hours after they were sent."
        )
    if failed:
        lines.append(
            f"{failed} message{'s' if failed != 1 else ''} couldn't be deleted because Telegram refused or "
            "didn't answer. Send /wipe again in a moment to retry."
        )
    lines.append(
        "To remove everything, including older messages, delete this chat in Telegram yourself "
        "(open the chat's menu and choose Delete chat or Clear history). You can also turn on "
        "Telegram's auto-delete timer for this chat (chat menu, Auto-Delete), so messages "
        "disappear on their own after a day or a week."
    )
    lines.append(
        "This only clears the Telegram chat: if you agreed to keep your progress, it stays saved "
        'until you say "start over".'
    )
    return "\n".join(lines)


class TelegramMessenger(TelegramOutput):
    """Rasa's Telegram output that remembers the ids of the messages it sends and lays out buttons."""

    def __init__(self, access_token: Text, store: MessageStore, server: TelegramAPIServer) -> None:
        # TelegramOutput.__init__ cannot pass the API server: initialise the aiogram Bot directly.
        super(TelegramOutput, self).__init__(access_token, server=server)
        self.store = store
        self.tipped: Set[Text] = set()

    async def request(
        self, method: Text, data: Optional[Dict] = None, files: Optional[Dict] = None, **kwargs: Any
    ) -> Any:
        """Every aiogram call goes through here: record each message the bot sends."""
        result = await super().request(method, data, files, **kwargs)
        if method.startswith("send"):
            for message in result if isinstance(result, list) else [result]:
                if isinstance(message, dict) and "message_id" in message:
                    chat_id = (message.get("chat") or {}).get("id", (data or {}).get("chat_id"))
                    if chat_id is not None:
                        self.store.record(chat_id, message["message_id"], True, message.get("date"))
        return result

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        """Send the reply; after the chat's first escalation reply, mention /wipe."""
        escalation = is_escalation(message)
        await super().send_response(recipient_id, message)
        if escalation and str(recipient_id) not in self.tipped:
            self.tipped.add(str(recipient_id))
            await self.send_message(recipient_id, WIPE_TIP_TEXT)

    async def send_text_with_buttons(
        self,
        recipient_id: Text,
        text: Text,
        buttons: List[Dict[Text, Any]],
        button_type: Optional[Text] = None,
        **kwargs: Any,
    ) -> None:
        """Inline keyboard: short answers (Yes / No) side by side, anything longer one per row."""
        usable = []
        for button in buttons:
            if len(str(button.get("payload", "")).encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
                logger.error("telegram: dropped a button whose payload is over 64 bytes")
            else:
                usable.append(button)
        if not usable:
            await self.send_text_message(recipient_id, text)
            return
        if button_type is None:
            short = len(usable) <= 3 and all(len(b["title"]) <= 12 for b in usable)
            button_type = "inline" if short else "vertical"
        await super().send_text_with_buttons(recipient_id, text, usable, button_type=button_type, **kwargs)


class TelegramChannel(TelegramInput):
    """The project's Telegram input channel (see module docstring). Credentials:

    access_token, webhook_url, secret_token (required); bot_name (optional: "/wipe@bot_name").
    """

    @classmethod
    def name(cls) -> Text:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        if not credentials:
            cls.raise_missing_credentials_exception()
        for key in ("access_token", "webhook_url", "secret_token"):
            if not credentials.get(key):
                raise InvalidConfigException(f"telegram: credentials need '{key}' (see docs/channels.md)")
        return cls(
            access_token=str(credentials["access_token"]),
            webhook_url=str(credentials["webhook_url"]),
            secret_token=str(credentials["secret_token"]),
            bot_name=credentials.get("bot_name"),
        )

    def __init__(
        self, access_token: Text, webhook_url: Text, secret_token: Text, bot_name: Optional[Text] = None
    ) -> None:
        super().__init__(access_token, bot_name, webhook_url, debug_mode=False)
        self.secret_token = secret_token
        self.bot_name = (bot_name or "").lstrip("@").lower() or None
        self.store = MessageStore(Path(os.environ.get("TELEGRAM_MESSAGE_DB") or DEFAULT_MESSAGE_DB))
        api_url = os.environ.get("TELEGRAM_API_URL")
        if api_url:
            logger.warning("telegram: the Bot API is redirected to %s (TELEGRAM_API_URL, for tests only)", api_url)
        self.server = TelegramAPIServer.from_base(api_url) if api_url else TELEGRAM_PRODUCTION
        self._out: Optional[TelegramMessenger] = None
        # Retried updates are answered once, across processes (bot/channels/deliveries.py); the
        # bot's own id (the public part of its token) keeps two bots on one Redis apart.
        self.deliveries = deliveries.from_environment()
        self.bot_id = access_token.split(":")[0]

    def get_output_channel(self) -> TelegramMessenger:
        """One output channel per process (no network call here, unlike Rasa's connector)."""
        if self._out is None:
            self._out = TelegramMessenger(self.access_token, self.store, self.server)
        return self._out

    def is_authentic(self, request: Request) -> bool:
        """Telegram sends the secret we registered with setWebhook in a header (constant-time check)."""
        given = request.headers.get(SECRET_HEADER, "")
        return hmac.compare_digest(given.encode("utf-8"), self.secret_token.encode("utf-8"))

    async def register_webhook(self) -> None:
        """setWebhook with the secret and setMyCommands; retried with back-off until they succeed."""
        out = self.get_output_channel()
        attempt = 0
        while True:
            try:
                # aiogram 2.15's set_webhook has no secret_token parameter: call the method directly.
                await out.request(
                    "setWebhook",
                    {
                        "url": self.webhook_url,
                        "secret_token": self.secret_token,
                        "allowed_updates": json.dumps(ALLOWED_UPDATES),
                    },
                )
                await out.request("setMyCommands", {"commands": json.dumps(BOT_COMMANDS)})
                logger.info("telegram: webhook registered")
                return
            except (TelegramAPIError, OSError, asyncio.TimeoutError) as error:
                delay = WEBHOOK_RETRY_SECONDS[min(attempt, len(WEBHOOK_RETRY_SECONDS) - 1)]
                logger.error("telegram: setWebhook failed (%s); retrying in %ss", type(error).__name__, delay)
                attempt += 1
                await asyncio.sleep(delay)

    def _is_wipe(self, text: Text) -> bool:
        command, _, bot = text.strip().split(" ")[0].lower().partition("@")
        return command == "/wipe" and (not bot or self.bot_name is None or bot == self.bot_name)

    async def wipe(self, chat_id: Any) -> None:
        """Delete the chat's remembered messages still under 48 hours old, then report."""
        out = self.get_output_channel()
        entries, too_old = self.store.chat(chat_id)
        cutoff = _now() - DELETE_WINDOW_SECONDS
        deleted: List[int] = []
        gone: List[int] = []
        failed = 0
        for message_id, sent_at in entries:
            if sent_at < cutoff:
                too_old += 1
                gone.append(message_id)
            elif await self._delete(out, chat_id, message_id):
                deleted.append(message_id)
            else:
                failed += 1
        self.store.forget(chat_id, deleted + gone)
        logger.info("telegram: wipe deleted=%d too_old=%d failed=%d", len(deleted), too_old, failed)
        await out.send_message(chat_id, wipe_report(len(deleted), too_old, failed))

    @staticmethod
    async def _delete(out: TelegramMessenger, chat_id: Any, message_id: int) -> bool:
        """True when the message is gone (deleted now, or already deleted by the user)."""
        for attempt in range(2):
            try:
                await out.delete_message(chat_id, message_id)
                return True
            except MessageToDeleteNotFound:
                return True
            except RetryAfter as error:
                if attempt == 0:
                    await asyncio.sleep(min(float(error.timeout), 30.0))
                    continue
                return False
            except (TelegramAPIError, OSError, asyncio.TimeoutError) as error:
                logger.warning("telegram: a message could not be deleted (%s)", type(error).__name__)
                return False
        return False

    async def _answer_callback(self, query_id: Any) -> None:
        try:
            await self.get_output_channel().answer_callback_query(str(query_id))
        except (TelegramAPIError, OSError, asyncio.TimeoutError) as error:
            logger.warning("telegram: answerCallbackQuery failed (%s)", type(error).__name__)

    async def handle_update(
        self, update: Dict[Text, Any], on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> None:
        """Route one update: button press, /wipe, text to Rasa, anything else gets a short note."""
        out = self.get_output_channel()
        query = update.get("callback_query")
        if isinstance(query, dict):
            message = query.get("message")
            text = query.get("data")
            if query.get("id") is not None:
                await self._answer_callback(query["id"])
        else:
            message = update.get("message") or update.get("edited_message")
            text = message.get("text") if isinstance(message, dict) else None
        chat = message.get("chat") if isinstance(message, dict) else None
        if not isinstance(chat, dict) or chat.get("id") is None:
            return
        chat_id = chat["id"]
        if chat.get("type") != "private":
            await out.send_message(chat_id, PRIVATE_ONLY_TEXT)
            return
        if not isinstance(query, dict) and message.get("message_id") is not None:
            self.store.record(chat_id, message["message_id"], False, message.get("date"))
        if not isinstance(text, str) or not text.strip():
            if not isinstance(query, dict):
                await out.send_message(chat_id, NOT_TEXT_TEXT)
            return
        if self._is_wipe(text):
            await self.wipe(chat_id)
            return
        command = text.strip().split(" ")[0].split("@")[0].lower()
        text = COMMAND_INTENTS.get(command, text)
        await on_new_message(UserMessage(text[:MAX_TEXT_CHARS], out, str(chat_id), input_channel=self.name()))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        telegram_webhook = Blueprint("project_telegram_webhook", __name__)
        tasks: Set[asyncio.Task] = set()

        @telegram_webhook.listener("after_server_start")
        async def start(_app: Any, _loop: Any) -> None:
            task = asyncio.create_task(self.register_webhook())
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        @telegram_webhook.listener("before_server_stop")
        async def stop(_app: Any, _loop: Any) -> None:
            for task in list(tasks):
                task.cancel()
            if self._out is not None:
                await self._out.session.close()  # aiohttp's session (aiogram's close() is deprecated)

        @telegram_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @telegram_webhook.route("/webhook", methods=["POST"])
        async def message(request: Request) -> HTTPResponse:
            if not self.is_authentic(request):
                return response.text("forbidden", status=403)
            try:
                update = json.loads(request.body or b"")
            except ValueError:
                return response.text("not JSON", status=400)
            if not isinstance(update, dict):
                return response.text("not an update", status=400)
            update_id = update.get("update_id")
            key = f"telegram:{self.bot_id}:{update_id}" if isinstance(update_id, int) else None
            if key is not None:
                repeat = deliveries.answer_to_a_repeat(self.deliveries.claim(key))
                if repeat is not None:
                    logger.info("telegram: update %s was delivered again (%d)", update_id, repeat.status)
                    return repeat
            try:
                await self.handle_update(update, on_new_message)
            except Exception as error:  # noqa: BLE001 - answer 200 so Telegram does not redeliver it forever
                # Class and place only: an exception's message may quote what the user wrote.
                where = traceback.extract_tb(error.__traceback__)[-1]
                logger.error(
                    "telegram: failed to handle an update (%s at %s:%d)",
                    type(error).__name__,
                    Path(where.filename).name,
                    where.lineno,
                )
            if key is not None:
                self.deliveries.done(key)
            return response.text("ok")

        return telegram_webhook
