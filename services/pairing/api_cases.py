"""Case routes: the follow-up plan, contacts, the patient's preferences, and closing a case with a reason code."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, HTTPException, Response

from services.runtime.auth import Principal, require
from services.runtime.responses import problems
from services.runtime.service import ServiceRuntime, get_runtime
from services.runtime.web import uuid_or_404

from . import store
from .api_assignments import answer, as_problems, get_service, is_lead
from .models import AssignIn, CaseClose, CaseDetail, CaseRead, CloseIn, Created, PreferencesIn, PreferencesRead
from .models_followup import ContactIn, ContactRead, TouchpointRead
from .service import PairingService
from .unit_of_work import unit_of_work

router = APIRouter(tags=["cases"], responses=problems(401, 403))
PEER_OR_LEAD = require("peer", "supervisor", "admin")


async def own_case(conn, case_id: str, who: Principal, *, lock: bool = True):
    """The case, if the caller may see it: a peer only the cases they hold.

    The routes that write call this inside their unit of work, so the row stays locked until they commit."""
    row = await store.get_case(conn, uuid_or_404(case_id), lock=lock)
    if row is None or (not is_lead(who) and str(row["specialist_id"]) != who.specialist_id):
        raise HTTPException(404, "no such case")
    return row


async def visible_case(case_id: str, runtime: ServiceRuntime = Depends(get_runtime),
                       who: Principal = Depends(PEER_OR_LEAD)):
    """Fetch or 404, for the routes that only read: unlocked, outside any transaction."""
    async with runtime.pool.acquire() as conn:
        return await own_case(conn, case_id, who, lock=False)


def _iso(value):
    return value.isoformat() if value else None


def _case_fields(case) -> dict:
    return {"id": str(case["id"]), "facility": case["facility"], "visit_number": case["visit_number"],
            "status": case["status"], "specialist_id": str(case["specialist_id"]) if case["specialist_id"] else None,
            "opened_at": _iso(case["opened_at"]), "closed_at": _iso(case["closed_at"]),
            "close_reason": case["close_reason"],
            "crisis": bool(case.get("crisis"))}


def case_json(case) -> CaseRead:
    return CaseRead(**_case_fields(case))


@router.get("/cases", summary="Cases by facility, visit or status (the caller's own for a peer)",
            responses=problems(400))
async def list_cases(facility: str | None = None, visit_number: str | None = None, status: str | None = None,
                     runtime: ServiceRuntime = Depends(get_runtime),
                     who: Principal = Depends(PEER_OR_LEAD)) -> list[CaseRead]:
    only = None if is_lead(who) else (who.specialist_id or str(uuid.UUID(int=0)))
    async with runtime.pool.acquire() as conn:
        rows = await store.list_cases(conn, facility=facility, visit_number=visit_number, status=status,
                                      specialist_id=only)
    return [case_json(r) for r in rows]


@router.get("/cases/{case_id}", summary="A case with its follow-up plan and contacts", responses=problems(400, 404))
async def read_case(case=Depends(visible_case), runtime: ServiceRuntime = Depends(get_runtime)) -> CaseDetail:
    async with runtime.pool.acquire() as conn:
        plan = await store.touchpoints(conn, case["id"])
        done = await store.contacts(conn, case["id"])
    due = {t["id"]: t["due_at"] for t in plan}
    return CaseDetail(**_case_fields(case), preferences=case["preferences"],
                      plan=[TouchpointRead(kind=t["kind"], due_at=_iso(t["due_at"]), done_at=_iso(t["done_at"]),
                                           outcome=t["outcome"], opens_at=_iso(t["opens_at"]),
                                           closes_at=_iso(t["closes_at"]), missed_at=_iso(t["missed_at"]))
                            for t in plan],
                      contacts=[ContactRead(id=str(c["id"]), at=_iso(c["at"]), outcome=c["outcome"],
                                            window_due_at=_iso(due.get(c["touchpoint_id"])),
                                            learned=list(c["learned"] or []), treatment_type=c["treatment_type"],
                                            barc10_total=c["barc10_total"]) for c in done])


@router.post("/cases/{case_id}/contacts", status_code=201, summary="Record a coded follow-up contact",
             description="A contact counts for the follow-up window its time falls in (none between windows); a "
                         "reached one settles that window. `learned` codes what a call that reached the patient "
                         "learned (declined-further-contact and deceased end follow-up); `barc10` is a BARC-10 "
                         "recovery capital score. A contact is known by its case and time: the same one sent again "
                         "(a lost answer, a retried tap) answers 200 with the recorded contact and records nothing "
                         "new; another contact at that time is 409; codes that contradict each other are 422.",
             responses={200: {"model": Created, "description": "Already recorded: the same contact"},
                        **problems(400, 404, 409, 422)})
async def add_contact(case_id: str, body: ContactIn, response: Response, service: PairingService = Depends(get_service),
                      runtime: ServiceRuntime = Depends(get_runtime),
                      who: Principal = Depends(PEER_OR_LEAD)) -> Created:
    with as_problems():
        async with unit_of_work(runtime) as uow:
            case = await own_case(uow.conn, case_id, who)  # locked: a concurrent repeat waits here
            recorded = await service.add_contact(uow, case, body.at, body.outcome, who.subject, learned=body.learned,
                                                 treatment_type=body.treatment_type, barc10=body.barc10)
    return answer(recorded, response)


@router.put("/cases/{case_id}/preferences", summary="Record the patient's preferences for their peer",
            description="What the patient asked for at first contact: recovery pathways (most wanted first), a peer of "
                        "the same gender, a language (BCP-47). Matching reads them whenever the case is offered again "
                        "or re-matched. A PUT replaces the whole set, so sending it again changes nothing (also after "
                        "the case closed); other preferences for a closed case are 409.",
            responses=problems(400, 404, 409, 422))
async def put_preferences(case_id: str, body: PreferencesIn, service: PairingService = Depends(get_service),
                          runtime: ServiceRuntime = Depends(get_runtime),
                          who: Principal = Depends(PEER_OR_LEAD)) -> PreferencesRead:
    preferences = body.model_dump(mode="json")
    with as_problems():
        async with unit_of_work(runtime) as uow:
            case = await own_case(uow.conn, case_id, who)
            await service.set_preferences(uow, case, preferences)
    return PreferencesRead(id=str(case["id"]), preferences=body)


@router.post("/cases/{case_id}/close", summary="Close a case with a reason code",
             description="Closing a case closed already for the same reason answers 200 with its state and changes "
                         "nothing (no second CaseClosed); closed for another reason is 409.",
             responses=problems(400, 404, 409, 422))
async def close_case(case_id: str, body: CloseIn, service: PairingService = Depends(get_service),
                     runtime: ServiceRuntime = Depends(get_runtime),
                     who: Principal = Depends(PEER_OR_LEAD)) -> CaseClose:
    with as_problems():
        async with unit_of_work(runtime) as uow:
            case = await own_case(uow.conn, case_id, who)
            await service.close_as_asked(uow, case, body.reason)
    return CaseClose(id=str(case["id"]), status="closed", reason=body.reason)


@router.post("/cases/{case_id}/assign", status_code=201, summary="A supervisor gives an unassigned case to a peer",
             description="Giving a case to the peer who holds it already through an accepted assignment (a repeat) "
                         "answers 200 with that assignment's id: no second assignment, no events. Otherwise a case "
                         "that is not escalated or follow-up is 409.",
             responses={200: {"model": Created,
                              "description": "Already given to this peer: the assignment that holds it"},
                        **problems(400, 404, 409, 422)})
async def assign_case(case_id: str, body: AssignIn, response: Response, service: PairingService = Depends(get_service),
                      runtime: ServiceRuntime = Depends(get_runtime),
                      who: Principal = Depends(require("supervisor", "admin"))) -> Created:
    with as_problems():
        async with unit_of_work(runtime) as uow:
            case = await own_case(uow.conn, case_id, who)  # locked: a concurrent repeat waits here
            recorded = await service.assign(uow, case, str(body.specialist_id), body.note)
    return answer(recorded, response)
