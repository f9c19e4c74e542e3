"""The FHIR R4 REST API at /fhir: read, vread, _history and search of the referral resources, audited."""
from __future__ import annotations

import re
from email.utils import format_datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from services.runtime.auth import Principal, authenticate
from services.runtime.responses import FhirResponse, outcomes
from services.runtime.service import ServiceRuntime, get_runtime

from . import audit, store
from .domain import capability
from .domain.search import PARAMETERS, SearchError, parse
from services.runtime.fhir_errors import FHIR_JSON, FhirError

router = APIRouter(prefix="/fhir", tags=["FHIR"], default_response_class=FhirResponse)
READ_ERRORS = outcomes(400, 401, 403, 404)
PURPOSE = re.compile(r"^[A-Z]{2,16}$")


def fhir_json(body: dict, status: int = 200, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


def reader(principal: Principal = Depends(authenticate)) -> Principal:
    """Supervisors and admins read everything; peers read their own Tasks."""
    if not principal.has("supervisor", "admin", "peer"):
        raise FhirError(403, "requires role supervisor, admin or peer")
    return principal


def purpose_of(request: Request, who: Principal) -> str:
    """The declared purpose of use (v3 PurposeOfUse code), defaulting by role."""
    purpose = request.headers.get("x-purpose-of-use")
    if purpose is None:
        return "HOPERAT" if who.has("supervisor", "admin") else "TREAT"
    if not PURPOSE.match(purpose):
        raise FhirError(400, "X-Purpose-Of-Use must be a PurposeOfUse code")
    return purpose


def is_peer_only(who: Principal) -> bool:
    return not who.has("supervisor", "admin")


def check_type(who: Principal, rtype: str) -> None:
    if rtype not in PARAMETERS:
        raise FhirError(404, f"resource type {rtype} is not supported", "not-supported")
    if is_peer_only(who) and rtype != "Task":
        raise FhirError(403, f"a peer may read only its own Tasks, not {rtype}")


async def _audit(runtime: ServiceRuntime, request: Request, who: Principal, action: str, rtype: str,
                 ids: list[str], outcome: str, status: int, referral_id: str | None = None) -> None:
    entry = audit.AuditRecord(action=action, actor=who.subject, actor_role=",".join(sorted(who.roles)),
                              purpose=purpose_of(request, who), outcome=outcome, resource_type=rtype,
                              resource_ids=tuple(ids), referral_id=referral_id, status_code=status)
    async with runtime.pool.acquire() as conn:
        await audit.record(conn, entry, runtime.clock.now())


def _headers(row) -> dict:
    return {"ETag": f'W/"{row["version_id"]}"', "Last-Modified": format_datetime(row["last_updated"], usegmt=True)}


def _owned(who: Principal, body: dict) -> bool:
    owner = (body.get("owner") or {}).get("reference")
    return bool(who.specialist_id) and owner == f"PractitionerRole/{who.specialist_id}"


async def _guarded(runtime, request, who, action, rtype, rid, row) -> None:
    """404 for what does not exist, 403 for a peer's look at another peer's Task; both audited."""
    if row is None:
        await _audit(runtime, request, who, action, rtype, [rid], "not-found", 404)
        raise FhirError(404, f"{rtype}/{rid} not found")
    if is_peer_only(who) and not _owned(who, row["body"]):
        await _audit(runtime, request, who, action, rtype, [rid], "denied", 403, rid)
        raise FhirError(403, "this Task is not owned by the calling peer")


def _id(rid: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F-]{36}", rid):
        raise FhirError(404, "no resource with this id")
    return rid.lower()


@router.get("/metadata", summary="CapabilityStatement (no token needed)")
async def metadata(request: Request) -> JSONResponse:
    return fhir_json(capability.statement(str(request.base_url).rstrip("/") + "/fhir"))


@router.get("/{rtype}", summary="Search (searchset Bundle, _count paging)", responses=READ_ERRORS)
async def search(rtype: str, request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                 who: Principal = Depends(reader)) -> JSONResponse:
    check_type(who, rtype)
    try:
        spec = parse(rtype, list(request.query_params.multi_items()))
    except SearchError as exc:
        raise FhirError(400, str(exc)) from None
    if is_peer_only(who):
        spec.where.append(("owner", "=", f"PractitionerRole/{who.specialist_id or '-'}"))
    async with runtime.pool.acquire() as conn:
        total, rows = await store.search(conn, rtype, spec.where, spec.count, spec.offset)
    base = str(request.base_url).rstrip("/") + "/fhir"
    links = [{"relation": "self", "url": str(request.url)}]
    if spec.count and spec.offset + spec.count < total:
        links.append({"relation": "next",
                      "url": str(request.url.include_query_params(_offset=spec.offset + spec.count))})
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links,
              "entry": [{"fullUrl": f"{base}/{rtype}/{r['id']}", "resource": r["body"], "search": {"mode": "match"}}
                        for r in rows]}
    await _audit(runtime, request, who, "search", rtype, [str(r["id"]) for r in rows], "success", 200)
    return fhir_json(bundle)


