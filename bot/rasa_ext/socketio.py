"""The socket.io channel's room join, awaited (fix, RasaHQ/rasa#13027).

Rasa 3.6 calls `sio.enter_room(...)` without awaiting it; since python-socketio 5.10 that is a
coroutine, so with `session_persistence: true` the socket never joins its session's room and the
replies go to an empty room. bot/channels/socketio.py re-registers Rasa's two handlers and joins
rooms through `join_room`, which awaits when there is something to await (older python-socketio
returns None).
"""

from __future__ import annotations

import inspect
from typing import Any, Text

from bot.rasa_ext.version import check_rasa_version

check_rasa_version()


async def join_room(sio: Any, sid: Text, room: Text, namespace: Text) -> None:
    joined = sio.enter_room(sid, room, namespace=namespace)
    if inspect.isawaitable(joined):
        await joined
