"""Assignment routes: lists, the peer's answers (accept, decline, arrive, consent) and encounters."""
from __future__ import annotations

from contextlib import contextmanager

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from services.runtime.auth import Principal, require
from services.runtime.responses import problems
from services.runtime.service import ServiceRuntime, get_runtime
from services.runtime.web import uuid_or_404

from . import store_assignments as assignments
from .models import (Arrival, AssignmentRead, AssignmentState, AssignmentVisit, ConsentIn, Created, DeclineIn,
                     EncounterIn, IndicationSummary)
from .service import Conflict, PairingService, Recorded, Refused
from .unit_of_work import unit_of_work

router = APIRouter(tags=["assignments"], responses=problems(401, 403))
PEER_OR_LEAD = require("peer", "supervisor", "admin")


def _iso(value):
    return value.isoformat() if value else None


def assignment_json(row) -> AssignmentRead:
    return AssignmentRead(
        id=str(row["id"]), case_id=str(row["case_id"]), specialist_id=str(row["specialist_id"]),
        facility=row["facility"], visit_number=row["visit_number"], status=row["status"], attempt=row["attempt"],
        offered_at=_iso(row["offered_at"]), expires_at=_iso(row["expires_at"]), accepted_at=_iso(row["accepted_at"]),
        declined_at=_iso(row["declined_at"]), arrived_at=_iso(row["arrived_at"]), closed_at=_iso(row["closed_at"]),
        transfer_note=row["transfer_note"], explanation=row["explanation"],
        visit=visit_summary(row["visit"]) if "visit" in row.keys() else None,
        consent=row["consent"] if "consent" in row.keys() else None,
        encounters=row["encounters"] if "encounters" in row.keys() else None,
        crisis=row["crisis"] if "crisis" in row.keys() else None)


def visit_summary(visit: dict | None) -> AssignmentVisit | None:
    """Where the patient is, why a peer (categories, never codes or free text), language and arrival in the ED."""
    if not visit:
        return None
    seen = {(i.get("kind"), i.get("category"), i.get("substance")) for i in visit.get("indications") or []}
    arrived = visit.get("arrived_at")
    return AssignmentVisit(
        location=visit.get("location"), bed=visit.get("bed"), language=visit.get("language"),
        arrived_at=str(arrived) if arrived is not None else None,
        indications=[IndicationSummary(kind=k or "diagnosis", category=c, substance=s)
                     for k, c, s in sorted(seen, key=lambda t: tuple(v or "" for v in t))])


def is_lead(who: Principal) -> bool:
    return who.has("supervisor", "admin")


def get_service(request: Request) -> PairingService:
    """The service's use cases, wired in app.py."""
    return request.app.state.service


@contextmanager
def as_problems():
    """The use cases' refusals as HTTP problems; raised inside the unit of work, so nothing it wrote commits."""
    try:
        yield
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    except Refused as exc:
        raise HTTPException(422, str(exc)) from None


def answer(recorded: Recorded, response: Response) -> Created:
    """201 with the new id, or 200 with the id found for a repeat."""
    if not recorded.new:
        response.status_code = 200
    return Created(id=recorded.id)


@router.get("/assignments", summary="Assignments by facility, visit and status, or the caller's own (mine=true)",
            description="Each carries `visit`: the ED location and bed, the indication categories and substances "
                        "(in words, no codes), the patient's language and when they arrived in the ED.",
            responses=problems(400, 422))
async def list_assignments(facility: str | None = None, visit_number: str | None = None, mine: bool = False,
                           status: str | None = None, runtime: ServiceRuntime = Depends(get_runtime),
                           who: Principal = Depends(PEER_OR_LEAD)) -> list[AssignmentRead]:
    only = who.specialist_id if (mine or not is_lead(who)) else None
    if not is_lead(who) and not only:
        raise HTTPException(403, "peer token is not bound to a specialist")
    async with runtime.pool.acquire() as conn:
        rows = await assignments.list_assignments(conn, facility=facility, visit_number=visit_number,
                                                  specialist_id=only, status=status)
    return [assignment_json(r) for r in rows]


async def own_assignment(conn, assignment_id: str, who: Principal, *, lock: bool = True):
    """The assignment, if the caller may see it: a peer only their own (404 otherwise, not revealing it exists).

    The routes that write call this inside their unit of work, so the row stays locked until they commit."""
    row = await assignments.get_assignment(conn, uuid_or_404(assignment_id), lock=lock)
    if row is None or (not is_lead(who) and str(row["specialist_id"]) != who.specialist_id):
        raise HTTPException(404, "no such assignment")
    return row


async def visible_assignment(assignment_id: str, runtime: ServiceRuntime = Depends(get_runtime),
                             who: Principal = Depends(PEER_OR_LEAD)):
    """Fetch or 404, for the routes that only read: unlocked, outside any transaction."""
    async with runtime.pool.acquire() as conn:
        return await own_assignment(conn, assignment_id, who, lock=False)


