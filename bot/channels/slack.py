"""Slack channel: Rasa's Slack connector with a privacy note before safety-related content.

Configured by `python -m bot.channels.credentials` when SLACK_TOKEN and SLACK_SIGNING_SECRET are
set (see docs/channels.md). Rasa's `SlackInput` verifies every request's v0 signature and
timestamp (never disabled here). Additions:

- **Privacy note.** Depending on the plan, a Slack workspace's owners and admins can export direct
  messages, and a bot can delete only its own messages. Before safety-related content the bot
  says so and points to the hotlines instead of writing here:
  - before every escalation reply (at most once per bot turn), recognised by the response name
    that Rasa 3.6 puts in each bot message (`utter_action`, set both for rule-driven responses
    and for `dispatcher.utter_message(response=...)` in custom actions);
  - before the onboarding screen (the safe-to-talk question, the screening items and
    `utter_screen_intro`), once per conversation and server process, recognised by their
    response names (`utter_ask_safe_to_talk`, `utter_ask_screen_*`).
- **Buttons** become Block Kit buttons: all of them (Rasa drops every button beyond five, and our
  country question has six), with the payload as the button value.
- **Malformed requests** (signed, but not the JSON or form payload Slack sends) get 400 instead of
  an exception; Slack's URL verification gets `{"challenge": ...}` as JSON.
- **Direct messages only**: Rasa would also answer an @-mention in a channel, where other members
  read the disclosure and the reply.
- **Retries answered once.** Slack sends an event again (`X-Slack-Retry-Num`) after 3 seconds
  without an answer, after an error or a failed connection; Rasa drops the timeout retries
  unseen (lost if the first delivery never reached it) and answers the others again. Here each
  `event_id` is claimed once across processes (bot/channels/deliveries.py): a retry of an answered
  event is acknowledged and dropped, a retry of an event never handled is handled.
- Messages are posted without Rasa's `as_user` flag, which Slack documents as legacy (classic apps only).

SLACK_API_URL points the outbound Web API calls at another server (tests only; a warning is logged).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections import OrderedDict
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.slack import SlackBot, SlackInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels import deliveries, texts
from bot.rasa_ext.slack import DirectMessagesOnly, PostWithoutAsUser  # also refuses a Rasa it was not written for
from bot.safety import hotlines

logger = logging.getLogger(__name__)

# The replies the privacy note goes before: every generated reply with hotlines (bot/safety/hotlines.py)
# and the check-in's and the privacy answer's.
ESCALATION_RESPONSES = hotlines.SAFETY_RESPONSES | frozenset({"utter_check_in_named", "utter_device_safety"})
SCREEN_RESPONSES = frozenset({"utter_screen_intro", "utter_ask_safe_to_talk"})
MAX_BUTTONS = 25  # Slack's limit for one actions block
MAX_BUTTON_TITLE = 75
MAX_SECTION_TEXT = 3000
MAX_REMEMBERED_CONVERSATIONS = 10_000

PRIVACY = texts.text("slack.privacy")
ESCALATION_NOTE = PRIVACY + " " + texts.text("slack.before_escalation")


def is_escalation(message: Dict[Text, Any]) -> bool:
    """An escalation reply (the hotlines), by the response name Rasa sends with each bot message."""
    name = message.get("utter_action") or ""
    return name in ESCALATION_RESPONSES or name.startswith("utter_escalate_")


def _normalise(text: Any) -> Text:
    return " ".join(str(text or "").split())


def is_screen_question(message: Dict[Text, Any]) -> bool:
    """The safe-to-talk question, the screen's introduction, items and follow-ups, by the response
    name Rasa sends with each bot message (domain.yml utter_ask_<slot>)."""
    name = message.get("utter_action") or ""
    return name in SCREEN_RESPONSES or name.startswith("utter_ask_screen_")


@functools.lru_cache(maxsize=1)
def screen_note() -> Text:
    """The privacy note before the screen, with each region's domestic-violence line (the region
    is not known yet when the first question is asked)."""
    data = hotlines.load()
    lines = [PRIVACY + " " + texts.text("slack.before_screen")]
    for region in data["regions"].values():
        line = region["domestic_violence"][0]
        lines.append(
            texts.text("slack.screen_region_line", region=region["name"], name=line["name"], contact=line["contact"])
        )
    lines.append(texts.text("slack.screen_anywhere_else", contact=data["unknown_region"]["domestic_violence"]))
    return "\n".join(lines)


class NotedConversations:
    """Conversations that have seen the screen note (bounded; forgotten on restart, so at worst
    the note is shown again)."""

    def __init__(self, limit: int = MAX_REMEMBERED_CONVERSATIONS) -> None:
        self.limit = limit
        self._seen: "OrderedDict[Text, None]" = OrderedDict()

    def __contains__(self, conversation: Text) -> bool:
        return conversation in self._seen

    def add(self, conversation: Text) -> None:
        self._seen[conversation] = None
        self._seen.move_to_end(conversation)
        while len(self._seen) > self.limit:
            self._seen.popitem(last=False)


class SlackMessenger(PostWithoutAsUser, SlackBot):
    """Rasa's Slack output for one bot turn, with the privacy note and all buttons."""

    def __init__(
        self,
        token: Text,
        noted: NotedConversations,
        slack_channel: Optional[Text] = None,
        thread_id: Optional[Text] = None,
        proxy: Optional[Text] = None,
        api_url: Optional[Text] = None,
    ) -> None:
        super().__init__(token, slack_channel, thread_id, proxy)
        if api_url:
            self.client = AsyncWebClient(token, base_url=api_url, proxy=proxy)
        self.noted = noted
        self.escalation_noted = False

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        """Precede safety-related content with the privacy note, then send it."""
        if is_escalation(message):
            if not self.escalation_noted:
                await self.send_text_message(recipient_id, ESCALATION_NOTE)
                self.escalation_noted = True
                self.noted.add(recipient_id)
        elif is_screen_question(message) and recipient_id not in self.noted:
            await self.send_text_message(recipient_id, screen_note())
            self.noted.add(recipient_id)
        await super().send_response(recipient_id, message)

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        """The text as a section and every button (up to Slack's 25) with its payload as value."""
        if len(buttons) > MAX_BUTTONS:
            logger.warning("slack: %d buttons cannot be shown; sending the text only", len(buttons))
            await self.send_text_message(recipient_id, text)
            return
        blocks: List[Dict[Text, Any]] = []
        if len(text) <= MAX_SECTION_TEXT:
            blocks.append({"type": "section", "text": {"type": "plain_text", "text": text}})
        else:
            await self.send_text_message(recipient_id, text)
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": str(b["title"])[:MAX_BUTTON_TITLE]},
                        "value": str(b["payload"]),
                    }
                    for b in buttons
                ],
            }
        )
        await self._post_message(channel=self.slack_channel or recipient_id, text=text, blocks=blocks)


