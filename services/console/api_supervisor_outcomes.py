"""Outcomes: pairing's GET /outcomes for a facility and period as charts (server-side SVG), each with its table and
a CSV download; the figures are pairing's, shown as they are (no arithmetic of the console's own)."""
from __future__ import annotations

import csv
import io

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from .domain import outcome_charts as oc
from .pages import render, role
from .service import Session
from .supervisor_calls import raw_get, read

router = APIRouter(prefix="/supervisor", include_in_schema=False)
LEAD = role("supervisor")


def chosen(request: Request) -> tuple[str, str, str]:
    q = request.query_params
    since, until = oc.period(request.app.state.clock.now().date(), q.get("from"), q.get("to"))
    return (q.get("facility") or "").strip()[:64], since.isoformat(), until.isoformat()


async def outcomes(request: Request, session: Session, facility: str, since: str, until: str) -> dict | None:
    return await read(request, session, "pairing", "/outcomes", None, facility=facility, **{"from": since, "to": until})


@router.get("/outcomes")
async def outcomes_page(request: Request, session: Session = Depends(LEAD)):
    facility, since, until = chosen(request)
    body = await outcomes(request, session, facility, since, until)
    if body is None:
        return render(request, "supervisor/outcomes.html", status=503, stab="outcomes", body=None, facility=facility,
                      since=since, until=until)
    measures = oc.by_id(body)
    weekly = []
    for start, end in oc.weeks(*oc.period(request.app.state.clock.now().date(), since, until)):
        week = await outcomes(request, session, facility, start.isoformat(), end.isoformat())
        weekly.append((f"{start:%d %b}", oc.by_id(week or {}).get("seen-within-target")))
    return render(request, "supervisor/outcomes.html", stab="outcomes", body=body, measures=measures, oc=oc,
                  weekly=weekly, facility=facility, since=since, until=until)


@router.get("/outcomes.csv")
async def outcomes_csv(request: Request, session: Session = Depends(LEAD)):
    """Every figure (overall and per facility) as pairing writes it in CSV, passed through."""
    facility, since, until = chosen(request)
    params = {k: v for k, v in {"facility": facility, "from": since, "to": until, "group_by": "facility",
                                "format": "csv"}.items() if v}
    answer = await raw_get(request, session, "pairing", "/outcomes", params)
    return Response(answer.content, status_code=answer.status_code if answer.is_success else 503,
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="outcomes-{since}-{until}.csv"'})


@router.get("/outcomes/{chart_id}.csv")
async def chart_csv(chart_id: str, request: Request, session: Session = Depends(LEAD)):
    """The figures of one chart (its table), as CSV."""
    facility, since, until = chosen(request)
    chart = next((c for c in oc.CHARTS if c.id == chart_id), None)
    if chart_id == "weekly":
        rows = [["week_from", "week_to", "numerator", "denominator", "value", "unit"]]
        for start, end in oc.weeks(*oc.period(request.app.state.clock.now().date(), since, until)):
            m = oc.by_id(await outcomes(request, session, facility, start.isoformat(), end.isoformat()) or {}).get(
                "seen-within-target") or {}
            rows.append([start.isoformat(), end.isoformat(), m.get("numerator"), m.get("denominator"),
                         m.get("value"), "%"])
        return _csv(rows, f"outcomes-weekly-{since}-{until}.csv")
    if chart is None:
        return render(request, "message.html", status=404, title="Not found", message="There is no such chart.")
    body = await outcomes(request, session, facility, since, until)
    if body is None:
        return _csv([list(oc.CSV_COLUMNS)], f"outcomes-{chart.id}.csv", 503)
    return _csv([list(oc.CSV_COLUMNS), *oc.csv_rows(chart.measures, oc.by_id(body))],
                f"outcomes-{chart.id}-{since}-{until}.csv")


def _csv(rows: list[list], name: str, status: int = 200) -> Response:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([["" if v is None else v for v in row] for row in rows])
    return Response(out.getvalue(), status_code=status, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
