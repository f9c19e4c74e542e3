"""Referral's plain HTTP API: a visit's referral status and the audit trail (JSON and FHIR AuditEvent)."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from services.runtime.auth import Principal, require
from services.runtime.responses import FhirResponse, outcomes, problems
from services.runtime.service import ServiceRuntime, get_runtime
from services.runtime.web import uuid_or_404

from . import audit, store
from .domain.search import MAX_COUNT, SearchError, parse_instant
from .fhir_api import fhir_json
from services.runtime.fhir_errors import FhirError

router = APIRouter()
supervisor = require("supervisor", "admin")


@router.get("/referrals/{facility}/{visit_number}", tags=["referrals"], summary="A visit's referral status",
            responses=problems(400, 401, 403, 404))
async def read_referral(facility: str, visit_number: str, runtime: ServiceRuntime = Depends(get_runtime),
                        _who: Principal = Depends(supervisor)) -> dict:
    async with runtime.pool.acquire() as conn:
        row = await store.get_referral(conn, facility, visit_number)
    if row is None:
        raise HTTPException(404, "no referral for this visit")
    return {"id": str(row["id"]), "status": row["status"], "business_status": row["business_status"],
            "status_reason": row["status_reason"],
            "owner_specialist_id": str(row["owner_specialist_id"]) if row["owner_specialist_id"] else None,
            "service_request": f"ServiceRequest/{row['id']}", "task": f"Task/{row['id']}",
            "consent": (row["consent"] or {}).get("status")}


@router.get("/audit", tags=["audit"], summary="Audit records (newest first)",
            responses=problems(400, 401, 403, 404, 422))
async def list_audit(runtime: ServiceRuntime = Depends(get_runtime), _who: Principal = Depends(supervisor),
                     referral_id: str | None = None, action: str | None = None,
                     since: datetime | None = None, until: datetime | None = None,
                     limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)) -> dict:
    async with runtime.pool.acquire() as conn:
        total, rows = await audit.query(conn, referral_id=_uuid_or_none(referral_id), action=action,
                                        since=since, until=until, limit=limit, offset=offset)
    return {"total": total, "records": [audit.as_json(r) for r in rows]}


def _uuid_or_none(value: str | None) -> str | None:
    return uuid_or_404(value) if value else None


@router.get("/fhir/AuditEvent", tags=["FHIR"], summary="Audit records as FHIR AuditEvent (searchset)",
            responses=outcomes(400, 401, 403), response_class=FhirResponse)
async def search_audit_events(request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                              _who: Principal = Depends(supervisor)) -> dict:
    filters: dict = {}
    count, offset = 50, 0
    try:
        for name, value in request.query_params.multi_items():
            if name == "date":
                op, when = parse_instant(value, name)
                filters["since" if op in (">", ">=") else "until"] = when
            elif name == "entity":
                filters["entity"] = value.split("/")[-1]
            elif name == "action":
                filters["action"] = value
            elif name == "_count":
                count = int(value) if value.isdigit() and int(value) <= MAX_COUNT else _bad(name)
            elif name == "_offset":
                offset = int(value) if value.isdigit() else _bad(name)
            elif name != "_format":
                raise SearchError(f"unknown search parameter {name} for AuditEvent")
    except SearchError as exc:
        raise FhirError(400, str(exc)) from None
    async with runtime.pool.acquire() as conn:
        total, rows = await audit.query(conn, limit=count, offset=offset, **filters)
    links = [{"relation": "self", "url": str(request.url)}]
    if count and offset + count < total:
        links.append({"relation": "next", "url": str(request.url.include_query_params(_offset=offset + count))})
    base = str(request.base_url).rstrip("/") + "/fhir"
    return fhir_json({"resourceType": "Bundle", "type": "searchset", "total": total, "link": links,
                      "entry": [{"fullUrl": f"{base}/AuditEvent/{r['seq']}", "resource": audit.audit_event(r),
                                 "search": {"mode": "match"}} for r in rows]})


def _bad(name: str):
    raise SearchError(f"{name} must be a whole number up to {MAX_COUNT}")