def _well_formed(request: Request) -> Optional[Dict[Text, Any]]:
    """The request's event or interaction payload, or None if it is not shaped like Slack's."""
    content_type = request.headers.get("content-type")
    try:
        if content_type == "application/json":
            body = json.loads(request.body)
            if not isinstance(body, dict) or not isinstance(body.get("event", {}), dict):
                return None
            if not isinstance(body.get("event", {}).get("text", ""), str):
                return None
            authorizations = body.get("authorizations", [])
            if not isinstance(authorizations, list) or not all(isinstance(a, dict) for a in authorizations):
                return None
            return body
        if content_type == "application/x-www-form-urlencoded":
            payload = json.loads(request.form.get("payload") or "")
            if not isinstance(payload, dict):
                return None
            actions = payload.get("actions", [])
            if not isinstance(actions, list) or (actions and not isinstance(actions[0], dict)):
                return None
            if actions and not (isinstance(payload.get("user"), dict) and payload["user"].get("id")):
                return None
            if not all(isinstance(payload.get(k, {}), dict) for k in ("channel", "message", "user")):
                return None
            return payload
    except (ValueError, TypeError):
        return None
    return {}


def _event_id(request: Request) -> Optional[Text]:
    """The Events API's id of this event (the same in every retry), if the request is an event."""
    if request.headers.get("content-type") != "application/json":
        return None
    try:
        event_id = json.loads(request.body).get("event_id")
    except (ValueError, AttributeError):
        return None
    return event_id if isinstance(event_id, str) and event_id else None


def _retry_number(request: Request) -> Text:
    return str(request.headers.get("X-Slack-Retry-Num") or "0")


class SlackChannel(DirectMessagesOnly, SlackInput):
    """The project's Slack input channel (see module docstring); Rasa's Slack credentials."""

    @classmethod
    def name(cls) -> Text:
        return "slack"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.noted = NotedConversations()
        # Retries are recognised by event_id (below), so none is dropped unseen by its reason.
        self.errors_ignore_retry = ()
        self.deliveries = deliveries.from_environment()
        self.api_url = os.environ.get("SLACK_API_URL") or None
        if self.api_url:
            logger.warning("slack: the Web API is redirected to %s (SLACK_API_URL, for tests only)", self.api_url)

    def get_output_channel(self, channel: Optional[Text] = None, thread_id: Optional[Text] = None) -> SlackMessenger:
        return SlackMessenger(
            self.slack_token, self.noted, channel or self.slack_channel, thread_id, self.proxy, self.api_url
        )

    async def process_message(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        text: Text,
        sender_id: Optional[Text],
        metadata: Optional[Dict],
    ) -> Any:
        """Rasa's handling (reply in a background task), except for events without a user and
        for an event delivered again (bot/channels/deliveries.py)."""
        if not sender_id:
            return response.text("")
        event_id = _event_id(request)
        if event_id is None:  # a button press (Slack does not redeliver those)
            return await super().process_message(request, on_new_message, text, sender_id, metadata)
        key = f"slack:{event_id}"
        repeat = deliveries.answer_to_a_repeat(self.deliveries.claim(key), {"X-Slack-No-Retry": "1"})
        if repeat is not None:
            logger.info("slack: event delivered again (retry %s, %d)", _retry_number(request), repeat.status)
            return repeat

        async def answer_then_mark(message: UserMessage) -> Any:
            try:
                return await on_new_message(message)
            finally:
                self.deliveries.done(key)

        return await super().process_message(request, answer_then_mark, text, sender_id, metadata)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        slack_webhook = super().blueprint(on_new_message)

        @slack_webhook.middleware("request")
        async def screen(request: Request) -> Optional[HTTPResponse]:
            """Signature first, then shape; answer Slack's URL verification."""
            if request.method != "POST" or not request.path.rstrip("/").endswith("/webhook"):
                return None
            if not self.is_request_from_slack_authentic(request):
                return response.text(
                    "Message is not properly signed with a valid X-Slack-Signature header",
                    status=HTTPStatus.BAD_REQUEST,
                )
            body = _well_formed(request)
            if body is None:
                return response.text("malformed request", status=HTTPStatus.BAD_REQUEST)
            if body.get("type") == "url_verification":
                return response.json({"challenge": body.get("challenge")})
            return None

        return slack_webhook
