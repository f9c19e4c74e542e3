"""The supervisor's board (console issue 15): open cases and where each stands, the roster with its load and week,
and the board's actions (re-match with a reason, assign by hand against the hard constraints, acknowledge)."""
from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.runtime.auth import Principal, require
from services.runtime.responses import problems
from services.runtime.service import ServiceRuntime, get_runtime
from services.runtime.web import uuid_or_404

from . import store, store_board
from .api_assignments import as_problems, get_service, visit_summary
from .domain.board import board_state
from .models import AssignmentVisit
from .service_board import BoardUseCases, Moved
from .unit_of_work import unit_of_work

router = APIRouter(tags=["board"], responses=problems(401, 403))
LEADS = require("supervisor", "admin")
REMATCH_REASONS = ("mismatch", "patient-asked-gender", "patient-asked-pathway", "patient-asked-language",
                   "boundary-conflict", "no-response", "peer-unwell", "other")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RematchIn(Strict):
    reason: Literal[REMATCH_REASONS]  # type: ignore[valid-type]
    assignment_id: str | None = Field(None, max_length=64, description="the assignment seen on the board: a repeat "
                                      "of a re-match away from it answers 200 with what it did")


class BoardAssignIn(Strict):
    specialist_id: str = Field(..., max_length=64)
    override_reason: str | None = Field(None, min_length=1, max_length=300,
                                        description="needed when the peer fails a hard constraint")


class BoardCase(BaseModel):
    id: str
    facility: str
    visit_number: str
    status: str
    state: str
    crisis: bool
    opened_at: str
    visit: AssignmentVisit | None
    assignment_id: str | None
    specialist_id: str | None
    specialist_name: str | None
    assignment_status: str | None
    offers: int
    offered_at: str | None
    expires_at: str | None
    accepted_at: str | None
    arrived_at: str | None
    escalation_reason: str | None
    escalated_at: str | None
    acknowledged_by: str | None
    acknowledged_at: str | None
    consent_granted: bool | None
    next_follow_up: str | None


class MovedRead(BaseModel):
    case_id: str
    status: str
    assignment_id: str | None
    specialist_id: str | None
    overridden: list[str]
    excluded: dict[str, int]


def _iso(v):
    return v.isoformat() if v is not None else None


def board_json(r) -> BoardCase:
    state = board_state(r["status"], r["assignment_status"], r["arrived_at"] is not None,
                        r["consent_at"] is not None, r["escalation_reason"], r["escalation_kind"])
    return BoardCase(
        id=str(r["id"]), facility=r["facility"], visit_number=r["visit_number"], status=r["status"], state=state,
        crisis=r["crisis"], opened_at=_iso(r["opened_at"]), visit=visit_summary(r["visit"]),
        assignment_id=str(r["assignment_id"]) if r["assignment_id"] else None,
        specialist_id=str(r["assigned_to"]) if r["assigned_to"] else None, specialist_name=r["specialist_name"],
        assignment_status=r["assignment_status"], offers=r["offers"], offered_at=_iso(r["offered_at"]),
        expires_at=_iso(r["expires_at"]), accepted_at=_iso(r["accepted_at"]), arrived_at=_iso(r["arrived_at"]),
        escalation_reason=r["escalation_reason"] if r["status"] == "escalated" else None,
        escalated_at=_iso(r["escalated_at"]) if r["status"] == "escalated" else None,
        acknowledged_by=r["acknowledged_by"], acknowledged_at=_iso(r["acknowledged_at"]),
        consent_granted=r["consent_granted"], next_follow_up=_iso(r["next_follow_up"]))


def board_cases(request: Request) -> BoardUseCases:
    return BoardUseCases(get_service(request))


@router.get("/board", summary="Open cases, crisis first then oldest first, and where each stands",
            description="state: waiting (for an offer), offered (to whom, until when), escalated (nobody accepted), "
                        "no-peer (nobody eligible), accepted, at-bedside, consent, follow-up. No facility: all.",
            responses=problems(400, 422))
async def read_board(facility: str | None = Query(None, max_length=64), limit: int = Query(500, ge=1, le=2000),
                     runtime: ServiceRuntime = Depends(get_runtime),
                     _who: Principal = Depends(LEADS)) -> list[BoardCase]:
    async with runtime.pool.acquire() as conn:
        return [board_json(r) for r in await store_board.board(conn, facility=facility or None, limit=limit)]


@router.get("/board/facilities", summary="Facilities with cases, peers or shifts (the board's choice)")
async def board_facilities(runtime: ServiceRuntime = Depends(get_runtime),
                           _who: Principal = Depends(LEADS)) -> list[str]:
    async with runtime.pool.acquire() as conn:
        return await store_board.facilities(conn)


async def _case(conn, case_id: str, *, lock: bool = True):
    row = await store.get_case(conn, uuid_or_404(case_id), lock=lock)
    if row is None:
        raise HTTPException(404, "no such case")
    return row


@router.get("/board/cases/{case_id}", summary="One case as the board shows it, with the supervisors' actions",
            responses=problems(400, 404))
async def board_case(case_id: str, runtime: ServiceRuntime = Depends(get_runtime),
                     _who: Principal = Depends(LEADS)) -> dict:
    async with runtime.pool.acquire() as conn:
        case = await _case(conn, case_id, lock=False)
        rows = await store_board.board(conn, facility=None, case_id=str(case["id"]), limit=1)
        acts = await store_board.actions(conn, case["id"])
    return {"case": board_json(rows[0]).model_dump() if rows else None,
            "actions": [{"kind": a["kind"], "reason": a["reason"], "overridden": list(a["overridden"]),
                         "specialist_id": str(a["specialist_id"]) if a["specialist_id"] else None,
                         "actor": a["actor"], "at": _iso(a["at"])} for a in acts]}


