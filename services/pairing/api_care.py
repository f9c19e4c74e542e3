"""Care routes (issue 14): a case's crisis hand-off and its outcome, and re-matching one case with a reason."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, HTTPException, Response

from services.runtime.auth import Principal, require
from services.runtime.responses import problems
from services.runtime.service import ServiceRuntime, get_runtime
from services.runtime.web import problem, uuid_or_404

from . import service_care, store_care
from .api_assignments import answer, as_problems, get_service, is_lead
from .api_cases import own_case
from .domain.rematch_case import NoEligiblePeer
from .models import Created
from .models_care import CrisisIn, HandoffOutcomeIn, HandoffRead, Rematched, RematchIn
from .service import PairingService
from .unit_of_work import unit_of_work

router = APIRouter(tags=["care"], responses=problems(401, 403))
PEER_OR_LEAD = require("peer", "supervisor", "admin")


def _iso(value):
    return value.isoformat() if value else None


def handoff_json(row) -> HandoffRead:
    return HandoffRead(id=str(row["id"]), case_id=str(row["case_id"]), facility=row["facility"],
                       visit_number=row["visit_number"], raised_at=_iso(row["raised_at"]), raised_by=row["raised_by"],
                       route=row["route"], contact=row["contact"], handed_off_at=_iso(row["handed_off_at"]),
                       outcome=row["outcome"], notes_code=row["notes_code"])


@router.post("/cases/{case_id}/crisis", status_code=201, summary="Raise a crisis from a case",
             description="Puts the case on the crisis path and hands it to the facility's crisis route (program "
                         "settings: on-call clinician, 988, mobile crisis team), told through notify (`CrisisRaised`). "
                         "While the case's hand-off has no outcome, raising again answers 200 with it and changes "
                         "nothing. A peer only on a case they hold.",
             responses={200: {"model": Created, "description": "A hand-off is open already: that one"},
                        **problems(400, 404, 409, 422)})
async def raise_crisis(case_id: str, response: Response, body: CrisisIn | None = None,
                       service: PairingService = Depends(get_service), runtime: ServiceRuntime = Depends(get_runtime),
                       who: Principal = Depends(PEER_OR_LEAD)) -> Created:
    raised_by = "supervisor" if is_lead(who) else (who.specialist_id or who.subject)
    with as_problems():
        async with unit_of_work(runtime) as uow:
            case = await own_case(uow.conn, case_id, who)  # locked: a concurrent repeat waits here
            recorded = await service_care.raise_crisis(service, uow, case, raised_by=raised_by,
                                                       route=body.route if body else None)
    return answer(recorded, response)


@router.get("/crisis-handoffs", summary="Crisis hand-offs by facility or case (a peer: on the cases they hold)",
            responses=problems(400, 422))
async def list_handoffs(facility: str | None = None, case_id: str | None = None, open: bool = False,
                        runtime: ServiceRuntime = Depends(get_runtime),
                        who: Principal = Depends(PEER_OR_LEAD)) -> list[HandoffRead]:
    mine = None
    if not is_lead(who):
        if not who.specialist_id:
            return []
        mine = who.specialist_id
    try:
        case = str(uuid.UUID(case_id)) if case_id else None
    except ValueError:
        raise HTTPException(422, "case_id: not a case id") from None
    async with runtime.pool.acquire() as conn:
        rows = await store_care.list_handoffs(conn, facility=facility, case_id=case, open_only=open,
                                              specialist_id=mine)
    return [handoff_json(r) for r in rows]


@router.post("/crisis-handoffs/{handoff_id}/outcome", summary="Record how a crisis hand-off ended",
             description="`handed-off` (with when; now when left out), `patient-declined`, `no-answer`, `resolved`, "
                         "`transferred`, `other`, and an optional short `notes_code` (no free text). The same outcome "
                         "again answers 200 with the hand-off; another outcome once one is recorded is 409.",
             responses=problems(400, 404, 409, 422))
async def record_outcome(handoff_id: str, body: HandoffOutcomeIn, runtime: ServiceRuntime = Depends(get_runtime),
                         who: Principal = Depends(PEER_OR_LEAD)) -> HandoffRead:
    with as_problems():
        async with unit_of_work(runtime) as uow:
            handoff = await store_care.get_handoff(uow.conn, uuid_or_404(handoff_id), lock=True)
            if handoff is None:
                raise HTTPException(404, "no such hand-off")
            await own_case(uow.conn, str(handoff["case_id"]), who, lock=False)  # a peer: only their case's
            row = await service_care.record_handoff_outcome(uow, handoff, body.model_dump())
    return handoff_json(row)


@router.post("/cases/{case_id}/rematch", status_code=201, summary="Re-match one open case, with a reason",
             description="A supervisor's decision or the patient's request (a peer relays it for a case they hold, "
                         "`requested_by: patient`). The case goes to the best other peer who passes every hard "
                         "constraint (serving the facility; shift not required) and holds, on the date of service, a "
                         "credential the visit's payer accepts (`payer_credentials` in the program settings); "
                         "`peer_gender` and `pathway` add what the patient asked. `boundary-conflict` also recuses the "
                         "peer who held it. The same request again while the chosen peer holds the case is 200 with "
                         "that assignment. When nobody is eligible: 422 problem+json with `considered`, `eligible` and "
                         "`constraints` (how many peers each constraint excluded); the case stays as it was. Only a "
                         "closed case is 409.",
             responses={200: {"model": Rematched, "description": "Already re-matched for this request"},
                        **problems(400, 404, 409, 422)})
async def rematch(case_id: str, body: RematchIn, response: Response, service: PairingService = Depends(get_service),
                  runtime: ServiceRuntime = Depends(get_runtime), who: Principal = Depends(PEER_OR_LEAD)) -> Rematched:
    if not is_lead(who) and body.requested_by != "patient":
        raise HTTPException(403, "a peer relays the patient's request only (requested_by: patient)")
    try:
        with as_problems():
            async with unit_of_work(runtime) as uow:
                case = await own_case(uow.conn, case_id, who)
                recorded = await service_care.rematch_case(service, uow, case, body.model_dump(), who.subject)
                row = await uow.store.get_assignment(recorded.id)
    except NoEligiblePeer as exc:
        return problem(422, "No eligible peer", "no peer passes every constraint for this case",
                       type="urn:peerbridge:problem:no-eligible-peer", considered=exc.explanation["considered"],
                       eligible=0, constraints=exc.explanation["constraints"],
                       payer_rule=exc.explanation.get("payer_rule"))
    answer(recorded, response)
    return Rematched(id=recorded.id, case_id=str(row["case_id"]), specialist_id=str(row["specialist_id"]))