@router.get("/{rtype}/{rid}", summary="Read", responses=READ_ERRORS)
async def read(rtype: str, rid: str, request: Request, runtime: ServiceRuntime = Depends(get_runtime),
               who: Principal = Depends(reader)) -> JSONResponse:
    check_type(who, rtype)
    rid = _id(rid)
    async with runtime.pool.acquire() as conn:
        row = await store.read_resource(conn, rtype, rid)
    await _guarded(runtime, request, who, "read", rtype, rid, row)
    await _audit(runtime, request, who, "read", rtype, [rid], "success", 200, rid)
    return fhir_json(row["body"], headers=_headers(row))


@router.get("/{rtype}/{rid}/_history", summary="History of one resource", responses=READ_ERRORS)
async def history(rtype: str, rid: str, request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                  who: Principal = Depends(reader)) -> JSONResponse:
    check_type(who, rtype)
    rid = _id(rid)
    async with runtime.pool.acquire() as conn:
        current = await store.read_resource(conn, rtype, rid)
        rows = await store.history(conn, rtype, rid)
    await _guarded(runtime, request, who, "history", rtype, rid, current)
    base = str(request.base_url).rstrip("/") + "/fhir"
    entries = [{"fullUrl": f"{base}/{rtype}/{rid}", "resource": r["body"],
                "request": {"method": "POST" if r["version_id"] == 1 else "PUT", "url": f"{rtype}/{rid}"},
                "response": {"status": "201" if r["version_id"] == 1 else "200", "etag": f'W/"{r["version_id"]}"',
                             "lastModified": r["last_updated"].isoformat()}} for r in rows]
    await _audit(runtime, request, who, "history", rtype, [rid], "success", 200, rid)
    return fhir_json({"resourceType": "Bundle", "type": "history", "total": len(entries),
                      "link": [{"relation": "self", "url": str(request.url)}], "entry": entries})


@router.get("/{rtype}/{rid}/_history/{vid}", summary="Read one version (vread)", responses=READ_ERRORS)
async def vread(rtype: str, rid: str, vid: str, request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                who: Principal = Depends(reader)) -> JSONResponse:
    check_type(who, rtype)
    rid = _id(rid)
    if not vid.isdigit():
        raise FhirError(400, "version id must be a positive integer")
    async with runtime.pool.acquire() as conn:
        current = await store.read_resource(conn, rtype, rid)
        row = await store.read_version(conn, rtype, rid, int(vid)) if current else None
    await _guarded(runtime, request, who, "vread", rtype, rid, current)
    if row is None:
        await _audit(runtime, request, who, "vread", rtype, [rid], "not-found", 404, rid)
        raise FhirError(404, f"{rtype}/{rid} has no version {vid}")
    await _audit(runtime, request, who, "vread", rtype, [rid], "success", 200, rid)
    return fhir_json(row["body"], headers=_headers(row))
