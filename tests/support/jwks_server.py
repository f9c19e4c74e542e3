"""A JWKS host as a process of its own (python -m tests.support.jwks_server --port P --dir D): serves D/<name>.json
at /<name>.json, read at each request so a test rotates keys by rewriting the file; /slow/<name>.json answers only
after a minute (a host that hangs); /_count/<name> says how often /<name>.json was fetched."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.support.stack import ROOT, free_port

FETCHES: Counter = Counter()
LOCK = threading.Lock()


def serve(port: int, directory: Path) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the http.server naming)
            path = self.path.strip("/")
            if path.startswith("_count/"):
                return self._send(200, json.dumps({"fetches": FETCHES[path[7:]]}).encode())
            if path.startswith("slow/"):
                time.sleep(60)
                path = path[5:]
            name = path.removesuffix(".json")
            with LOCK:
                FETCHES[name] += 1
            file = directory / f"{name}.json"
            if not name.isidentifier() or not file.exists():
                return self._send(404, b"{}")
            return self._send(200, file.read_bytes())

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


class JwksHost:
    """The JWKS host process, started and stopped by a test; `publish` writes a key set under a name."""

    def __init__(self, directory: Path):
        self.directory, self.port = directory, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def publish(self, name: str, jwks: dict) -> str:
        (self.directory / f"{name}.json.tmp").write_text(json.dumps(jwks))
        (self.directory / f"{name}.json.tmp").replace(self.directory / f"{name}.json")
        return f"{self.url}/{name}.json"

    def fetches(self, name: str) -> int:
        return httpx.get(f"{self.url}/_count/{name}").json()["fetches"]

    def __enter__(self) -> "JwksHost":
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.support.jwks_server", "--port", str(self.port),
                                      "--dir", str(self.directory)], cwd=ROOT)
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.url}/_count/x", timeout=2)
                return self
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.__exit__()
                    raise RuntimeError("the JWKS host did not start") from None
                time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    serve(args.port, args.dir)
