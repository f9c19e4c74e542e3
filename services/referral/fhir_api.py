"""The FHIR R4 REST API at /fhir: read, vread, _history and search of the referral resources, audited."""
from __future__ import annotations

import re
import uuid
from email.utils import format_datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from services.runtime.auth import Principal
from services.runtime.responses import FhirResponse, outcomes
from services.runtime.service import ServiceRuntime, get_runtime

from . import store
from .domain import capability
from .domain.consent import covers
from .domain.lifecycle import consent_active
from .domain.search import PARAMETERS, SearchError, parse, searchset
from .part2 import AuditedRoute, access, reader
from .smart_server import recipient_of
from services.runtime.fhir_errors import FHIR_JSON, FhirError

router = APIRouter(prefix="/fhir", tags=["FHIR"], default_response_class=FhirResponse)
# Every route here but /metadata reads Part 2 records: each attempt is audited, whatever it is answered.
part2 = APIRouter(prefix="/fhir", tags=["FHIR"], route_class=AuditedRoute, default_response_class=FhirResponse)
fhir_reader = reader("supervisor", "admin", "peer", "ehr")
READ_ERRORS = outcomes(400, 401, 403, 404)


def fhir_json(body: dict, status: int = 200, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


def sees_all(who: Principal) -> bool:
    """Supervisors and admins see every referral; peers their own Tasks, ehr tokens their facility's."""
    return who.has("supervisor", "admin")


def check_type(who: Principal, rtype: str) -> None:
    if rtype not in PARAMETERS:
        raise FhirError(404, f"resource type {rtype} is not supported", "not-supported")
    if not sees_all(who) and rtype != "Task":
        raise FhirError(403, f"a peer or ehr token may read only Tasks, not {rtype}")


def _headers(row) -> dict:
    return {"ETag": f'W/"{row["version_id"]}"', "Last-Modified": format_datetime(row["last_updated"], usegmt=True)}


def _owned(who: Principal, body: dict) -> bool:
    owner = (body.get("owner") or {}).get("reference")
    return bool(who.specialist_id) and owner == f"PractitionerRole/{who.specialist_id}"


def _guarded(request: Request, who: Principal, rtype: str, rid: str, row) -> None:
    """404 for what does not exist or is another facility's (its existence is not revealed), 403 for a peer's
    look at another peer's Task; the audit record says which."""
    if row is None:
        raise FhirError(404, f"{rtype}/{rid} not found")
    seen = access(request)
    seen.referral_id = rid
    if sees_all(who):
        return
    if who.has("peer"):
        if not _owned(who, row["body"]):
            raise FhirError(403, "this Task is not owned by the calling peer")
    elif not (row["facility"] in who.facilities
              and consent_active(row["consent"], request.app.state.runtime.clock.now())
              and covers(row["consent"], row["facility"], recipient_of(request, who))):
        seen.outcome = "denied"
        raise FhirError(404, f"{rtype}/{rid} not found")


def _id(rid: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F-]{36}", rid):
        raise FhirError(404, "no resource with this id")
    return rid.lower()


@router.get("/metadata", summary="CapabilityStatement (no token needed)")
async def metadata(request: Request) -> JSONResponse:
    return fhir_json(capability.statement(str(request.base_url).rstrip("/") + "/fhir",
                                          request.app.state.runtime.started_at))


@part2.get("/{rtype}", name="search", summary="Search (searchset Bundle, _count paging)", responses=READ_ERRORS)
async def search(rtype: str, request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                 who: Principal = Depends(fhir_reader)) -> JSONResponse:
    check_type(who, rtype)
    try:
        spec = parse(rtype, list(request.query_params.multi_items()))
    except SearchError as exc:
        raise FhirError(400, str(exc)) from None
    facilities, recipient = None, None
    if not sees_all(who):
        if who.has("peer"):
            spec.where.append(("owner", "=", f"PractitionerRole/{who.specialist_id or '-'}"))
        else:
            facilities, recipient = sorted(who.facilities), recipient_of(request, who)
    async with runtime.pool.acquire() as conn:
        total, rows = await store.search(conn, rtype, spec.where, spec.count, spec.offset,
                                         disclosed_to=facilities, now=runtime.clock.now(), recipient=recipient)
    base = str(request.base_url).rstrip("/") + "/fhir"
    links = [{"relation": "self", "url": str(request.url)}]
    if spec.count and spec.offset + spec.count < total:
        links.append({"relation": "next",
                      "url": str(request.url.include_query_params(_offset=spec.offset + spec.count))})
    entries = [{"fullUrl": f"{base}/{rtype}/{r['id']}", "resource": r["body"], "search": {"mode": "match"}}
               for r in rows]
    if spec.include_focus and rows:
        entries += await _included(runtime, who, base, rows)
    bundle = searchset(total, links, entries)
    access(request).resource_ids = tuple(str(r["id"]) for r in rows)
    return fhir_json(bundle)


async def _included(runtime: ServiceRuntime, who: Principal, base: str, rows) -> list[dict]:
    """_include=Task:focus: the matched Tasks' ServiceRequests for who may read them; for peer and ehr tokens,
    which read no ServiceRequest, an OperationOutcome entry saying they were left out."""
    if not sees_all(who):
        outcome = {"resourceType": "OperationOutcome", "issue": [{
            "severity": "information", "code": "suppressed",
            "diagnostics": "ServiceRequests are not included: this token reads Tasks only"}]}
        return [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": outcome, "search": {"mode": "outcome"}}]
    focus = sorted({r["body"]["focus"]["reference"].split("/")[-1] for r in rows if r["body"].get("focus")})
    async with runtime.pool.acquire() as conn:
        found = [await store.read_resource(conn, "ServiceRequest", rid) for rid in focus]
    return [{"fullUrl": f"{base}/ServiceRequest/{row['body']['id']}", "resource": row["body"],
             "search": {"mode": "include"}} for row in found if row]


def _not_modified(request: Request, row) -> Response | None:
    """304 when the client's If-None-Match names the version it holds (weak or strong, or *)."""
    held = request.headers.get("if-none-match")
    if held is None:
        return None
    tags = {t.strip().removeprefix("W/") for t in held.split(",")}
    if "*" in tags or f'"{row["version_id"]}"' in tags:
        return Response(status_code=304, headers=_headers(row))
    return None


@part2.get("/{rtype}/{rid}", name="read", summary="Read (If-None-Match: 304 when unchanged)",
           responses={**READ_ERRORS, 304: {"description": "Not modified: the client holds this version"}})
async def read(rtype: str, rid: str, request: Request, runtime: ServiceRuntime = Depends(get_runtime),
               who: Principal = Depends(fhir_reader)) -> JSONResponse:
    check_type(who, rtype)
    rid = _id(rid)
    async with runtime.pool.acquire() as conn:
        row = await store.read_resource(conn, rtype, rid)
    _guarded(request, who, rtype, rid, row)
    return _not_modified(request, row) or fhir_json(row["body"], headers=_headers(row))


@part2.get("/{rtype}/{rid}/_history", name="history", summary="History of one resource", responses=READ_ERRORS)
async def history(rtype: str, rid: str, request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                  who: Principal = Depends(fhir_reader)) -> JSONResponse:
    check_type(who, rtype)
    rid = _id(rid)
    async with runtime.pool.acquire() as conn:
        current = await store.read_resource(conn, rtype, rid)
        rows = await store.history(conn, rtype, rid)
    _guarded(request, who, rtype, rid, current)
    base = str(request.base_url).rstrip("/") + "/fhir"
    entries = [{"fullUrl": f"{base}/{rtype}/{rid}", "resource": r["body"],
                "request": {"method": "POST" if r["version_id"] == 1 else "PUT", "url": f"{rtype}/{rid}"},
                "response": {"status": "201" if r["version_id"] == 1 else "200", "etag": f'W/"{r["version_id"]}"',
                             "lastModified": r["last_updated"].isoformat()}} for r in rows]
    return fhir_json({"resourceType": "Bundle", "type": "history", "total": len(entries),
                      "link": [{"relation": "self", "url": str(request.url)}], "entry": entries})


@part2.get("/{rtype}/{rid}/_history/{vid}", name="vread", summary="Read one version (vread)", responses=READ_ERRORS)
async def vread(rtype: str, rid: str, vid: str, request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                who: Principal = Depends(fhir_reader)) -> JSONResponse:
    check_type(who, rtype)
    rid = _id(rid)
    if not vid.isdecimal() or len(vid) > 9:  # "²" is a digit int() refuses; versions are int4 in the database
        raise FhirError(400, "version id must be a positive integer below 10^9")
    async with runtime.pool.acquire() as conn:
        current = await store.read_resource(conn, rtype, rid)
        row = await store.read_version(conn, rtype, rid, int(vid)) if current else None
    _guarded(request, who, rtype, rid, current)
    if row is None:
        raise FhirError(404, f"{rtype}/{rid} has no version {vid}")
    return _not_modified(request, row) or fhir_json(row["body"], headers=_headers(row))
