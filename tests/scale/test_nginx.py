"""nginx in front of the scaled setup (deploy/nginx.conf, scripts/run_scaled.sh): one HTTPS port for
the page, REST, the webhooks and socket.io; request limits; and why socket.io must be sticky.

Its own scripts/run_scaled.sh on free ports (as tests/scale/test_scaled.py starts it).
"""

from __future__ import annotations

import json
import re
import ssl
import time
import urllib.error
import urllib.request
import uuid
from typing import Dict, List, Optional, Tuple

import pytest

from tests.channels import conftest as channels
from tests.scale.test_scaled import scaled  # noqa: F401 - the module's own servers
from tests.servers import Nginx

pytestmark = pytest.mark.integration

CONSENT = channels.question_text("consent_storage")


def tls(scaled) -> ssl.SSLContext:  # noqa: F811
    """Verifies nginx's certificate (self-signed, made at setup) for the name localhost."""
    return ssl.create_default_context(cafile=str(scaled.dir / "nginx" / "tls" / "cert.pem"))


def base(scaled) -> str:  # noqa: F811
    return f"https://localhost:{scaled.https_port}"


def request(
    scaled,  # noqa: F811
    path: str,
    body: Optional[bytes] = None,
    headers: Optional[Dict[str, str]] = None,
    method: Optional[str] = None,
) -> Tuple[int, Dict[str, str], bytes]:
    req = urllib.request.Request(base(scaled) + path, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60, context=tls(scaled)) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def rest(scaled, sender: str, text: str) -> Tuple[int, object]:  # noqa: F811
    body = json.dumps({"sender": sender, "message": text}).encode()
    status, _, answer = request(scaled, "/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
    return status, json.loads(answer) if answer else None


def access_log(scaled) -> List[str]:  # noqa: F811
    return (scaled.dir / "nginx" / "access.log").read_text(errors="replace").splitlines()


def test_the_page_rest_and_health_checks_through_one_https_port(scaled):  # noqa: F811
    status, headers, page = request(scaled, "/")
    assert status == 200 and b"cc-launcher" in page or b"chat-widget" in page
    csp = headers.get("Content-Security-Policy", "")
    # The page's widget talks to the same origin: nginx, over TLS.
    assert f"https://localhost:{scaled.https_port}" in csp and f"wss://localhost:{scaled.https_port}" in csp
    assert request(scaled, "/nginx-health")[0] == 200
    status, _, hello = request(scaled, "/rasa-health")
    assert status == 200 and b"Hello from Rasa" in hello
    status, replies = rest(scaled, uuid.uuid4().hex, "hi")
    assert status == 200 and CONSENT in [r.get("text") for r in replies]
    # The page accepts GET only; Rasa's own API is not reachable from outside.
    assert request(scaled, "/", b"x", method="POST")[0] == 403
    assert request(scaled, "/model/parse", b"{}", {"Content-Type": "application/json"})[0] in (403, 404, 405)
    assert request(scaled, "/conversations/x/tracker")[0] == 404


def test_plain_http_and_an_unknown_certificate_are_refused(scaled):  # noqa: F811
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{scaled.https_port}/nginx-health", timeout=10)
    assert refused.value.code == 400  # nginx: a plain HTTP request sent to the HTTPS port
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(base(scaled) + "/nginx-health", timeout=10, context=ssl.create_default_context())


def test_request_size_limits(scaled):  # noqa: F811
    big = json.dumps({"sender": "s", "message": "x" * 100_000}).encode()
    status, _, _ = request(scaled, "/webhooks/rest/webhook", big, {"Content-Type": "application/json"})
    assert status == 413
    # Webhooks may be larger (Telegram's and Slack's payloads), up to 256 kB: this one reaches
    # Rasa, which refuses it for its missing secret.
    update = json.dumps({"update_id": 1, "padding": "x" * 150_000}).encode()
    assert request(scaled, "/webhooks/telegram/webhook", update, {"Content-Type": "application/json"})[0] == 403
    huge = json.dumps({"update_id": 1, "padding": "x" * 300_000}).encode()
    assert request(scaled, "/webhooks/telegram/webhook", huge, {"Content-Type": "application/json"})[0] == 413


def test_rest_is_spread_over_both_rasa_processes(scaled):  # noqa: F811
    before = len(access_log(scaled))
    for _ in range(8):
        assert rest(scaled, uuid.uuid4().hex, "hi")[0] == 200
    time.sleep(0.5)
    lines = [line for line in access_log(scaled)[before:] if "/webhooks/rest/" in line]
    used = {port for line in lines for port in scaled.rasa_ports if f"127.0.0.1:{port}" in line}
    assert used == set(scaled.rasa_ports), lines


def test_telegram_and_slack_webhooks_through_nginx(scaled):  # noqa: F811
    chat_id = 7951
    mark = scaled.fake.mark()
    update = json.dumps(channels.telegram_message(chat_id, 1, "hi")).encode()
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": channels.TELEGRAM_SECRET}
    assert request(scaled, "/webhooks/telegram/webhook", update, headers)[0] == 200
    sent = [c["params"]["text"] for c in scaled.fake.since(mark, "telegram", "sendMessage")]
    assert CONSENT in sent

    user = "U0NGINX"
    body = channels.slack_dm(user, "hi")
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": channels.slack_signature(body, stamp),
    }
    mark = scaled.fake.mark()
    assert request(scaled, "/webhooks/slack/webhook", body, headers)[0] == 200
    scaled.fake.wait(
        lambda: [c for c in scaled.fake.since(mark, "slack", "chat.postMessage") if c["params"]["text"] == CONSENT]
    )


