"""A rest-hook endpoint for tests: a real HTTP server (its own thread) that keeps every notification it is sent."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.stack import free_port


class HookReceiver:
    """Listens on a free port; `refuse` makes it answer 503 (a subscriber's outage)."""

    def __init__(self):
        self.port = free_port()
        self.received: list[dict] = []
        self.headers: list[dict] = []
        self.refuse = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the http.server naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.refuse:
                    self.send_response(503)
                else:
                    receiver.received.append(json.loads(body))
                    receiver.headers.append(dict(self.headers))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> "HookReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self, kind: str = "event-notification") -> list[dict]:
        """The notifications of one kind, as their status Parameters by name, plus the Task when one came."""
        found = []
        for bundle in self.received:
            params = {p["name"]: p for p in bundle["entry"][0]["resource"]["parameter"]}
            if params["type"]["valueCode"] == kind:
                task = bundle["entry"][1]["resource"] if len(bundle["entry"]) > 1 else None
                found.append({"params": params, "task": task, "bundle": bundle})
        return found
