"""Idempotency-Key (IETF httpapi draft): a repeated POST or PUT replays the first answer instead of acting again.

The first request with a key runs inside one transaction that also stores its response under the key, so the key is
durable exactly when the effect is. Routes need not know: while the request runs, the service's pool lends them that
transaction's connection (`RequestScopedPool`), and their own transactions become savepoints inside it.
"""
from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import os
import signal
from http import HTTPStatus
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import structlog
from prometheus_client import Counter

from .auth import VERIFIED, AuthError
from .clock import Clock
from .fhir_errors import outcome
from .web import problem

log = structlog.get_logger("runtime.idempotency")
HEADER = "Idempotency-Key"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 255
REQUESTS = Counter("peerbridge_idempotency_requests_total", "Requests that carried an Idempotency-Key, by outcome",
                   ["service", "outcome"])

# The connection of the idempotent request running in the current task (and that task), if any.
_lent: contextvars.ContextVar[tuple[asyncio.Task, asyncpg.Connection] | None] = contextvars.ContextVar(
    "peerbridge_request_connection", default=None)


class _Lent:
    """What `pool.acquire()` returns inside an idempotent request: its connection, awaitable or as a context."""

    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn

    def __await__(self):
        yield from ()
        return self.conn

    async def __aenter__(self) -> asyncpg.Connection:
        return self.conn

    async def __aexit__(self, *_exc) -> bool:
        return False


class RequestScopedPool:
    """The service's pool; inside an idempotent request, its task gets the request's connection instead."""

    def __init__(self, pool: asyncpg.Pool):
        self.raw = pool

    @staticmethod
    def _current() -> asyncpg.Connection | None:
        lent = _lent.get()
        # Tasks spawned by a request inherit the variable; only the request's own task may use its connection.
        if lent is not None and lent[0] is asyncio.current_task():
            return lent[1]
        return None

    def acquire(self, **kwargs):
        conn = self._current()
        return _Lent(conn) if conn is not None else self.raw.acquire(**kwargs)

    async def release(self, conn, **kwargs) -> None:
        if conn is not self._current():
            await self.raw.release(conn, **kwargs)

    def __getattr__(self, name):
        return getattr(self.raw, name)


@dataclass(frozen=True)
class Stored:
    """A response kept under a key, and the fingerprint of the request that produced it."""

    fingerprint: bytes
    status: int
    headers: list
    body: bytes


def parse_key(value: str) -> str | None:
    """The key from the header (a structured-field string, quoted, or bare); None when it is not usable."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not 0 < len(value) <= MAX_KEY_LENGTH or not all(0x20 < ord(c) < 0x7F for c in value):
        return None
    return value


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> bytes:
    """What makes two requests the same: method, path, query and body (JSON compared by value, not layout)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, canonical):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.digest()


