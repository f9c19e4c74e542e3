"""Dispatch: offer to the best peer, move on after a timeout or decline, escalate, withdraw, re-match."""
from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import structlog

from services.contracts import (CaseClosed, Event, NoPeerAvailable, PeerArrived, PeerAssignmentAccepted,
                                PeerAssignmentDeclined, PeerAssignmentExpired, PeerAssignmentOffered,
                                PeerAssignmentWithdrawn, PeerSupportIndicated)
from services.runtime.outbox import UnitOfWork

from . import metrics, store
from . import store_assignments as assignments
from .domain.cases import follow_up_plan
from .domain.matching import choose
from .domain.preferences import Preferences
from .domain.programs import Programs
from .domain.rematch import OpenCase, rematch
from .domain.roster import Roster, RosterEntry
from .domain.shifts import Window

log = structlog.get_logger("pairing.dispatch")
# An assignment its peer took: accepted, and completed once an encounter is recorded.
TAKEN = ("accepted", "completed")
TRANSFER_NOTE = ("Transferred from a peer who is no longer available. Review the follow-up plan and the"
                 " contacts so far before reaching out; introduce yourself as the patient's new peer.")


E = TypeVar("E", bound=Event)


def assignment_event(cls: type[E], row, **fields) -> E:
    """An event about the assignment in `row`, its common fields (assignment, visit, peer) taken from the row."""
    return cls(assignment_id=str(row["id"]), facility=row["facility"], visit_number=row["visit_number"],
               specialist_id=str(row["specialist_id"]), **fields)


