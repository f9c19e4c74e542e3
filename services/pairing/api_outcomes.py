"""GET /outcomes: the program's figures from the record, as JSON, CSV or a FHIR MeasureReport (supervisors, admins)."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from services.runtime.auth import Principal, require
from services.runtime.responses import problems
from services.runtime.service import ServiceRuntime, get_runtime

from .api_assignments import get_service
from .domain.measure_report import measure_report
from .service import PairingService
from .service_outcomes import CSV_COLUMNS, GROUPS, csv_rows, report

router = APIRouter(tags=["outcomes"], responses=problems(401, 403))
DEFAULT_DAYS, MAX_DAYS = 30, 732
FORMATS = {"json": "application/json", "csv": "text/csv", "fhir": "application/fhir+json"}


def instant(value: str | None, name: str) -> datetime | None:
    """A query bound: a date (midnight UTC) or a date-time with an offset; 422 naming the parameter otherwise."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), timezone.utc)
        found = datetime.fromisoformat(value)
    except ValueError:
        found = None
    if found is None or found.tzinfo is None or not 1 < found.year < 9999:
        raise HTTPException(422, f"invalid fields: {name} (a date, or a date-time with an offset)")
    return found


def chosen_format(request: Request, format: str | None) -> str:
    """`format=` wins; otherwise the Accept header (text/csv, application/fhir+json), else JSON."""
    if format:
        return format
    accept = request.headers.get("accept", "")
    if "text/csv" in accept:
        return "csv"
    if "application/fhir+json" in accept:
        return "fhir"
    return "json"


@router.get("/outcomes", summary="Program outcomes from the record, per facility, peer and period",
            description="Figures over the visits indicated for peer support whose case opened in [from, to) (default: "
                        "the 30 days before now), each with its definition (see the pairing README's table). "
                        "`group_by`: none, facility, month or peer. JSON by default; CSV with `Accept: text/csv` or "
                        "`format=csv`; a FHIR R4 MeasureReport (summary, the overall figures) with `Accept: "
                        "application/fhir+json` or `format=fhir`.",
            responses={200: {"content": {"text/csv": {}, "application/fhir+json": {}}}, **problems(400, 422)})
async def get_outcomes(request: Request, facility: str | None = Query(None, max_length=64),
                       start: str | None = Query(None, alias="from", max_length=40),
                       end: str | None = Query(None, alias="to", max_length=40),
                       group_by: Literal[GROUPS] = "none",  # type: ignore[valid-type]
                       format: Literal["json", "csv", "fhir"] | None = None,
                       runtime: ServiceRuntime = Depends(get_runtime),
                       service: PairingService = Depends(get_service),
                       who: Principal = Depends(require("supervisor", "admin"))) -> Response:
    now = runtime.clock.now()
    until = instant(end, "to") or now
    since = instant(start, "from") or until - timedelta(days=DEFAULT_DAYS)
    if since >= until:
        raise HTTPException(422, "invalid fields: from (must be before to)")
    if until - since > timedelta(days=MAX_DAYS):
        raise HTTPException(422, f"invalid fields: from (a period of at most {MAX_DAYS} days)")
    async with runtime.pool.acquire() as conn:
        body = await report(conn, service.programs, start=since, end=until, facility=facility, group_by=group_by,
                            as_of=now)
    kind = chosen_format(request, format)
    if kind == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(["" if v is None else v for v in row] for row in csv_rows(body))
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="outcomes.csv"'})
    if kind == "fhir":
        return JSONResponse(measure_report(body, generated_at=now), media_type=FORMATS["fhir"])
    return JSONResponse(body)
