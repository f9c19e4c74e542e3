"""FHIR R4 Subscription at /fhir/Subscription: rest-hook on Task and ServiceRequest changes, so hospitals and HIEs
need not poll."""
from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from services.runtime.auth import Principal, require
from services.runtime.fhir_errors import FhirError
from services.runtime.responses import FhirResponse, fhir_body, outcomes
from services.runtime.service import ServiceRuntime, get_runtime

from .domain import criteria
from .domain.criteria import Criteria
from .fhir_api import fhir_json
from .smart_server import recipient_of

HEARTBEAT_EXTENSION = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-heartbeat-period"
FULL = {"application/fhir+json", "application/json"}

router = APIRouter(prefix="/fhir", tags=["FHIR"], default_response_class=FhirResponse)
subscriber = require("ehr", "supervisor", "admin")


def _criteria(value) -> Criteria:
    """The criteria as this server evaluates them; anything else is refused (400 OperationOutcome saying what is
    supported), never accepted and silently never matched."""
    try:
        return criteria.parse(value)
    except criteria.CriteriaError as exc:
        raise FhirError(400, str(exc)) from None


def _channel(channel, allow_http: bool) -> tuple[str, list[str], bool]:
    if not isinstance(channel, dict) or channel.get("type") != "rest-hook":
        raise FhirError(400, "channel.type must be rest-hook")
    endpoint = channel.get("endpoint")
    parts = urlsplit(endpoint) if isinstance(endpoint, str) else None
    if not parts or not parts.netloc or parts.scheme not in ({"https", "http"} if allow_http else {"https"}):
        raise FhirError(400, "channel.endpoint must be an https URL")
    headers = channel.get("header") or []
    if not isinstance(headers, list) or not all(isinstance(h, str) and ":" in h and len(h) <= 4096
                                                and "\n" not in h and "\r" not in h for h in headers):
        raise FhirError(400, "channel.header must be a list of 'Name: value' strings")
    payload = channel.get("payload")
    if payload is not None and payload not in FULL:
        raise FhirError(400, "channel.payload must be application/fhir+json, or absent for id-only notifications")
    return endpoint, headers, payload is not None


def _heartbeat(channel: dict, default: int) -> int:
    for ext in channel.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == HEARTBEAT_EXTENSION:
            value = ext.get("valueUnsignedInt")
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 86400:
                raise FhirError(400, "heartbeat period must be 0 to 86400 seconds")
            return value
    return default


def _resource(row) -> dict:
    """The Subscription as stored, with the server's view of it: status and, while deliveries fail, error."""
    body = {**row["body"], "id": str(row["id"]), "status": row["status"]}
    if row["error"]:
        body["error"] = row["error"]
    else:
        body.pop("error", None)
    return body


@router.post("/Subscription", summary="Create a rest-hook Subscription on Task (status, owner, focus) or "
                                     "ServiceRequest (status) changes",
             status_code=201, responses=outcomes(400, 401, 403), openapi_extra=fhir_body("Subscription"))
async def create(request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                 who: Principal = Depends(subscriber)) -> JSONResponse:
    try:
        body = await request.json()
    except ValueError:
        raise FhirError(400, "the body is not JSON") from None
    if not isinstance(body, dict) or body.get("resourceType") != "Subscription":
        raise FhirError(400, "the body must be a Subscription")
    if not isinstance(body.get("reason"), str) or not body["reason"].strip():
        raise FhirError(400, "reason is required")
    s = runtime.settings
    wanted = _criteria(body.get("criteria"))
    endpoint, headers, full = _channel(body.get("channel"), s.subscription_allow_http)
    heartbeat = _heartbeat(body["channel"], s.subscription_heartbeat_seconds)
    facilities = None if who.has("supervisor", "admin") else sorted(who.facilities)
    named = None if facilities is None else recipient_of(request, who)
    if facilities == []:
        raise FhirError(403, "an ehr token without a facility cannot subscribe")
    stored = {k: v for k, v in body.items() if k not in ("id", "meta", "status", "error")}
    filters = [list(v) if v is not None else None for v in (wanted.statuses, wanted.owners, wanted.focuses)]
    async with runtime.pool.acquire() as conn:
        # The natural key (subscriber, endpoint, criteria): a repeat without Idempotency-Key finds the first.
        row = await conn.fetchrow(
            "INSERT INTO subscriptions (id, owner, facilities, statuses, endpoint, headers, full_resource,"
            " heartbeat_seconds, status, created_at, body, resource_type, owners, focuses, criteria, recipient)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10, $11, $12, $13, $14, $15)"
            " ON CONFLICT (owner, endpoint, criteria) DO NOTHING RETURNING *",
            str(uuid.uuid4()), who.subject, facilities, filters[0], endpoint, headers, full, heartbeat,
            runtime.clock.now(), stored, wanted.resource_type, filters[1], filters[2], wanted.canonical,
            "|".join(named) if named else None)
        created = row is not None
        if not created:
            row = await conn.fetchrow("SELECT * FROM subscriptions WHERE owner = $1 AND endpoint = $2"
                                      " AND criteria = $3", who.subject, endpoint, wanted.canonical)
    location = f"{str(request.base_url).rstrip('/')}/fhir/Subscription/{row['id']}"
    return fhir_json(_resource(row), status=201 if created else 200, headers={"Location": location})


async def _owned(runtime: ServiceRuntime, who: Principal, sid: str):
    try:
        sid = str(uuid.UUID(sid))
    except ValueError:
        raise FhirError(404, "no such Subscription") from None
    row = await runtime.pool.fetchrow("SELECT * FROM subscriptions WHERE id = $1", sid)
    mine = row is not None and row["owner"] == who.subject and set(row["facilities"] or ()) <= who.facilities
    if row is None or not (who.has("admin", "supervisor") or mine):
        raise FhirError(404, "no such Subscription")
    return row


@router.get("/Subscription/{sid}", summary="A Subscription with its delivery status",
            responses=outcomes(400, 401, 403, 404))
async def read(sid: str, runtime: ServiceRuntime = Depends(get_runtime),
               who: Principal = Depends(subscriber)) -> JSONResponse:
    return fhir_json(_resource(await _owned(runtime, who, sid)))


@router.delete("/Subscription/{sid}", summary="End a Subscription (status off; nothing more is delivered)",
               responses=outcomes(400, 401, 403, 404))
async def end(sid: str, runtime: ServiceRuntime = Depends(get_runtime),
              who: Principal = Depends(subscriber)) -> JSONResponse:
    row = await _owned(runtime, who, sid)
    row = await runtime.pool.fetchrow("UPDATE subscriptions SET status = 'off' WHERE id = $1 RETURNING *", row["id"])
    return fhir_json(_resource(row))
