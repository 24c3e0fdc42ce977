"""Serves the demo practice page and the chat widget (http://localhost:8000/ under `make run`).

    python -m bot.web.server [--port 8000] [--host 127.0.0.1]

- `/` is a demo practice page (practice name from bot/content/practice.yml) with the widget on it.
- `/chat-widget.js` is what a practice embeds: socket.io-client from bot/web/node_modules (installed
  by `make setup` from the lock file) followed by bot/web/static/chat-widget.js, in one file.
- `/chat-widget.css` is the widget's stylesheet (the script links it from the same place).

Settings from the environment: WEB_PORT, WEB_HOST, RASA_PUBLIC_URL (where browsers reach Rasa's
socket.io, default http://localhost:$RASA_PORT), WEB_EXIT_URL (quick exit's target, default BBC
Weather, as GOV.UK's pattern suggests). Every response says no-store and no-referrer; the demo page
has a Content-Security-Policy that allows scripts from this server only (plus its one nonce'd
settings line) and connections to the Rasa server only.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import os
import re
import secrets
import sys
from functools import lru_cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Optional, Tuple
from urllib.parse import urlsplit

WEB_DIR = Path(__file__).resolve().parent
STATIC = WEB_DIR / "static"
SOCKET_IO_CLIENT = WEB_DIR / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
DEFAULT_EXIT_URL = "https://www.bbc.co.uk/weather"

logger = logging.getLogger(__name__)


class WidgetBuildError(RuntimeError):
    """socket.io-client is missing: `make setup` installs it with npm from the lock file."""


@lru_cache(maxsize=1)
def widget_bundle() -> bytes:
    """socket.io-client, then the widget, as one script (source-map comments dropped)."""
    if not SOCKET_IO_CLIENT.exists():
        raise WidgetBuildError(f"{SOCKET_IO_CLIENT} is missing; run `make setup` (npm ci in bot/web) first")
    client = SOCKET_IO_CLIENT.read_text(encoding="utf-8")
    client = re.sub(r"//# sourceMappingURL=\S+\s*$", "", client)
    widget = (STATIC / "chat-widget.js").read_text(encoding="utf-8")
    return (client.rstrip() + ";\n" + widget).encode("utf-8")


def rasa_public_url() -> str:
    return os.environ.get("RASA_PUBLIC_URL") or f"http://localhost:{os.environ.get('RASA_PORT', '5005')}"


def page_settings() -> Dict[str, object]:
    """The settings object the demo page hands to the widget."""
    name = "Demo practice"
    try:
        from bot.content.practice import load as load_practice

        name = load_practice().name
    except Exception:  # the page still works with a placeholder name
        logger.warning("practice settings could not be read; the demo page uses a placeholder name")
    return {
        "serverUrl": rasa_public_url(),
        "practiceName": name,
        "title": "Chat",
        "greeting": "A private space to think about couples therapy, at your own pace.",
        "exitUrl": os.environ.get("WEB_EXIT_URL") or DEFAULT_EXIT_URL,
        "colours": {"primary": "#1d4e89", "primaryText": "#ffffff"},
    }


def script_json(value: object) -> str:
    """JSON that is safe inside a <script> element (no `</script>`, no `<!--`)."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def origin_of(url: str) -> Tuple[str, str]:
    parts = urlsplit(url)
    ws = "wss" if parts.scheme == "https" else "ws"
    return f"{parts.scheme}://{parts.netloc}", f"{ws}://{parts.netloc}"


def demo_page() -> Tuple[bytes, str]:
    nonce = secrets.token_urlsafe(16)
    settings = page_settings()
    text = (STATIC / "index.html").read_text(encoding="utf-8")
    text = (
        text.replace("__PAGE_TITLE__", html.escape(f"Couples therapy coach - {settings['practiceName']}"))
        .replace("__PRACTICE_NAME__", html.escape(str(settings["practiceName"])))
        .replace("__NONCE__", nonce)
        .replace("__SETTINGS__", script_json(settings))
    )
    http_origin, ws_origin = origin_of(str(settings["serverUrl"]))
    csp = (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {http_origin} {ws_origin}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"
    )
    return text.encode("utf-8"), csp


STATIC_FILES = {
    "/chat-widget.css": ("chat-widget.css", "text/css; charset=utf-8"),
    "/demo.css": ("demo.css", "text/css; charset=utf-8"),
    "/neutral.html": ("neutral.html", "text/html; charset=utf-8"),
}


class Handler(BaseHTTPRequestHandler):
    server_version = "coach-web"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._serve(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        path = urlsplit(self.path).path
        csp: Optional[str] = None
        try:
            if path in ("/", "/index.html"):
                body, csp = demo_page()
                ctype = "text/html; charset=utf-8"
            elif path == "/chat-widget.js":
                body, ctype = widget_bundle(), "text/javascript; charset=utf-8"
            elif path in STATIC_FILES:
                name, ctype = STATIC_FILES[path]
                body = (STATIC / name).read_bytes()
            elif path == "/health":
                body, ctype = b'{"status": "ok"}', "application/json"
            else:
                self._send(HTTPStatus.NOT_FOUND, b"Not found", "text/plain; charset=utf-8", head)
                return
        except WidgetBuildError as error:
            logger.error("%s", error)
            self._send(
                HTTPStatus.SERVICE_UNAVAILABLE, b"The chat widget is not built yet.", "text/plain; charset=utf-8", head
            )
            return
        self._send(HTTPStatus.OK, body, ctype, head, csp)

    def _send(self, status: HTTPStatus, body: bytes, ctype: str, head: bool, csp: Optional[str] = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        if ctype.startswith(("text/javascript", "text/css")):
            # Practices load the widget from their own pages.
            self.send_header("Access-Control-Allow-Origin", "*")
        if csp:
            self.send_header("Content-Security-Policy", csp)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        # Paths only, never query strings (they could carry anything a page put there).
        logger.info("%s %s", self.command, urlsplit(self.path).path)


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("WEB_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("WEB_PORT", "8000")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s web %(message)s")
    try:
        widget_bundle()
    except WidgetBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"demo practice page with the chat widget on http://localhost:{args.port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