# --- socket.io ------------------------------------------------------------------------------------


def one_chat(url: str, cafile: str, transport: str, sticky: Optional[str]) -> str:
    """A widget's first exchange over socket.io: connect, ask for a session, say hi, get the
    consent question. Returns "ok" or what went wrong. (python-socketio's threaded client: its
    asyncio client needs a newer aiohttp than Rasa 3.6 allows.)"""
    import threading

    import requests
    import socketio

    http = requests.Session()
    # nginx's certificate: for the websocket here; engineio passes verify=True to each polling
    # request, which makes requests read REQUESTS_CA_BUNDLE (set by the tests).
    http.verify = cafile
    client = socketio.Client(reconnection=False, http_session=http)
    confirmed, replied, replies = threading.Event(), threading.Event(), []

    @client.on("session_confirm")
    def on_confirm(_data):
        confirmed.set()

    @client.on("bot_uttered")
    def on_reply(data):
        replies.append(data.get("text") if isinstance(data, dict) else data)
        if CONSENT in replies:
            replied.set()

    session_id = uuid.uuid4().hex
    query = f"?sticky={sticky}" if sticky else ""
    try:
        client.connect(url + query, transports=[transport], socketio_path="/socket.io", wait_timeout=15)
        client.emit("session_request", {"session_id": session_id})
        if not confirmed.wait(15):
            return "no session_confirm"
        client.emit("user_uttered", {"message": "hi", "session_id": session_id})
        return "ok" if replied.wait(30) else f"no reply ({replies})"
    except Exception as error:  # noqa: BLE001 - the test counts failures
        return f"{type(error).__name__}: {str(error)[-300:]}"
    finally:
        try:
            client.disconnect()
        finally:
            http.close()


def chats(url: str, cafile: str, transport: str, n: int, sticky: bool = True) -> List[str]:
    from concurrent.futures import ThreadPoolExecutor

    keys = [uuid.uuid4().hex[:16] if sticky else None for _ in range(n)]
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda key: one_chat(url, cafile, transport, key), keys))


def test_the_widget_s_socket_io_works_through_nginx_with_polling_and_websocket(scaled, monkeypatch):  # noqa: F811
    before = len(access_log(scaled))
    cafile = str(scaled.dir / "nginx" / "tls" / "cert.pem")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cafile)
    results = chats(base(scaled), cafile, "polling", 8) + chats(base(scaled), cafile, "websocket", 4)
    assert results == ["ok"] * 12, results
    # The sticky key spreads the connections over both processes.
    lines = [line for line in access_log(scaled)[before:] if "/socket.io/" in line]
    used = {port for line in lines for port in scaled.rasa_ports if f"127.0.0.1:{port}" in line}
    assert used == set(scaled.rasa_ports), lines[:20]


def test_without_sticky_sessions_socket_io_polling_breaks(scaled, tmp_path, monkeypatch):  # noqa: F811
    """The README says socket.io needs sticky sessions; this shows it: the same nginx, the same two
    processes, socket.io balanced round robin. Long polling's requests of one connection then land
    on the process that does not know the session."""
    loose = Nginx(tmp_path, scaled.rasa_ports, scaled.web_port, scaled.actions_port, socketio_hash="")
    loose.start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(loose.cafile))
    try:
        results = chats(loose.url, str(loose.cafile), "polling", 8)
    finally:
        loose.stop()
    failed = [r for r in results if r != "ok"]
    assert len(failed) >= 6, results  # round robin: nearly every connection breaks
    errors = "\n".join(loose.access_log())
    assert re.search(r"/socket\.io/ 400 ", errors), "the other process refuses the unknown session"


def listening_addresses(port: int) -> set:
    """The addresses a TCP port listens on, from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_only_nginx_faces_the_network_and_it_listens_on_loopback_here(scaled):  # noqa: F811
    loopback = {"0100007F"}  # 127.0.0.1 in /proc's byte order
    inside = [*scaled.rasa_ports, scaled.actions_port, scaled.web_port, scaled.pg_port, scaled.redis_port]
    for port in inside + [scaled.actions_proxy_port, scaled.https_port]:
        assert listening_addresses(port) == loopback, (port, listening_addresses(port))
