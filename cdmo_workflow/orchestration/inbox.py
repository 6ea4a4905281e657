"""The demo's notification inbox: a small HTTP server inside ``cdmo up``.

Apprise's ``json://host:port/path`` target POSTs ``{"title", "message", "type", ...}`` as
JSON. ``cdmo up`` gives every demo user the target ``json://127.0.0.1:<port>/inbox/<user>``
and serves, on the same port, a page listing what arrived (newest first, refreshed every
few seconds): ``http://127.0.0.1:<port>/``. Messages are kept in memory and appended to
``<home>/inbox.jsonl``. Only for the demo: it listens on 127.0.0.1 and needs no login.
"""

from __future__ import annotations

import contextlib
import html
import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PREFIX = "/inbox/"
MAX_BODY = 256 * 1024
KEEP = 500


class Inbox:
    """``Inbox(port, log).start()``; ``.messages``; ``.target(user)``; ``.stop()``."""

    def __init__(self, port: int = 0, log: Path | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requested_port = port
        self.log = log
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def target(self, user: str) -> str:
        return f"json://{self.host}:{self.port}{PREFIX}{user}"

    def start(self) -> Inbox:
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:  # quiet: cdmo up prints its own lines
                return

            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"message": raw.decode("utf-8", "replace")}
                path = self.path.split("?", 1)[0]
                user = path[len(PREFIX) :] if path.startswith(PREFIX) else path.strip("/")
                inbox.add(user, body if isinstance(body, dict) else {"message": str(body)})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] == "/messages.json":
                    data = json.dumps(inbox.snapshot()).encode()
                    ctype = "application/json"
                else:
                    data = inbox.page().encode()
                    ctype = "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        try:
            self._server = ThreadingHTTPServer((self.host, self.requested_port), Handler)
        except OSError:  # the port is taken: any free one (cdmo up prints the address)
            self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="cdmo-inbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def add(self, user: str, body: dict[str, Any]) -> None:
        item = {
            "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "to": user,
            "title": str(body.get("title") or ""),
            "message": str(body.get("message") or body.get("body") or ""),
            "type": str(body.get("type") or "info"),
        }
        with self._lock:
            self.messages.append(item)
            del self.messages[:-KEEP]
        if self.log is not None:
            with contextlib.suppress(OSError), self.log.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(item) + "\n")

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(reversed(self.messages))

    def page(self) -> str:
        rows = []
        for m in self.snapshot():
            rows.append(
                "<tr><td>{}</td><td>{}</td><td><b>{}</b><br><pre>{}</pre></td></tr>".format(
                    html.escape(m["at"]),
                    html.escape(m["to"]),
                    html.escape(m["title"]),
                    html.escape(m["message"]),
                )
            )
        body = "".join(rows) or '<tr><td colspan="3">No message yet.</td></tr>'
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            "<meta http-equiv='refresh' content='5'><title>cdmo demo inbox</title>"
            "<style>body{font-family:sans-serif;margin:2em}td{vertical-align:top;"
            "padding:.4em;border-bottom:1px solid #ddd}pre{white-space:pre-wrap;margin:0}"
            "</style></head><body><h1>cdmo demo inbox</h1>"
            f"<p>Notifications sent to the demo users ({len(self.messages)} received; "
            "newest first; this page reloads every 5 s).</p>"
            "<table><tr><th>Received</th><th>To</th><th>Message</th></tr>"
            f"{body}</table></body></html>"
        )


def route_demo_users(ctx: Any, inbox: Inbox, users: list[str]) -> None:
    """Point each demo user's notifications at ``inbox`` (replacing older inbox targets)."""
    with ctx.db.unit_of_work() as uow:
        for user in users:
            for old in uow.users.targets(user):
                if old.startswith("json://127.0.0.1:") and PREFIX in old:
                    uow.users.remove_target(user, old)
            uow.users.add_target(user, inbox.target(user))
        uow.commit()
