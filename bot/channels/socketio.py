"""Rasa's socket.io channel with the session-persistence bug fixed, for the web widget.

Rasa 3.6 never joins the socket to its session's room (RasaHQ/rasa#13027; the fix is
bot/rasa_ext/socketio.py). This channel keeps Rasa's channel and re-registers two handlers:

- `session_request` awaits `enter_room`, and accepts only a session id the server itself could
  have made (32 hex characters), so a client cannot pick a guessable id ("alice") and read or
  continue someone else's conversation; anything else gets a fresh id.
- `user_uttered` ignores malformed events (not a dict, no session, metadata that is not JSON)
  instead of raising inside the socket server, and caps the text length.

The conversation's sender id is the session id, so a reload of the page (same tab session)
continues the same conversation, and the tracker store keeps it across server restarts.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any, Awaitable, Callable, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from bot.rasa_ext.socketio import join_room  # also refuses a Rasa it was not written for

logger = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_MESSAGE_CHARS = 5000


def valid_session_id(value: Any) -> Optional[Text]:
    if isinstance(value, str) and SESSION_ID.match(value):
        return value
    return None


class SocketIOChannel(SocketIOInput):
    """socket.io for the web widget (see module docstring). Configured in credentials.yml."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        sio = self.sio
        namespace = self.namespace or "/"

        async def session_request(sid: Text, data: Any) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = valid_session_id(requested) or uuid.uuid4().hex
            if self.session_persistence:
                await join_room(sio, sid, session_id, namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)

        async def handle_message(sid: Text, data: Any) -> None:
            if not isinstance(data, dict):
                logger.warning("socket.io: ignored a message event that is not an object")
                return
            if self.session_persistence:
                sender_id = valid_session_id(data.get("session_id"))
                if sender_id is None:
                    logger.warning("socket.io: ignored a message without a valid session id")
                    return
                # Replies go to the session's room: make sure this socket is in it, even if the
                # client skipped session_request after a reconnect.
                await join_room(sio, sid, sender_id, namespace)
            else:
                sender_id = sid
            text = data.get("message", "")
            if not isinstance(text, str):
                text = ""
            metadata = data.get(self.metadata_key) or {}
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = {}
            if not isinstance(metadata, dict):
                metadata = {}
            message = UserMessage(
                text[:MAX_MESSAGE_CHARS],
                SocketIOOutput(sio, self.bot_message_evt),
                sender_id,
                input_channel=self.name(),
                metadata=metadata,
            )
            await on_new_message(message)

        # `on` replaces the handlers Rasa registered for the same events.
        sio.on("session_request", session_request, namespace=self.namespace)
        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        return blueprint
