"""The socket.io channel's fixes and the web page server, without a trained model."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import urllib.request
from http.server import ThreadingHTTPServer
from unittest import mock

import pytest

from bot.channels.socketio import MAX_MESSAGE_CHARS, SocketIOChannel, valid_session_id
from bot.web import server as web


def test_only_session_ids_the_server_could_have_made_are_accepted():
    assert valid_session_id("0123456789abcdef0123456789abcdef")
    for bad in ["alice", "", None, 42, "0123456789ABCDEF0123456789ABCDEF", "0" * 33, {"id": 1}]:
        assert valid_session_id(bad) is None


@pytest.fixture
def channel():
    received = []

    async def on_new_message(message):
        received.append(message)

    ch = SocketIOChannel(session_persistence=True)
    ch.blueprint(on_new_message)
    ch.sio.enter_room = mock.AsyncMock()
    ch.sio.emit = mock.AsyncMock()
    handlers = ch.sio.handlers["/"]
    return ch, handlers, received


def run(coro):
    return asyncio.new_event_loop().run_until_complete(coro)


def test_session_request_awaits_enter_room_and_replaces_a_chosen_id(channel):
    ch, handlers, _ = channel
    run(handlers["session_request"]("sid1", {"session_id": "alice"}))
    room = ch.sio.enter_room.await_args.args[1]
    assert valid_session_id(room) and room != "alice"
    ch.sio.emit.assert_awaited_with("session_confirm", room, room="sid1", namespace="/")
    kept = "0123456789abcdef0123456789abcdef"
    run(handlers["session_request"]("sid2", {"session_id": kept}))
    assert ch.sio.enter_room.await_args.args[1] == kept
    run(handlers["session_request"]("sid3", None))  # no data at all: a new session
    assert valid_session_id(ch.sio.enter_room.await_args.args[1])


def test_malformed_message_events_are_ignored_not_raised(channel):
    _, handlers, received = channel
    for data in [None, "hello", ["x"], {"message": "hi"}, {"message": "hi", "session_id": "alice"}]:
        run(handlers["user_uttered"]("sid", data))
    assert received == []


def test_message_reaches_rasa_with_the_session_as_sender(channel):
    ch, handlers, received = channel
    session = "0123456789abcdef0123456789abcdef"
    run(
        handlers["user_uttered"](
            "sid", {"message": "x" * (MAX_MESSAGE_CHARS + 10), "session_id": session, "metadata": "{not json"}
        )
    )
    run(handlers["user_uttered"]("sid", {"message": 12, "session_id": session, "metadata": [1]}))
    assert [m.sender_id for m in received] == [session, session]
    assert len(received[0].text) == MAX_MESSAGE_CHARS and received[0].metadata == {}
    assert received[1].text == "" and received[1].metadata == {}
    # The socket joins the session's room even if it skipped session_request after a reconnect.
    assert ch.sio.enter_room.await_args.args[1] == session


def test_settings_json_cannot_close_the_script_element():
    text = web.script_json({"practiceName": "</script><script>alert(1)</script>&"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text)["practiceName"].startswith("</script>")


@pytest.fixture
def page_server(monkeypatch):
    monkeypatch.setenv("RASA_PUBLIC_URL", "https://chat.example.org")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), web.Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def test_demo_page_headers_and_settings(page_server):
    status, headers, body = get(page_server + "/")
    assert status == 200
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp and "'unsafe-inline'" not in csp
    assert "connect-src 'self' https://chat.example.org wss://chat.example.org" in csp
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">window.CoachChatSettings = ' in body
    assert '"serverUrl": "https://chat.example.org"' in body
    assert "cdn" not in body.lower() and "fonts.googleapis" not in body


def test_widget_bundle_and_unknown_paths(page_server):
    if not web.SOCKET_IO_CLIENT.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("socket.io-client is missing: make setup installs it")
        pytest.skip("socket.io-client not installed (make setup)")
    status, headers, body = get(page_server + "/chat-widget.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert "sourceMappingURL" not in body and "window.CoachChatSettings" in body
    assert get(page_server + "/../../etc/passwd")[0] == 404
    assert get(page_server + "/node_modules/socket.io-client/package.json")[0] == 404