@router.get("/board/cases/{case_id}/candidates", summary="Every active peer against this case's hard constraints",
            description="Eligible peers first (best score first), then the others with the constraints they fail.",
            responses=problems(400, 404))
async def candidates(case_id: str, request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                     _who: Principal = Depends(LEADS)) -> list[dict]:
    async with unit_of_work(runtime) as uow:
        case = await _case(uow.conn, case_id, lock=False)
        found = await board_cases(request).candidates(uow, case)
        names = {str(s["id"]): s["data"].get("name") for s in await store.list_specialists(uow.conn, facility=None,
                                                                                          status="active")}
    return [{**c, "name": names.get(c["specialist_id"])} for c in found]


def _moved(moved: Moved, response: Response) -> MovedRead:
    if not moved.new:
        response.status_code = 200
    return MovedRead(case_id=moved.case_id, status=moved.status, assignment_id=moved.assignment_id,
                     specialist_id=moved.specialist_id, overridden=moved.overridden, excluded=moved.excluded)


@router.post("/board/cases/{case_id}/rematch", status_code=201, summary="Re-match one case with a reason",
             description="The case leaves its peer (offer withdrawn, or accepted assignment re-matched) for the best "
                         "other eligible peer: an offer while the patient is in the ED, a hand-over in follow-up. "
                         "Nobody eligible: escalated, `excluded` says how many peers each constraint excluded. A "
                         "repeat naming the same `assignment_id` answers 200 with what was done.",
             responses={200: {"model": MovedRead, "description": "Already re-matched away from that assignment"},
                        **problems(400, 404, 409, 422)})
async def rematch(case_id: str, body: RematchIn, request: Request, response: Response,
                  runtime: ServiceRuntime = Depends(get_runtime), who: Principal = Depends(LEADS)) -> MovedRead:
    with as_problems():
        async with unit_of_work(runtime) as uow:
            case = await _case(uow.conn, case_id)
            moved = await board_cases(request).rematch(uow, case, body.reason, who.subject, body.assignment_id)
    return _moved(moved, response)


@router.post("/board/cases/{case_id}/assign", status_code=201, summary="Give a case to a peer by hand",
             description="Checked against the hard constraints: a peer who fails one is assigned only with an "
                         "`override_reason` (422 otherwise, naming the constraints), kept with the case. Giving it "
                         "again to the peer who holds it answers 200.",
             responses={200: {"model": MovedRead, "description": "Already held by this peer"},
                        **problems(400, 404, 409, 422)})
async def assign(case_id: str, body: BoardAssignIn, request: Request, response: Response,
                 runtime: ServiceRuntime = Depends(get_runtime), who: Principal = Depends(LEADS)) -> MovedRead:
    with as_problems():
        async with unit_of_work(runtime) as uow:
            case = await _case(uow.conn, case_id)
            specialist = await store.get_specialist(uow.conn, body.specialist_id) \
                if _is_uuid(body.specialist_id) else None
            if specialist is None:
                raise HTTPException(422, "specialist_id: no such specialist")
            moved = await board_cases(request).assign(uow, case, str(specialist["id"]), body.override_reason,
                                                      who.subject)
    return _moved(moved, response)


@router.post("/board/cases/{case_id}/acknowledge", summary="Acknowledge a case's escalation",
             description="Once per escalation: again answers 200 with the first acknowledgement. 409 when the case "
                         "was never escalated.", responses=problems(400, 404, 409))
async def acknowledge(case_id: str, request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                      who: Principal = Depends(LEADS)) -> dict:
    with as_problems():
        async with unit_of_work(runtime) as uow:
            case = await _case(uow.conn, case_id)
            return await board_cases(request).acknowledge(uow, case, who.subject)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


@router.get("/board/roster", summary="Peers with load, certifications, recusals and their shifts in a week",
            description="`week`: a day of the week wanted (default today); shifts from its Monday 00:00 UTC for 7 "
                        "days. `status_reason` is for supervisors only (these routes are).",
            responses=problems(400, 422))
async def roster(facility: str | None = Query(None, max_length=64), week: date | None = None,
                 runtime: ServiceRuntime = Depends(get_runtime), _who: Principal = Depends(LEADS)) -> dict:
    day = week or runtime.clock.now().date()
    start = datetime.combine(day - timedelta(days=day.weekday()), time(0), tzinfo=timezone.utc)
    end = start + timedelta(days=7)
    async with runtime.pool.acquire() as conn:
        people, shifts = await store_board.roster(conn, facility=facility or None, start=start, end=end)
    windows: dict[str, list] = {}
    for s in shifts:
        windows.setdefault(s["specialist_id"], []).append(
            {"facility": s["facility"], "starts_at": _iso(s["starts_at"]), "ends_at": _iso(s["ends_at"])})
    return {"week_start": start.isoformat(), "week_end": end.isoformat(),
            "peers": [{"id": p["id"], "status": p["status"], "status_reason": p["status_reason"], **p["data"],
                       "open_cases": p["open_cases"], "pending_offers": p["offers"], "recusals": p["recusals"],
                       "shifts": windows.get(p["id"], [])} for p in people]}