class IdempotencyMiddleware:
    """ASGI middleware: stores the first answer to a keyed POST/PUT with its effect, replays it for repeats."""

    def __init__(self, app, *, service: str, clock: Clock, keep: timedelta, failpoint: str | None = None):
        self.app = app
        self.service = service
        self.clock = clock
        self.keep = keep
        # Test-only: "kill-before-response:METHOD /route" SIGKILLs the process once that route's effect has
        # committed and before its answer leaves, as a crash at the worst moment would.
        self.kill_before_response = failpoint.split(":", 1)[1] if failpoint and failpoint.startswith(
            "kill-before-response:") else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in UNSAFE:
            return await self.app(scope, receive, send)
        send = self._failpoint(scope, send)
        raw = dict(scope["headers"]).get(HEADER.lower().encode())
        if raw is None:
            return await self.app(scope, receive, send)
        key = parse_key(raw.decode("latin-1"))
        if key is None:
            REQUESTS.labels(self.service, "invalid").inc()
            return await self._error(scope, send, 400, f"{HEADER} must be 1 to {MAX_KEY_LENGTH} visible ASCII "
                                     "characters (a UUID is recommended)")
        caller = await self._caller(scope)
        if caller is None:
            return await self.app(scope, receive, send)  # the route answers 401; nothing is kept
        body = await _read_body(receive)
        digest = fingerprint(scope["method"], scope["path"], scope.get("query_string", b""), body)
        await self._run(scope, _replaying(body, receive), send, (caller, scope["method"], scope["path"], key), digest)

    async def _run(self, scope, receive, send, ident: tuple, digest: bytes) -> None:
        runtime = scope["app"].state.runtime
        captured = _Captured()
        async with runtime.pool.acquire() as conn, conn.transaction():
            # Held until commit or rollback, also when the process dies: a repeat meanwhile is told to wait.
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
                                       "\x1f".join(ident)):
                REQUESTS.labels(self.service, "in-progress").inc()
                return await self._error(scope, send, 409, f"a request with this {HEADER} is still being "
                                         "processed; retry when it has finished")
            stored = await _load(conn, ident, self.clock.now() - self.keep)
            if stored is not None:
                if stored.fingerprint != digest:
                    REQUESTS.labels(self.service, "mismatch").inc()
                    return await self._error(scope, send, 422, f"this {HEADER} was used for a different request "
                                             "(another body or query); use a new key")
                REQUESTS.labels(self.service, "replayed").inc()
                log.info("idempotent_replay", method=ident[1], status_code=stored.status)
                return await _send(send, stored.status, [*stored.headers, [b"idempotent-replayed", b"true"]],
                                   stored.body)
            token = _lent.set((asyncio.current_task(), conn))
            try:
                await self.app(scope, receive, captured.send)
            finally:
                _lent.reset(token)
            if 200 <= captured.status < 300:
                await _save(conn, ident, digest, captured, self.clock.now())
                REQUESTS.labels(self.service, "stored").inc()
        # Committed: only now may the caller learn the outcome.
        await _send(send, captured.status, captured.headers, captured.body)

    async def _caller(self, scope) -> str | None:
        scheme, _, token = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            principal = await scope["app"].state.verifier.verify(token.strip())
        except AuthError:
            return None
        # The route's own authentication reads this instead of verifying the same token a second time.
        scope.setdefault("state", {})[VERIFIED] = (token.strip(), principal)
        return principal.subject

    async def _error(self, scope, send, status: int, detail: str) -> None:
        path = scope["path"]
        if path == "/fhir" or path.startswith("/fhir/"):
            response = outcome(status, detail, "conflict" if status == 409 else None)
        else:
            response = problem(status, HTTPStatus(status).phrase, detail)
        await _send(send, response.status_code, response.raw_headers, response.body)

    def _failpoint(self, scope, send):
        if self.kill_before_response is None:
            return send

        async def send_or_die(message):
            route = scope.get("route")
            if (message["type"] == "http.response.start" and route is not None
                    and f"{scope['method']} {route.path}" == self.kill_before_response):
                log.warning("failpoint_kill", route=route.path)
                os.kill(os.getpid(), signal.SIGKILL)
            await send(message)

        return send_or_die


class _Captured:
    """The app's answer, held back until the transaction holding its effect has committed."""

    def __init__(self):
        self.status = 500
        self.headers: list = []
        self.chunks: list[bytes] = []

    async def send(self, message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = [list(h) for h in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


async def _read_body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive):
    """A receive channel that hands the app the body already read, then the client's own messages."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send(send, status: int, headers: list, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(bytes(k), bytes(v)) for k, v in headers]})
    await send({"type": "http.response.body", "body": body})


async def _load(conn: asyncpg.Connection, ident: tuple, fresh_after) -> Stored | None:
    row = await conn.fetchrow(
        "SELECT fingerprint, status_code, headers, body FROM idempotency_keys WHERE caller = $1 AND method = $2"
        " AND path = $3 AND key = $4 AND created_at > $5", *ident, fresh_after)
    if row is None:
        return None
    headers = [[k.encode("latin-1"), v.encode("latin-1")] for k, v in row["headers"]]
    return Stored(row["fingerprint"], row["status_code"], headers, row["body"])


async def _save(conn: asyncpg.Connection, ident: tuple, digest: bytes, captured: _Captured, now) -> None:
    headers = [[bytes(k).decode("latin-1"), bytes(v).decode("latin-1")] for k, v in captured.headers]
    # An expired key (older than the retention, not yet pruned) is taken over by the new request.
    await conn.execute(
        "INSERT INTO idempotency_keys (caller, method, path, key, fingerprint, status_code, headers, body,"
        " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (caller, method, path, key) DO UPDATE"
        " SET fingerprint = EXCLUDED.fingerprint, status_code = EXCLUDED.status_code, headers = EXCLUDED.headers,"
        " body = EXCLUDED.body, created_at = EXCLUDED.created_at",
        *ident, digest, captured.status, headers, captured.body, now)
