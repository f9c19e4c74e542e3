"""Assignment routes: lists, the peer's answers (accept, decline, arrive, consent) and encounters."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from services.contracts import ConsentRecorded, Credential, PeerEncounterCompleted
from services.runtime.auth import Principal, require
from services.runtime.responses import problems
from services.runtime.service import ServiceRuntime, get_runtime
from services.runtime.web import uuid_or_404

from . import store
from . import store_assignments as assignments
from .dispatch import assignment_event
from .domain.cases import re_offer_plan
from .domain.encounters import EncounterRefused, check_times
from .models import ConsentIn, DeclineIn, EncounterIn

router = APIRouter(tags=["assignments"], responses=problems(401, 403))
PEER_OR_LEAD = require("peer", "supervisor", "admin")


def _iso(value):
    return value.isoformat() if value else None


def assignment_json(row) -> dict:
    return {"id": str(row["id"]), "case_id": str(row["case_id"]), "specialist_id": str(row["specialist_id"]),
            "facility": row["facility"], "visit_number": row["visit_number"], "status": row["status"],
            "attempt": row["attempt"], "offered_at": _iso(row["offered_at"]), "expires_at": _iso(row["expires_at"]),
            "accepted_at": _iso(row["accepted_at"]), "declined_at": _iso(row["declined_at"]),
            "arrived_at": _iso(row["arrived_at"]), "closed_at": _iso(row["closed_at"]),
            "transfer_note": row["transfer_note"], "explanation": row["explanation"]}


def is_lead(who: Principal) -> bool:
    return who.has("supervisor", "admin")


@router.get("/assignments", summary="Assignments by facility and visit, or the caller's own (mine=true)",
            responses=problems(400, 422))
async def list_assignments(facility: str | None = None, visit_number: str | None = None, mine: bool = False,
                           runtime: ServiceRuntime = Depends(get_runtime),
                           who: Principal = Depends(PEER_OR_LEAD)) -> list[dict]:
    only = who.specialist_id if (mine or not is_lead(who)) else None
    if not is_lead(who) and not only:
        raise HTTPException(403, "peer token is not bound to a specialist")
    async with runtime.pool.acquire() as conn:
        rows = await assignments.list_assignments(conn, facility=facility, visit_number=visit_number,
                                                  specialist_id=only)
    return [assignment_json(r) for r in rows]


async def own_assignment(conn, assignment_id: str, who: Principal, *, lock: bool = True):
    """The assignment, if the caller may see it: a peer only their own (404 otherwise, not revealing it exists)."""
    row = await assignments.get_assignment(conn, uuid_or_404(assignment_id), lock=lock)
    if row is None or (not is_lead(who) and str(row["specialist_id"]) != who.specialist_id):
        raise HTTPException(404, "no such assignment")
    return row


@router.get("/assignments/{assignment_id}", summary="One assignment", responses=problems(400, 404))
async def read_assignment(assignment_id: str, runtime: ServiceRuntime = Depends(get_runtime),
                          who: Principal = Depends(PEER_OR_LEAD)) -> dict:
    async with runtime.pool.acquire() as conn:
        return assignment_json(await own_assignment(conn, assignment_id, who, lock=False))


@router.post("/assignments/{assignment_id}/accept", summary="Accept an offer",
             description="Accepting an offer this peer has accepted already (a lost answer, a retried tap) answers 200 "
                         "with the same body and changes nothing: no second event, no second follow-up plan. 409 when "
                         "the offer expired, was declined, withdrawn or passed to another peer.",
             responses=problems(400, 404, 409))
async def accept(assignment_id: str, request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                 who: Principal = Depends(PEER_OR_LEAD)) -> dict:
    async with runtime.unit_of_work() as uow:
        row = await own_assignment(uow.conn, assignment_id, who)  # locked: a concurrent repeat waits here
        accepted = await request.app.state.dispatcher.accept(uow, row)
        if accepted is None:
            raise HTTPException(409, f"assignment is {row['status']}" if row["status"] != "offered"
                                else "the offer has expired")
    return {"id": str(accepted["id"]), "status": accepted["status"]}


@router.post("/assignments/{assignment_id}/decline", summary="Decline an offer; the next peer is asked",
             description="Declining an offer declined already answers 200 with its current state and changes nothing "
                         "(the first reason stays, the next peer is not asked twice). 409 when it is no longer an "
                         "offer.",
             responses=problems(400, 404, 409, 422))
async def decline(assignment_id: str, body: DeclineIn, request: Request,
                  runtime: ServiceRuntime = Depends(get_runtime), who: Principal = Depends(PEER_OR_LEAD)) -> dict:
    async with runtime.unit_of_work() as uow:
        row = await own_assignment(uow.conn, assignment_id, who)
        declined = await request.app.state.dispatcher.decline(uow, row, body.reason)
        if declined is None:
            raise HTTPException(409, f"assignment is {row['status']}")
    return {"id": str(declined["id"]), "status": declined["status"]}


@router.post("/assignments/{assignment_id}/arrive", summary="The peer is at the bedside",
             description="Arriving again answers 200 with the first arrival's time and changes nothing: no second "
                         "PeerArrived, no second time-to-bedside observation.",
             responses=problems(400, 404, 409))
async def arrive(assignment_id: str, request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                 who: Principal = Depends(PEER_OR_LEAD)) -> dict:
    async with runtime.unit_of_work() as uow:
        row = await own_assignment(uow.conn, assignment_id, who)
        arrived = await request.app.state.dispatcher.arrive(uow, row)
        if arrived is None:
            raise HTTPException(409, f"assignment is {row['status']}" + (", peer arrived" if row["arrived_at"] else ""))
    return {"id": str(arrived["id"]), "status": arrived["status"], "arrived_at": arrived["arrived_at"].isoformat()}


@router.post("/assignments/{assignment_id}/consent", status_code=201, summary="Record the patient's consent",
             description="A consent the same as the assignment's latest (granted, scope, accepts_support, contact_ok) "
                         "is a repeat: 200 with that consent's id, nothing recorded, no event, the case unchanged. A "
                         "different one, such as a revocation, is recorded (201).",
             responses={200: {"description": "Already recorded: the assignment's latest consent"},
                        **problems(400, 404, 409, 422)})
async def consent(assignment_id: str, body: ConsentIn, request: Request, response: Response,
                  runtime: ServiceRuntime = Depends(get_runtime), who: Principal = Depends(PEER_OR_LEAD)) -> dict:
    dispatcher = request.app.state.dispatcher
    async with runtime.unit_of_work() as uow:
        row = await own_assignment(uow.conn, assignment_id, who)  # locked: a concurrent repeat waits here
        # Before the status check: a consent that closed the case has withdrawn the assignment since.
        latest = await assignments.latest_consent(uow.conn, row["id"])
        if latest is not None and all(latest[name] == value for name, value in body.model_dump().items()):
            response.status_code = 200
            return {"id": latest["id"]}
        if row["status"] not in ("accepted", "completed"):
            raise HTTPException(409, f"assignment is {row['status']}")
        now = uow.clock.now()
        consent_id = await assignments.insert_consent(uow.conn, str(row["id"]), body.model_dump(), now)
        await uow.emit(ConsentRecorded(facility=row["facility"], visit_number=row["visit_number"],
                                       assignment_id=str(row["id"]), granted=body.granted, scope=body.scope,
                                       recorded_at=now))
        if not body.accepts_support:
            case = await store.get_case(uow.conn, row["case_id"], lock=True)
            if body.contact_ok:
                # Declined in the ED but open to a call: the follow-up plan becomes re-offer calls.
                await store.cancel_touchpoints(uow.conn, case["id"], "declined-in-ed")
                await store.add_touchpoints(uow.conn, case["id"],
                                            re_offer_plan(now, dispatcher.programs.for_facility(row["facility"])))
            else:
                await dispatcher.close_case(uow, case, "declined")
    return {"id": consent_id}


@router.post("/encounters", status_code=201, tags=["encounters"], summary="Record a peer encounter",
             description="An encounter is known by its assignment and start: sending the same one again (a lost "
                         "answer, a retried tap) answers 200 with the recorded encounter and records nothing new; "
                         "a different one with the same start is 409.",
             responses={200: {"description": "Already recorded: the same encounter"}, **problems(400, 404, 409, 422)})
async def record_encounter(body: EncounterIn, request: Request, response: Response,
                           runtime: ServiceRuntime = Depends(get_runtime),
                           who: Principal = Depends(PEER_OR_LEAD)) -> dict:
    async with runtime.unit_of_work() as uow:
        row = await own_assignment(uow.conn, body.assignment_id, who)  # locked: a concurrent repeat waits here
        known = await assignments.encounter_started_at(uow.conn, row["id"], body.started_at)
        if known is not None:
            if (known["ended_at"], known["modality"], known["kind"]) != (body.ended_at, body.modality, body.kind):
                raise HTTPException(409, "another encounter of this assignment starting at this time is recorded")
            response.status_code = 200
            return {"id": str(known["id"])}
        try:
            check_times(body.started_at, body.ended_at, uow.clock.now(),
                        request.app.state.dispatcher.programs.for_facility(row["facility"]))
        except EncounterRefused as exc:
            raise HTTPException(422, str(exc)) from None
        if row["status"] not in ("accepted", "completed"):
            raise HTTPException(409, f"assignment is {row['status']}")
        case = await store.get_case(uow.conn, row["case_id"])
        if case["specialist_id"] != row["specialist_id"]:
            raise HTTPException(409, "the case has passed to another peer")
        encounter_id = await assignments.insert_encounter(uow.conn, str(row["id"]), body.model_dump())
        await assignments.set_assignment(uow.conn, row["id"], status="completed")
        specialist = await store.get_specialist(uow.conn, row["specialist_id"])
        await uow.emit(assignment_event(
            PeerEncounterCompleted, row, encounter_id=encounter_id, specialist_npi=specialist["npi"],
            started_at=body.started_at, ended_at=body.ended_at,
            minutes=int((body.ended_at - body.started_at).total_seconds() // 60),
            modality=body.modality, kind=body.kind, patient_at_home=body.patient_at_home,
            credentials=[Credential(kind=c["kind"], state=c.get("state"), expires_on=c["expires_on"])
                         for c in specialist["data"].get("certifications", [])],
            # billing names the rendering provider
            specialist_name=specialist["data"].get("name") or None))
    return {"id": encounter_id}
