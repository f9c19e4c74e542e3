"""Pairing's use cases: open a case, offer to the best peer, move on after a timeout or decline, escalate, close."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from services.contracts import (CaseClosed, EdVisitCancelled, EdVisitDischarged, EdVisitUpdated,
                                NoPeerAvailable, PeerArrived, PeerAssignmentAccepted, PeerAssignmentDeclined,
                                PeerAssignmentExpired, PeerAssignmentOffered, PeerAssignmentWithdrawn,
                                PeerSupportIndicated, Visit, parse)

from . import metrics, service_care
from .domain.cases import follow_up_plan
from .domain.matching import choose
from .domain.preferences import Preferences
from .domain.programs import Programs
from .domain.roster import Roster
from .domain.shifts import Window
from .ports import Row, Work
from .roster_cache import RosterCache
from .service_cases import TAKEN, TRANSFER_NOTE, CaseUseCases, Conflict, Recorded, Refused, assignment_event
from .service_followup import FollowUpUseCases

__all__ = ["PairingService", "Conflict", "Refused", "Recorded", "TAKEN", "TRANSFER_NOTE", "assignment_event"]
log = structlog.get_logger("pairing.service")
# Where a consumer batch keeps the roster it read (see handlers.py): present (None until read) while visits that may
# be offered are applied; absent otherwise, so every other path reads the roster afresh.
BATCH_ROSTER = "pairing.roster"


@dataclass(frozen=True)
class Offer:
    """A peer chosen for a case, before the offer is written."""

    case: Row
    specialist_id: str
    attempt: int
    offered_at: datetime
    expires_at: datetime
    explanation: dict

    def row(self) -> dict:
        """The assignment row the store writes."""
        return dict(case_id=self.case["id"], specialist_id=self.specialist_id, facility=self.case["facility"],
                    visit_number=self.case["visit_number"], attempt=self.attempt, offered_at=self.offered_at,
                    expires_at=self.expires_at, explanation=self.explanation)


@dataclass(frozen=True)
class DeadlineApplied:
    """A due deadline that was applied, and what it came to (expired, or answered before it was due)."""

    case_id: str
    outcome: str


class PairingService(FollowUpUseCases, CaseUseCases):
    """The use cases over the store, with the programs read once at start-up."""

    def __init__(self, programs: Programs):
        self.programs = programs
        # Decoding and arranging every profile took most of a roster read (README, Throughput).
        self.profiles = RosterCache()

    async def roster(self, uow: Work, now: datetime, *, with_shifts: bool = True) -> Roster:
        batch = getattr(uow, "batch", None)
        if with_shifts and batch is not None and BATCH_ROSTER in batch:
            # A consumer batch of visits reads the roster once; each offer updates it as a fresh read would see it.
            if batch[BATCH_ROSTER] is None:
                await uow.store.lock_roster()
                batch[BATCH_ROSTER] = await self._read_roster(uow, now, with_shifts=True)
            return batch[BATCH_ROSTER]
        return await self._read_roster(uow, now, with_shifts=with_shifts)

    async def _read_roster(self, uow: Work, now: datetime, *, with_shifts: bool) -> Roster:
        people, shifts = await uow.store.roster_state(now, with_shifts=with_shifts)
        windows: dict[str, list[Window]] = {}
        for s in shifts:
            windows.setdefault(s["specialist_id"], []).append(Window(s["facility"], s["starts_at"], s["ends_at"]))
        return await self.profiles.roster(uow.store, people, windows)

    async def open_case(self, uow: Work, visit: PeerSupportIndicated) -> None:
        """A visit needs a peer: page for it, or open a follow-up case when it is too old to page for."""
        await self.open_cases([(visit, uow)])

    async def open_cases(self, visits: list[tuple[PeerSupportIndicated, Work]]) -> None:
        """Visits that need a peer, in the units of work of one transaction: their cases opened and their first offers
        written set-wise (one statement for the cases, one for the offers); a crisis, a visit too old to page for (a
        follow-up case) or one that escalates at once goes its own way."""
        store, now = visits[0][1].store, visits[0][1].clock.now()
        too_old = [now - v.arrived_at > self.programs.for_facility(v.facility).max_visit_age for v, _ in visits]
        cases = await store.open_cases([v for v, _ in visits], ["follow-up" if old else "paging" for old in too_old],
                                        now)
        first: list[tuple[Work, Row]] = []
        for (visit, uow), old, case in zip(visits, too_old, cases):
            if case is None:
                continue
            if not (visit.crisis or old):
                first.append((uow, case))
                continue
            if first:  # the visits before it are offered first, as one at a time would
                await self._first_offers(first, now)
                first = []
            if visit.crisis:
                await service_care.crisis_from_visit(self, uow, case["id"])
            if old:
                program = self.programs.for_facility(visit.facility)
                await uow.store.add_touchpoints(case["id"], follow_up_plan(now, program))
                log.info("case_opened_for_follow_up", case_id=str(case["id"]), facility=visit.facility)
            else:
                await self.offer_next(uow, await uow.store.get_case(case["id"], lock=True))
        if first:
            await self._first_offers(first, now)

    async def _first_offers(self, cases: list[tuple[Work, Row]], now: datetime) -> None:
        """The first offer of each newly opened case, chosen one after another on one roster and written together;
        announced (or escalated) in the cases' order."""
        uow = cases[0][0]
        roster = await self.roster(uow, now)
        chosen = []
        for work, case in cases:
            program = self.programs.for_facility(case["facility"])
            offer = None if program.escalation_steps < 1 else self._choose(
                case, roster, program, now, attempt=1, recused=list(case["recused"]), excluded=[])
            chosen.append((work, case, program, offer))
        ids = iter(await uow.store.insert_offers([offer.row() for *_, offer in chosen if offer is not None]))
        for work, case, program, offer in chosen:
            if offer is not None:
                await self._announce(work, offer, next(ids))
            elif program.escalation_steps < 1:
                await self.escalate(work, case, "page", "no acceptance after 0 offer(s)")
            else:
                await self.escalate(work, case, "page", "no eligible peer on shift")

    def _choose(self, case: Row, roster: Roster, program, now: datetime, *, attempt: int, recused: list[str],
                excluded: list[str]) -> "Offer | None":
        """The best eligible peer for the case as an offer (counted on the roster at once), or None."""
        chosen, explanation = choose(roster, parse(Visit, case["visit"]), program, now, recused=recused,
                                     excluded=excluded, preferences=Preferences.of(case["preferences"]))
        if chosen is None:
            return None
        roster.paged(chosen, now)
        return Offer(case, chosen, attempt, now, now + program.ack_timeout, explanation)

    async def write_offers(self, offers: list[tuple[Work, "Offer"]]) -> list[str]:
        """Write the offers (with their deadlines and the peers' last page) together, each announced in its own unit
        of work; the new assignments' ids, in order."""
        ids = await offers[0][0].store.insert_offers([offer.row() for _, offer in offers])
        for (uow, offer), assignment_id in zip(offers, ids):
            await self._announce(uow, offer, assignment_id)
        return ids

    @staticmethod
    async def _announce(uow: Work, offer: "Offer", assignment_id: str) -> None:
        case = offer.case
        await uow.emit(PeerAssignmentOffered(assignment_id=assignment_id, facility=case["facility"],
                                             visit_number=case["visit_number"], specialist_id=offer.specialist_id,
                                             offered_at=offer.offered_at, expires_at=offer.expires_at,
                                             attempt=offer.attempt, crisis=True if case.get("crisis") else None))
        log.info("offered", assignment_id=assignment_id, specialist_id=offer.specialist_id, attempt=offer.attempt)

    async def offer_next(self, uow: Work, case: Row, *, since: datetime | None = None) -> str | None:
        """Offer the case to the best peer not yet asked, or escalate when the steps or the peers run out; `since`
        (a reopened case) counts the steps from then, and the peers whose offer was withdrawn may be asked again."""
        now = uow.clock.now()
        program = self.programs.for_facility(case["facility"])
        tried = await uow.store.assignments_of_case(case["id"])
        steps = [a for a in tried if since is None or a["offered_at"] >= since]
        if len(steps) >= program.escalation_steps:
            await self.escalate(uow, case, "page", f"no acceptance after {len(steps)} offer(s)")
            return None
        offer = self._choose(case, await self.roster(uow, now), program, now, attempt=len(tried) + 1,
                             recused=await uow.store.recused_for(case["patient_hash"]),
                             excluded=[str(a["specialist_id"]) for a in tried
                                       if since is None or a["status"] != "withdrawn"])
        if offer is None:
            await self.escalate(uow, case, "page", "no eligible peer on shift")
            return None
        [assignment_id] = await self.write_offers([(uow, offer)])
        await uow.store.set_case(case["id"], status="paging")
        return assignment_id

    async def escalate(self, uow: Work, case: Row, kind: str, reason: str) -> None:
        """Alert the facility's supervisor and publish that no peer is available, once per case and kind."""
        now = uow.clock.now()
        program = self.programs.for_facility(case["facility"])
        if not await uow.store.escalate_once(case["id"], kind, case["facility"], program.supervisor, reason, now):
            return
        await uow.store.set_case(case["id"], status="escalated")
        await uow.emit(NoPeerAvailable(facility=case["facility"], visit_number=case["visit_number"], escalated_at=now,
                                       reason=reason, case_id=str(case["id"]), supervisor=program.supervisor or None))
        metrics.ESCALATIONS.labels(case["facility"], kind).inc()
        log.warning("escalated", case_id=str(case["id"]), facility=case["facility"], reason_code=kind)

    async def apply_due_deadline(self, uow: Work) -> DeadlineApplied | None:
        """Apply the oldest due deadline and mark it done (in the caller's transaction); None when none is due."""
        deadline = await uow.store.take_due_deadline(uow.clock.now())
        if deadline is None:
            return None
        if deadline.get("touchpoint_id") is not None:
            outcome = await self.on_window_deadline(uow, deadline)
        else:
            outcome = await self.on_deadline(uow, deadline)
        await uow.store.finish_deadline(deadline["id"], uow.clock.now(), outcome)
        return DeadlineApplied(str(deadline["case_id"]), outcome)

    async def on_deadline(self, uow: Work, deadline: Row) -> str:
        """An offer's timeout came due: expire it and offer to the next peer (no-op when already answered)."""
        now = uow.clock.now()
        expired = await uow.store.transition(deadline["assignment_id"], old=("offered",), new="expired", closed_at=now)
        if expired is None:
            return "answered"
        await uow.emit(assignment_event(PeerAssignmentExpired, expired, expired_at=now))
        case = await uow.store.get_case(expired["case_id"], lock=True)
        if case["status"] == "paging":
            await self.offer_next(uow, case)
        return "expired"

    async def decline(self, uow: Work, row: Row, reason: str | None) -> Row:
        """Decline the offer and ask the next peer; the row as it stands when it was declined before (a repeat
        changes nothing, the first reason stays). Conflict when it is no longer an offer."""
        if row["status"] == "declined":
            return row
        now = uow.clock.now()
        declined = await uow.store.transition(row["id"], old=("offered",), new="declined", declined_at=now,
                                              decline_reason=reason, closed_at=now)
        if declined is None:
            raise Conflict(f"assignment is {row['status']}")
        await uow.store.settle_deadlines(row["id"], now, "declined")
        await uow.emit(assignment_event(PeerAssignmentDeclined, declined, declined_at=now, reason_code=reason or None))
        case = await uow.store.get_case(declined["case_id"], lock=True)
        if case["status"] == "paging":
            await self.offer_next(uow, case)
        return declined

    async def accept(self, uow: Work, row: Row) -> Row:
        """Accept the offer before its deadline; the row as it stands when this peer took it before (a repeat
        changes nothing). Conflict when it expired or was declined, withdrawn or passed on."""
        if row["status"] in TAKEN:
            return row
        now = uow.clock.now()
        late = Conflict(f"assignment is {row['status']}" if row["status"] != "offered" else "the offer has expired")
        if now >= row["expires_at"]:
            raise late
        accepted = await uow.store.transition(row["id"], old=("offered",), new="accepted", accepted_at=now)
        if accepted is None:
            raise late
        await uow.store.settle_deadlines(row["id"], now, "accepted")
        case = await uow.store.get_case(row["case_id"], lock=True)
        program = self.programs.for_facility(case["facility"])
        await uow.store.set_case(case["id"], status="assigned", specialist_id=row["specialist_id"])
        await uow.store.add_touchpoints(case["id"], follow_up_plan(case["opened_at"], program))
        await uow.emit(await self._accepted(uow, accepted, now))
        metrics.observe("accept", case["facility"], (now - case["opened_at"]).total_seconds(),
                        program.ack_timeout.total_seconds())
        return accepted

    async def arrive(self, uow: Work, row: Row) -> Row:
        """The peer is at the bedside: PeerArrived and the time-to-bedside metric, once; the row with the first
        arrival when the peer arrived before (a repeat). Conflict when the assignment is not the peer's to arrive at."""
        refused = Conflict(f"assignment is {row['status']}" + (", peer arrived" if row["arrived_at"] else ""))
        if row["arrived_at"] is not None:
            if row["status"] in TAKEN:
                return row
            raise refused
        if row["status"] != "accepted":
            raise refused
        now = uow.clock.now()
        arrived = await uow.store.transition(row["id"], old=("accepted",), new="accepted", arrived_at=now)
        await uow.emit(assignment_event(PeerArrived, row, arrived_at=now))
        case = await uow.store.get_case(row["case_id"])
        metrics.observe("bedside", row["facility"], (now - case["opened_at"]).total_seconds(),
                        self.programs.for_facility(row["facility"]).arrival_target_minutes * 60)
        return arrived

    async def withdraw_case(self, uow: Work, case: Row, reason: str) -> None:
        """Withdraw the case's open offer, and an accepted assignment whose peer has not arrived yet."""
        now = uow.clock.now()
        for row in await uow.store.assignments_of_case(case["id"]):
            if row["status"] == "offered" or (row["status"] == "accepted" and row["arrived_at"] is None):
                await self._withdraw(uow, row, reason, now)

    async def _withdraw(self, uow: Work, row: Row, reason: str, now: datetime) -> None:
        await uow.store.transition(row["id"], old=(row["status"],), new="withdrawn", closed_at=now)
        await uow.store.settle_deadlines(row["id"], now, "withdrawn")
        await uow.emit(assignment_event(PeerAssignmentWithdrawn, row, withdrawn_at=now, reason=reason))

    async def close_as_asked(self, uow: Work, case: Row, reason: str) -> None:
        """A close someone asked for; a repeat for the same reason changes nothing. Conflict when it was closed for
        another reason."""
        if case["status"] == "closed":
            if case["close_reason"] != reason:
                raise Conflict("case is closed")
            return
        await self.close_case(uow, case, reason)

    async def close_case(self, uow: Work, case: Row, reason: str) -> bool:
        if case["status"] == "closed":
            return False
        now = uow.clock.now()
        await self.withdraw_case(uow, case, reason)
        await uow.store.set_case(case["id"], status="closed", closed_at=now, close_reason=reason)
        await uow.store.cancel_touchpoints(case["id"], "case-closed")
        await uow.emit(CaseClosed(case_id=str(case["id"]), facility=case["facility"], visit_number=case["visit_number"],
                                  closed_at=now, reason=reason))
        return True

    async def visit_updated(self, uow: Work, visit: EdVisitUpdated) -> None:
        """Keep the case's visit current, so later offers match on the latest language, age and indications."""
        case = await uow.store.case_of_visit(visit.facility, visit.visit_number)
        if case is not None and case["status"] != "closed":
            await uow.store.replace_visit(case, visit)
            if visit.crisis:
                await service_care.crisis_from_visit(self, uow, case["id"])

    async def visit_discharged(self, uow: Work, event: EdVisitDischarged) -> None:
        """The patient left: withdraw an offer whose peer has not arrived; close the case if nobody met them."""
        if event.cancelled:
            await service_care.reopen_after_a13(self, uow, event)
            return
        case = await uow.store.case_of_visit(event.facility, event.visit_number)
        if case is None or case["status"] not in ("paging", "assigned", "escalated"):
            return
        if await uow.store.any_arrived(case["id"]):
            return
        await self.close_case(uow, case, "discharged-before-peer")

    async def visit_cancelled(self, uow: Work, event: EdVisitCancelled) -> None:
        """A cancelled or merged visit: withdraw everything and close the case."""
        case = await uow.store.case_of_visit(event.facility, event.visit_number)
        if case is not None:
            await self.close_case(uow, case, "visit-cancelled")

    @staticmethod
    async def _accepted(uow: Work, row: Row, now: datetime) -> PeerAssignmentAccepted:
        """PeerAssignmentAccepted in its one shape, whether the peer took the offer or was handed the case."""
        specialist = await uow.store.get_specialist(row["specialist_id"])
        return assignment_event(PeerAssignmentAccepted, row, accepted_at=now, specialist_npi=specialist["npi"],
                                specialist_name=specialist["data"].get("name"))
