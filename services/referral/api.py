"""Referral's plain HTTP API: a visit's referral status and the audit trail (JSON and FHIR AuditEvent)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from services.runtime.auth import Principal, require
from services.runtime.responses import FhirResponse, outcomes, problems
from services.runtime.service import ServiceRuntime, get_runtime
from services.runtime.web import Instant, uuid_or_404

from . import audit, store
from .domain.search import MAX_COUNT, MAX_OFFSET, SearchError, bounded_int, parse_instant, searchset
from .fhir_api import fhir_json
from .models import AuditPage, ReferralRead
from .part2 import AuditedRoute, access, reader
from services.runtime.fhir_errors import FhirError

router = APIRouter()
# A referral's status, owner and consent state are Part 2 information: every attempt is audited.
part2 = APIRouter(route_class=AuditedRoute)
supervisor = require("supervisor", "admin")


@part2.get("/referrals/{facility}/{visit_number}", name="status", tags=["referrals"],
           summary="A visit's referral status",
           responses=problems(400, 401, 403, 404))
async def read_referral(request: Request, facility: str, visit_number: str,
                        runtime: ServiceRuntime = Depends(get_runtime),
                        _who: Principal = Depends(reader("supervisor", "admin"))) -> ReferralRead:
    async with runtime.pool.acquire() as conn:
        row = await store.get_referral(conn, facility, visit_number)
    if row is None:
        raise HTTPException(404, "no referral for this visit")
    seen = access(request)
    seen.resource_type, seen.resource_ids, seen.referral_id = "Task", (str(row["id"]),), str(row["id"])
    return ReferralRead(id=str(row["id"]), status=row["status"], business_status=row["business_status"],
                        status_reason=row["status_reason"],
                        owner_specialist_id=str(row["owner_specialist_id"]) if row["owner_specialist_id"] else None,
                        service_request=f"ServiceRequest/{row['id']}", task=f"Task/{row['id']}",
                        consent=(row["consent"] or {}).get("status"))


@router.get("/audit", tags=["audit"], summary="Audit records (newest first)",
            responses=problems(400, 401, 403, 404, 422))
async def list_audit(runtime: ServiceRuntime = Depends(get_runtime), _who: Principal = Depends(supervisor),
                     referral_id: str | None = None, action: str | None = None,
                     since: Instant | None = None, until: Instant | None = None,
                     limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=MAX_OFFSET)) -> AuditPage:
    async with runtime.pool.acquire() as conn:
        total, rows = await audit.query(conn, referral_id=_uuid_or_none(referral_id), action=action,
                                        since=since, until=until, limit=limit, offset=offset)
    return AuditPage(total=total, records=[audit.as_json(r) for r in rows])


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
                count = bounded_int(value, name, 0, MAX_COUNT)
            elif name == "_offset":
                offset = bounded_int(value, name, 0, MAX_OFFSET)
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
    return fhir_json(searchset(total, links, [{"fullUrl": f"{base}/AuditEvent/{r['seq']}",
                                               "resource": audit.audit_event(r), "search": {"mode": "match"}}
                                              for r in rows]))

