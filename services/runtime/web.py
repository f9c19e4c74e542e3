"""What every service's HTTP side shares: health, readiness, metrics, problem+json errors, request metrics."""
from __future__ import annotations

import os
import re
import time
import uuid
from datetime import datetime, timezone
from typing import Annotated

import numpy as np
import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram,
                               generate_latest, multiprocess)
from pydantic import AfterValidator, AwareDatetime, BeforeValidator
from pydantic_core import PydanticSerializationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .auth import AuthError

log = structlog.get_logger("runtime.web")
PROBLEM = "application/problem+json"
# FHIR resources nest about 15 levels (Bundle, entry, resource, extension, ...); far deeper input is an attack on
# the parsers' recursion, which answers RecursionError (a 500) long before the JSON is read.
MAX_JSON_DEPTH = 64
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_DEPTH_STEP = np.zeros(256, np.int8)
_DEPTH_STEP[list(b"[{")] = 1
_DEPTH_STEP[list(b"]}")] = -1

REQUESTS = Counter("peerbridge_http_requests_total", "HTTP requests", ["service", "method", "route", "status_code"])
LATENCY = Histogram("peerbridge_http_request_seconds", "HTTP request latency", ["service", "method", "route"])


def problem(status: int, title: str, detail: str | None = None, **extra) -> JSONResponse:
    """An RFC 9457 problem document."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def validation_errors(exc: RequestValidationError) -> list[dict]:
    """Field locations and messages only; the rejected input is left out because it may be patient data."""
    return [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()]


def uuid_or_404(value: str) -> str:
    """A path id as a canonical UUID string; anything else cannot name a row, so 404."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise StarletteHTTPException(404, "not found") from None


ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _written_out(value):
    # pydantic reads a number (12, "12") as seconds since 1970: a sender's bug would become a visit in 1970.
    if isinstance(value, (int, float, bytes)) or (isinstance(value, str) and not ISO_DATE.match(value)):
        raise ValueError("must be an ISO 8601 date-time (YYYY-MM-DDThh:mm:ss with an offset)")
    return value


def _has_utc_equivalent(value: datetime) -> datetime:
    if value.tzinfo is not None:
        try:
            value.astimezone(timezone.utc)
        except OverflowError:  # 0001-01-01T00:00+14:00, 9999-12-31T23:59-14:00: the database driver would fail
            raise ValueError("out of range once converted to UTC") from None
    return value


# Datetime parameters and fields written out in ISO 8601 that the database can store: anything else is a 422
# naming them (a bare number, or an instant UTC cannot hold).
Instant = Annotated[datetime, BeforeValidator(_written_out), AfterValidator(_has_utc_equivalent)]
AwareInstant = Annotated[AwareDatetime, BeforeValidator(_written_out), AfterValidator(_has_utc_equivalent)]


def nested_deeper_than(body: bytes, limit: int) -> bool:
    """Whether JSON text opens arrays and objects more than `limit` levels deep, found without parsing it."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    if b"\\" in body:
        body = _ESCAPE.sub(b"", body)  # an escaped quote does not end a string
    chars = np.frombuffer(body, np.uint8)
    steps = _DEPTH_STEP[chars]
    steps[(np.cumsum(chars == ord('"'), dtype=np.int64) & 1) == 1] = 0  # brackets inside strings do not count
    return int(np.cumsum(steps, dtype=np.int64).max()) > limit


async def refuse_unusable_input(request: Request) -> None:
    """Every route's first dependency: NUL in a path or query (unstorable in PostgreSQL) and over-deep JSON are 400."""
    for name, value in request.path_params.items():
        if "\x00" in str(value):
            raise StarletteHTTPException(400, f"path parameter {name} contains a NUL character")
    for name, value in request.query_params.multi_items():
        if "\x00" in name:
            raise StarletteHTTPException(400, "a query parameter name contains a NUL character")
        if "\x00" in value:
            raise StarletteHTTPException(400, f"query parameter {name} contains a NUL character")
    if request.method in ("POST", "PUT", "PATCH") and nested_deeper_than(await request.body(), MAX_JSON_DEPTH):
        raise StarletteHTTPException(400, f"the JSON body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels")


UNSTORABLE = "a string holds a NUL character (\\u0000) or an unpaired surrogate, which cannot be stored"


# Where a request's string that cannot be stored or sent surfaces: PostgreSQL, asyncpg's encoder, event serialisation.
UNSTORABLE_ERRORS = (asyncpg.DataError, PydanticSerializationError, UnicodeEncodeError)


def unstorable_text(exc: Exception) -> bool:
    """The error is a refused string of the request: NUL (PostgreSQL), or a surrogate without its pair (UTF-8)."""
    if isinstance(exc, (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError)):
        return True
    return any("surrogate" in str(e) for e in (exc, exc.__cause__) if e is not None)


def route_template(request: Request) -> str:
    """The matched route's path template (never the raw path, which can carry identifiers)."""
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")


def install(app: FastAPI, service: str) -> None:
    """Add health, readiness, metrics, error handlers and request metrics to a service app."""

    @app.get("/healthz", tags=["operations"], summary="Alive")
    async def healthz() -> dict:
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["operations"], summary="Database and broker reachable",
             responses={503: {"description": "The database or the broker is unreachable",
                              "content": {"application/json": {}}}})
    async def readyz(request: Request):
        checks = await request.app.state.runtime.readiness()
        ok = all(checks.values())
        body = {"status": "ready" if ok else "not-ready", "checks": checks}
        # A service may add what an operator should see without it failing readiness (notify's uncovered facilities).
        detail = getattr(request.app.state, "readiness_detail", None)
        if ok and detail is not None:
            body["detail"] = await detail()
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(_registry()).decode(), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(AuthError)
    async def on_auth_error(_request: Request, exc: AuthError):
        return problem(exc.status, "Unauthorized" if exc.status == 401 else "Forbidden", exc.detail)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_request: Request, exc: RequestValidationError):
        errors = validation_errors(exc)
        fields = ", ".join(".".join(e["loc"][1:] or e["loc"]) for e in errors)
        return problem(422, "Invalid request", f"invalid fields: {fields}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_request: Request, exc: StarletteHTTPException):
        return problem(exc.status_code, _title(exc.status_code), str(exc.detail) if exc.detail else None)

    async def on_unstorable(_request: Request, exc: Exception):
        if not unstorable_text(exc):
            raise exc  # any other such error is ours: a 500
        return problem(422, "Invalid request", UNSTORABLE)

    for error in UNSTORABLE_ERRORS:
        app.add_exception_handler(error, on_unstorable)

    @app.middleware("http")
    async def measure(request: Request, call_next):
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = route_template(request)
            elapsed = time.perf_counter() - started
            REQUESTS.labels(service, request.method, route, str(status)).inc()
            LATENCY.labels(service, request.method, route).observe(elapsed)
            if route not in ("/healthz", "/readyz", "/metrics"):
                log.info("http_request", method=request.method, route=route, status_code=status,
                         duration_ms=round(elapsed * 1000, 2))


def _registry():
    """The process's metrics, or every process's when a service runs several (PROMETHEUS_MULTIPROC_DIR)."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def _title(status: int) -> str:
    from http import HTTPStatus
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