class Dispatcher:
    """The dispatch rules over the store, with the programs read once at start-up."""

    def __init__(self, programs: Programs):
        self.programs = programs

    async def roster(self, uow: UnitOfWork, now: datetime, *, with_shifts: bool = True) -> Roster:
        people, shifts = await store.roster_state(uow.conn, now, with_shifts=with_shifts)
        windows: dict[str, list[Window]] = {}
        for s in shifts:
            windows.setdefault(s["specialist_id"], []).append(Window(s["facility"], s["starts_at"], s["ends_at"]))
        return Roster([RosterEntry.from_record(p["id"], p["data"], load=p["load"], last_paged_at=p["last_paged_at"],
                                               shifts=windows.get(p["id"], [])) for p in people])

    async def open_case(self, uow: UnitOfWork, visit: PeerSupportIndicated) -> None:
        """A visit needs a peer: page for it, or open a follow-up case when it is too old to page for."""
        now = uow.clock.now()
        program = self.programs.for_facility(visit.facility)
        too_old = now - visit.arrived_at > program.max_visit_age
        case_id = await store.open_case(uow.conn, visit, "follow-up" if too_old else "paging", now)
        if case_id is None:
            return
        if too_old:
            await store.add_touchpoints(uow.conn, case_id, follow_up_plan(now, program))
            log.info("case_opened_for_follow_up", case_id=case_id, facility=visit.facility)
            return
        await self.offer_next(uow, await store.get_case(uow.conn, case_id, lock=True))

    async def offer_next(self, uow: UnitOfWork, case) -> str | None:
        """Offer the case to the best peer not yet asked, or escalate when the steps or the peers run out."""
        now = uow.clock.now()
        program = self.programs.for_facility(case["facility"])
        tried = await assignments.assignments_of_case(uow.conn, case["id"])
        if len(tried) >= program.escalation_steps:
            await self.escalate(uow, case, "page", f"no acceptance after {len(tried)} offer(s)")
            return None
        roster = await self.roster(uow, now)
        chosen, explanation = choose(roster, case["visit"], program, now,
                                     recused=await store.recused_for(uow.conn, case["patient_hash"]),
                                     excluded=[str(a["specialist_id"]) for a in tried],
                                     preferences=Preferences.of(case["preferences"]))
        if chosen is None:
            await self.escalate(uow, case, "page", "no eligible peer on shift")
            return None
        expires_at = now + program.ack_timeout
        assignment_id = await assignments.insert_assignment(
            uow.conn, case_id=case["id"], specialist_id=chosen, facility=case["facility"],
            visit_number=case["visit_number"], attempt=len(tried) + 1, offered_at=now, expires_at=expires_at,
            explanation=explanation)
        await assignments.add_deadline(uow.conn, case["id"], assignment_id, "offer-timeout", expires_at)
        await store.mark_paged(uow.conn, chosen, now)
        await store.set_case(uow.conn, case["id"], status="paging")
        await uow.emit(PeerAssignmentOffered(assignment_id=assignment_id, facility=case["facility"],
                                             visit_number=case["visit_number"], specialist_id=chosen,
                                             offered_at=now, expires_at=expires_at, attempt=len(tried) + 1))
        log.info("offered", assignment_id=assignment_id, specialist_id=chosen, attempt=len(tried) + 1)
        return assignment_id

    async def escalate(self, uow: UnitOfWork, case, kind: str, reason: str) -> None:
        """Alert the facility's supervisor and publish that no peer is available, once per case and kind."""
        now = uow.clock.now()
        program = self.programs.for_facility(case["facility"])
        if not await store.escalate_once(uow.conn, case["id"], kind, case["facility"], program.supervisor, reason, now):
            return
        await store.set_case(uow.conn, case["id"], status="escalated")
        await uow.emit(NoPeerAvailable(facility=case["facility"], visit_number=case["visit_number"], escalated_at=now,
                                       reason=reason, case_id=str(case["id"]), supervisor=program.supervisor or None))
        metrics.ESCALATIONS.labels(case["facility"], kind).inc()
        log.warning("escalated", case_id=str(case["id"]), facility=case["facility"], reason_code=kind)

    async def on_deadline(self, uow: UnitOfWork, deadline) -> str:
        """An offer's timeout came due: expire it and offer to the next peer (no-op when already answered)."""
        now = uow.clock.now()
        expired = await assignments.transition(uow.conn, deadline["assignment_id"], old=("offered",), new="expired",
                                               closed_at=now)
        if expired is None:
            return "answered"
        await uow.emit(assignment_event(PeerAssignmentExpired, expired, expired_at=now))
        case = await store.get_case(uow.conn, expired["case_id"], lock=True)
        if case["status"] == "paging":
            await self.offer_next(uow, case)
        return "expired"

    async def decline(self, uow: UnitOfWork, row, reason: str | None):
        """Decline the offer and ask the next peer; the row as it stands when it was declined before (a repeat
        changes nothing, the first reason stays), None when it is no longer an offer."""
        if row["status"] == "declined":
            return row
        now = uow.clock.now()
        declined = await assignments.transition(uow.conn, row["id"], old=("offered",), new="declined",
                                                declined_at=now, decline_reason=reason, closed_at=now)
        if declined is None:
            return None
        await assignments.settle_deadlines(uow.conn, row["id"], now, "declined")
        await uow.emit(assignment_event(PeerAssignmentDeclined, declined, declined_at=now, reason_code=reason or None))
        case = await store.get_case(uow.conn, declined["case_id"], lock=True)
        if case["status"] == "paging":
            await self.offer_next(uow, case)
        return declined

    async def accept(self, uow: UnitOfWork, row):
        """Accept the offer before its deadline; the row as it stands when this peer took it before (a repeat
        changes nothing), None when it expired or was declined, withdrawn or passed on."""
        if row["status"] in TAKEN:
            return row
        now = uow.clock.now()
        if now >= row["expires_at"]:
            return None
        accepted = await assignments.transition(uow.conn, row["id"], old=("offered",), new="accepted", accepted_at=now)
        if accepted is None:
            return None
        await assignments.settle_deadlines(uow.conn, row["id"], now, "accepted")
        case = await store.get_case(uow.conn, row["case_id"], lock=True)
        program = self.programs.for_facility(case["facility"])
        await store.set_case(uow.conn, case["id"], status="assigned", specialist_id=row["specialist_id"])
        await store.add_touchpoints(uow.conn, case["id"], follow_up_plan(case["opened_at"], program))
        await uow.emit(await self._accepted(uow, accepted, now))
        metrics.observe("accept", case["facility"], (now - case["opened_at"]).total_seconds(),
                        program.ack_timeout.total_seconds())
        return accepted

    async def arrive(self, uow: UnitOfWork, row):
        """The peer is at the bedside: PeerArrived and the time-to-bedside metric, once; the row with the first
        arrival when the peer arrived before (a repeat), None when the assignment is not the peer's to arrive at."""
        if row["arrived_at"] is not None:
            return row if row["status"] in TAKEN else None
        if row["status"] != "accepted":
            return None
        now = uow.clock.now()
        arrived = await assignments.transition(uow.conn, row["id"], old=("accepted",), new="accepted", arrived_at=now)
        await uow.emit(assignment_event(PeerArrived, row, arrived_at=now))
        case = await store.get_case(uow.conn, row["case_id"])
        metrics.observe("bedside", row["facility"], (now - case["opened_at"]).total_seconds(),
                        self.programs.for_facility(row["facility"]).arrival_target_minutes * 60)
        return arrived

    async def withdraw_case(self, uow: UnitOfWork, case, reason: str) -> None:
        """Withdraw the case's open offer, and an accepted assignment whose peer has not arrived yet."""
        now = uow.clock.now()
        for row in await assignments.assignments_of_case(uow.conn, case["id"]):
            if row["status"] == "offered" or (row["status"] == "accepted" and row["arrived_at"] is None):
                await self._withdraw(uow, row, reason, now)

    async def _withdraw(self, uow: UnitOfWork, row, reason: str, now: datetime) -> None:
        await assignments.transition(uow.conn, row["id"], old=(row["status"],), new="withdrawn", closed_at=now)
        await assignments.settle_deadlines(uow.conn, row["id"], now, "withdrawn")
        await uow.emit(assignment_event(PeerAssignmentWithdrawn, row, withdrawn_at=now, reason=reason))

    async def close_as_asked(self, uow: UnitOfWork, case, reason: str) -> bool:
        """A close someone asked for: True also when the case is closed already for this reason (a repeat changes
        nothing), False when it was closed for another."""
        if case["status"] == "closed":
            return case["close_reason"] == reason
        return await self.close_case(uow, case, reason)

    async def close_case(self, uow: UnitOfWork, case, reason: str) -> bool:
        if case["status"] == "closed":
            return False
        now = uow.clock.now()
        await self.withdraw_case(uow, case, reason)
        await store.set_case(uow.conn, case["id"], status="closed", closed_at=now, close_reason=reason)
        await store.cancel_touchpoints(uow.conn, case["id"], "case-closed")
        await uow.emit(CaseClosed(case_id=str(case["id"]), facility=case["facility"], visit_number=case["visit_number"],
                                  closed_at=now, reason=reason))
        return True

    async def specialist_unavailable(self, uow: UnitOfWork, specialist_id: str) -> dict:
        """A peer went on leave or inactive: pass on their open offers, re-match their cases in one batch."""
        now = uow.clock.now()
        for offer in await assignments.offers_of_specialist(uow.conn, specialist_id):
            await self._withdraw(uow, offer, "peer-unavailable", now)
            await self.offer_next(uow, await store.get_case(uow.conn, offer["case_id"], lock=True))
        cases = await store.cases_of_specialist(uow.conn, specialist_id)
        roster = await self.roster(uow, now, with_shifts=False)
        open_cases = [OpenCase(str(c["id"]), c["visit"], specialist_id,
                               tuple(await store.recused_for(uow.conn, c["patient_hash"])),
                               Preferences.of(c["preferences"])) for c in cases]
        moved = 0
        for case, transfer in zip(cases, rematch(roster, open_cases, self.programs.for_facility, now)):
            for row in await assignments.assignments_of_case(uow.conn, case["id"]):
                if row["status"] == "accepted" and str(row["specialist_id"]) == specialist_id:
                    await self._withdraw(uow, row, "re-matched", now)
            if transfer.specialist_id is None:
                await store.set_case(uow.conn, case["id"], specialist_id=None)
                await self.escalate(uow, case, "transfer", "no eligible peer with room to take over the case")
                continue
            await self.hand_over(uow, case, transfer.specialist_id,
                                 {**transfer.explanation, "score": transfer.score, "transfer_note": TRANSFER_NOTE},
                                 TRANSFER_NOTE)
            moved += 1
        return {"rematched": moved, "unassigned": len(cases) - moved}

    async def held_by(self, uow: UnitOfWork, case, specialist_id: str) -> str | None:
        """The taken assignment through which this peer holds the case now (so giving it to them again is a repeat)."""
        if case["status"] != "assigned" or str(case["specialist_id"]) != specialist_id:
            return None
        return await assignments.taken_assignment(uow.conn, case["id"], specialist_id)

    async def hand_over(self, uow: UnitOfWork, case, specialist_id: str, explanation: dict,
                        note: str | None) -> str:
        """Give the case to a peer directly (re-match or a supervisor's choice): an accepted assignment."""
        now = uow.clock.now()
        attempt = len(await assignments.assignments_of_case(uow.conn, case["id"])) + 1
        assignment_id = await assignments.insert_assignment(
            uow.conn, status="accepted", transfer_note=note, accepted_at=now, case_id=case["id"],
            specialist_id=specialist_id, facility=case["facility"], visit_number=case["visit_number"],
            attempt=attempt, offered_at=now, expires_at=now, explanation=explanation)
        if case["status"] != "assigned" and not await store.touchpoints(uow.conn, case["id"]):
            await store.add_touchpoints(uow.conn, case["id"],
                                        follow_up_plan(case["opened_at"], self.programs.for_facility(case["facility"])))
        await store.set_case(uow.conn, case["id"], specialist_id=specialist_id, status="assigned")
        row = await assignments.get_assignment(uow.conn, assignment_id)
        await uow.emit(assignment_event(PeerAssignmentOffered, row, offered_at=now, expires_at=now, attempt=attempt))
        await uow.emit(await self._accepted(uow, row, now))
        return assignment_id

    @staticmethod
    async def _accepted(uow: UnitOfWork, row, now: datetime) -> PeerAssignmentAccepted:
        """PeerAssignmentAccepted in its one shape, whether the peer took the offer or was handed the case."""
        specialist = await store.get_specialist(uow.conn, row["specialist_id"])
        return assignment_event(PeerAssignmentAccepted, row, accepted_at=now, specialist_npi=specialist["npi"],
                                specialist_name=specialist["data"].get("name"))