@router.get("/assignments/{assignment_id}", summary="One assignment, with its visit", responses=problems(400, 404))
async def read_assignment(row=Depends(visible_assignment), runtime: ServiceRuntime = Depends(get_runtime)
                          ) -> AssignmentRead:
    async with runtime.pool.acquire() as conn:
        row = await assignments.read_assignment(conn, row["id"])
    return assignment_json(row)


@router.post("/assignments/{assignment_id}/accept", summary="Accept an offer",
             description="Accepting an offer this peer has accepted already (a lost answer, a retried tap) answers 200 "
                         "with the same body and changes nothing: no second event, no second follow-up plan. 409 when "
                         "the offer expired, was declined, withdrawn or passed to another peer.",
             responses=problems(400, 404, 409))
async def accept(assignment_id: str, service: PairingService = Depends(get_service),
                 runtime: ServiceRuntime = Depends(get_runtime),
                 who: Principal = Depends(PEER_OR_LEAD)) -> AssignmentState:
    with as_problems():
        async with unit_of_work(runtime) as uow:
            row = await own_assignment(uow.conn, assignment_id, who)  # locked: a concurrent repeat waits here
            accepted = await service.accept(uow, row)
    return AssignmentState(id=str(accepted["id"]), status=accepted["status"])


@router.post("/assignments/{assignment_id}/decline", summary="Decline an offer; the next peer is asked",
             description="Declining an offer declined already answers 200 with its current state and changes nothing "
                         "(the first reason stays, the next peer is not asked twice). 409 when it is no longer an "
                         "offer.",
             responses=problems(400, 404, 409, 422))
async def decline(assignment_id: str, body: DeclineIn, service: PairingService = Depends(get_service),
                  runtime: ServiceRuntime = Depends(get_runtime),
                  who: Principal = Depends(PEER_OR_LEAD)) -> AssignmentState:
    with as_problems():
        async with unit_of_work(runtime) as uow:
            row = await own_assignment(uow.conn, assignment_id, who)
            declined = await service.decline(uow, row, body.reason)
    return AssignmentState(id=str(declined["id"]), status=declined["status"])


@router.post("/assignments/{assignment_id}/arrive", summary="The peer is at the bedside",
             description="Arriving again answers 200 with the first arrival's time and changes nothing: no second "
                         "PeerArrived, no second time-to-bedside observation.",
             responses=problems(400, 404, 409))
async def arrive(assignment_id: str, service: PairingService = Depends(get_service),
                 runtime: ServiceRuntime = Depends(get_runtime), who: Principal = Depends(PEER_OR_LEAD)) -> Arrival:
    with as_problems():
        async with unit_of_work(runtime) as uow:
            row = await own_assignment(uow.conn, assignment_id, who)
            arrived = await service.arrive(uow, row)
    return Arrival(id=str(arrived["id"]), status=arrived["status"], arrived_at=arrived["arrived_at"].isoformat())


@router.post("/assignments/{assignment_id}/consent", status_code=201, summary="Record the patient's consent",
             description="A consent the same as the assignment's latest (granted, scope, accepts_support, contact_ok) "
                         "is a repeat: 200 with that consent's id, nothing recorded, no event, the case unchanged. A "
                         "different one, such as a revocation, is recorded (201).",
             responses={200: {"model": Created, "description": "Already recorded: the assignment's latest consent"},
                        **problems(400, 404, 409, 422)})
async def consent(assignment_id: str, body: ConsentIn, response: Response,
                  service: PairingService = Depends(get_service), runtime: ServiceRuntime = Depends(get_runtime),
                  who: Principal = Depends(PEER_OR_LEAD)) -> Created:
    with as_problems():
        async with unit_of_work(runtime) as uow:
            row = await own_assignment(uow.conn, assignment_id, who)  # locked: a concurrent repeat waits here
            recorded = await service.consent(uow, row, body.model_dump())
    return answer(recorded, response)


@router.post("/encounters", status_code=201, tags=["encounters"], summary="Record a peer encounter",
             description="An encounter is known by its assignment and start: sending the same one again (a lost "
                         "answer, a retried tap) answers 200 with the recorded encounter and records nothing new; "
                         "a different one with the same start is 409.",
             responses={200: {"model": Created, "description": "Already recorded: the same encounter"},
                        **problems(400, 404, 409, 422)})
async def record_encounter(body: EncounterIn, response: Response, service: PairingService = Depends(get_service),
                           runtime: ServiceRuntime = Depends(get_runtime),
                           who: Principal = Depends(PEER_OR_LEAD)) -> Created:
    with as_problems():
        async with unit_of_work(runtime) as uow:
            row = await own_assignment(uow.conn, body.assignment_id, who)  # locked: a concurrent repeat waits here
            recorded = await service.record_encounter(uow, row, body.model_dump())
    return answer(recorded, response)
