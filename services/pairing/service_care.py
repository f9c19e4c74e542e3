"""Pairing's care use cases (issue 14): the crisis path, A13 reopening, and re-matching one case with a reason."""
from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from services.contracts import EdVisitDischarged, Visit, parse
from services.contracts.pairing import CrisisRaised

from .store_care import care_store
from .domain.cases import follow_up_plan
from .domain.crisis import RAISED_BY_INTAKE, UnknownRoute, route_for
from .domain.preferences import Preferences
from .domain.rematch_case import PATIENT_REASONS, Ask, choose_for_case
from .ports import Row
from .service_cases import TAKEN, Conflict, Recorded, Refused

if TYPE_CHECKING:
    from .service import PairingService

log = structlog.get_logger("pairing.care")
# A closed case an A13 brings back: the patient left before a peer met them, and is in the ED again.
REOPENABLE = ("discharged-before-peer",)
REMATCH_NOTE = ("This case was re-matched to you. Review the follow-up plan and the contacts so far before reaching "
                "out; introduce yourself as the patient's new peer.")


async def raise_crisis(service: PairingService, uow, case: Row, *, raised_by: str,
                       route: str | None = None) -> Recorded:
    """Put the case on the crisis path and hand it to the facility's crisis route, once while a hand-off is open:
    a repeat (a retried tap, intake's redelivery) finds the open hand-off. Conflict on a closed case."""
    known = await care_store(uow).open_handoff(case["id"])
    if known is not None:
        return Recorded(str(known["id"]), new=False)
    if case["status"] == "closed":
        raise Conflict("case is closed")
    program = service.programs.for_facility(case["facility"])
    try:
        chosen = route_for(program, route)
    except UnknownRoute as exc:
        raise Refused(str(exc)) from None
    now = uow.clock.now()
    await uow.store.set_case(case["id"], crisis=True)
    handoff_id = await care_store(uow).insert_handoff(case, raised_at=now, raised_by=raised_by,
                                                 route=chosen.route, contact=chosen.contact)
    kind = "intake" if raised_by == RAISED_BY_INTAKE else ("supervisor" if raised_by == "supervisor" else "peer")
    holder = case["specialist_id"]
    await uow.emit(CrisisRaised(handoff_id=handoff_id, case_id=str(case["id"]), facility=case["facility"],
                                visit_number=case["visit_number"], raised_at=now, raised_by=kind, route=chosen.route,
                                contact=chosen.contact, specialist_id=str(holder) if holder else None,
                                supervisor=program.supervisor or None))
    log.warning("crisis_raised", case_id=str(case["id"]), facility=case["facility"], route=chosen.route,
                reason_code=kind)
    return Recorded(handoff_id)


async def crisis_from_visit(service: PairingService, uow, case_id: str) -> None:
    """Intake marked the visit as crisis (on the first indication or a later update)."""
    case = await uow.store.get_case(case_id, lock=True)
    if case is not None and case["status"] != "closed" and not case.get("crisis"):
        await raise_crisis(service, uow, case, raised_by=RAISED_BY_INTAKE)


async def record_handoff_outcome(uow, handoff: Row, body: dict) -> Row:
    """The route's answer: handed off (when), declined, no answer...; the same outcome again is a repeat."""
    if handoff["outcome"] is not None:
        if (handoff["outcome"], handoff["notes_code"]) != (body["outcome"], body.get("notes_code")):
            raise Conflict("the hand-off's outcome is recorded")
        return handoff
    at = body.get("handed_off_at") or (uow.clock.now() if body["outcome"] == "handed-off" else None)
    await care_store(uow).set_handoff_outcome(str(handoff["id"]), outcome=body["outcome"], handed_off_at=at,
                                         notes_code=body.get("notes_code"))
    return await care_store(uow).get_handoff(str(handoff["id"]))


async def reopen_after_a13(service: PairingService, uow, event: EdVisitDischarged) -> None:
    """A cancelled discharge (A13): the patient is back in the ED, so a case closed by that discharge reopens and is
    offered again (a follow-up case when the visit is too old to page for)."""
    case = await uow.store.case_of_visit(event.facility, event.visit_number)
    if case is None or case["status"] != "closed" or case["close_reason"] not in REOPENABLE:
        return
    now = uow.clock.now()
    program = service.programs.for_facility(case["facility"])
    too_old = now - parse(Visit, case["visit"]).arrived_at > program.max_visit_age
    await uow.store.set_case(case["id"], status="follow-up" if too_old else "paging", closed_at=None,
                         close_reason=None, reopened_at=now)
    log.info("case_reopened", case_id=str(case["id"]), facility=case["facility"])
    if too_old:
        await uow.store.add_touchpoints(case["id"], follow_up_plan(now, program))
        return
    active = [a for a in await uow.store.assignments_of_case(case["id"]) if a["status"] in ("offered", *TAKEN)]
    if not active:
        await service.offer_next(uow, await uow.store.get_case(case["id"], lock=True), since=now)


async def rematch_case(service: PairingService, uow, case: Row, body: dict, recorded_by: str) -> Recorded:
    """Move one open case to the best other eligible peer, for a reason; the same request again while the peer it
    chose still holds the case is a repeat. NoEligiblePeer (with counts per constraint) when nobody qualifies."""
    if case["status"] == "closed":
        raise Conflict("case is closed")
    latest = await care_store(uow).latest_rematch(case["id"])
    if (latest is not None and (latest["reason"], latest["requested_by"]) == (body["reason"], body["requested_by"])
            and case["status"] == "assigned" and case["specialist_id"] == latest["to_specialist"]):
        return Recorded(str(latest["assignment_id"]), new=False)
    now = uow.clock.now()
    assignments = await uow.store.assignments_of_case(case["id"])
    # Whom the case moves away from: its holder, or the peer its open offer is waiting for.
    offered = [str(a["specialist_id"]) for a in assignments if a["status"] == "offered"]
    leaving = str(case["specialist_id"]) if case["specialist_id"] else (offered[0] if offered else None)
    if body["reason"] == "boundary-conflict" and leaving and case["patient_hash"]:
        # The patient must not meet this peer again through any later offer either.
        await care_store(uow).add_recusal(leaving, case["patient_hash"])
    roster = await service.roster(uow, now, with_shifts=False)
    chosen, explanation = choose_for_case(
        roster, parse(Visit, case["visit"]), service.programs.for_facility(case["facility"]), now, leaving=leaving,
        recused=tuple(await uow.store.recused_for(case["patient_hash"])),
        preferences=Preferences.of(case["preferences"]),
        ask=Ask(peer_gender=body.get("peer_gender"), pathway=body.get("pathway")))
    for row in assignments:
        if row["status"] == "offered" or (row["status"] in TAKEN and str(row["specialist_id"]) == leaving):
            await service._withdraw(uow, row, "re-matched", now)
    note = body.get("note") or REMATCH_NOTE
    assignment_id = await service.hand_over(
        uow, case, chosen, {**explanation, "rematch": {"reason": body["reason"], "requested_by": body["requested_by"],
                                                       "from_specialist_id": leaving}}, note)
    await care_store(uow).insert_rematch(case_id=case["id"], requested_at=now, requested_by=body["requested_by"],
                                    reason=body["reason"], recorded_by=recorded_by, from_specialist=leaving,
                                    to_specialist=chosen, assignment_id=assignment_id)
    log.info("case_rematched", case_id=str(case["id"]), reason_code=body["reason"],
             patient=body["reason"] in PATIENT_REASONS)
    return Recorded(assignment_id)
