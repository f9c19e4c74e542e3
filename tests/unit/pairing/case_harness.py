"""Pairing's case use cases with in-memory fakes at their boundaries, called as the routes call them."""
from __future__ import annotations

from datetime import timedelta

from services.contracts import PeerSupportIndicated
from services.pairing.domain.programs import Programs
from services.pairing.domain.shifts import Window
from services.pairing.service import PairingService, Recorded
from services.runtime.clock import FixedClock
from tests.unit.pairing.builders import NOW, peer, visit_data
from tests.unit.pairing.fakes import FakeStore, FakeUnitOfWork

GRANTED = {"granted": True, "scope": "treatment-team", "accepts_support": True, "contact_ok": False}
CERTIFIED = [{"kind": "CPRS", "number": "N1", "state": "NJ", "expires_on": "2029-06-30"}]
PREFERENCES = {"pathways": [], "same_gender_peer": False, "language": None}


class Pairing:
    """The service with fakes at its boundaries; the use cases called as the routes call them."""

    def __init__(self):
        self.store, self.clock = FakeStore(), FixedClock(NOW)
        self.uow = FakeUnitOfWork(self.store, self.clock)
        self.service = PairingService(Programs.from_mapping({"defaults": {"supervisor": "charge-nurse-F1"}}))

    def add_peer(self, name: str, *, on_shift: bool = True, **overrides) -> str:
        shifts = [Window("F1", NOW - timedelta(hours=1), NOW + timedelta(hours=12))] if on_shift else []
        return self.store.add_specialist(peer(name, certifications=CERTIFIED, **overrides), shifts)

    async def indicate(self, visit_number: str = "V1", **overrides) -> dict:
        data = visit_data(visit_number=visit_number, **overrides)
        await self.service.open_case(self.uow, PeerSupportIndicated(**data))
        return await self.case(visit_number)

    async def case(self, visit_number: str = "V1") -> dict:
        return await self.store.case_of_visit("F1", visit_number)

    async def offer(self, visit_number: str = "V1") -> dict:
        [offer] = [a for a in self.store.assignments.values()
                   if a["visit_number"] == visit_number and a["status"] == "offered"]
        return await self.store.get_assignment(offer["id"])

    async def assigned(self, visit_number: str = "V1", **overrides) -> dict:
        """A case accepted by the peer it was offered to; the accepted assignment, the events taken."""
        await self.indicate(visit_number, **overrides)
        accepted = await self.service.accept(self.uow, await self.offer(visit_number))
        self.uow.take()
        return accepted

    async def plan(self, visit_number: str = "V1") -> list[tuple]:
        """The case's plan as the case view shows it: kind, due, done and outcome of each touchpoint."""
        case = await self.case(visit_number)
        return [(t["kind"], t["due_at"], t["done_at"], t["outcome"]) for t in await self.store.touchpoints(case["id"])]

    async def consent(self, assignment_id: str, **body) -> Recorded:
        """POST /assignments/{id}/consent: the row as it stands now."""
        return await self.service.consent(self.uow, await self.store.get_assignment(assignment_id), {**GRANTED, **body})

    async def encounter(self, assignment_id: str, started_at, ended_at, **body) -> Recorded:
        body = {"assignment_id": assignment_id, "started_at": started_at, "ended_at": ended_at,
                "modality": "in-person", "kind": "individual", "patient_at_home": None, "note": None, **body}
        return await self.service.record_encounter(self.uow, await self.store.get_assignment(assignment_id), body)

    async def contact(self, at, outcome: str, visit_number: str = "V1", **coded) -> Recorded:
        """POST /cases/{id}/contacts as the call happens: the clock is moved to the call first when it lies ahead."""
        if at > self.clock.now():
            self.clock.advance(seconds=(at - self.clock.now()).total_seconds())
        return await self.service.add_contact(self.uow, await self.case(visit_number), at, outcome, "peer-token",
                                              **coded)


def kinds(events) -> list[str]:
    return [type(e).__name__ for e in events]


def days(n: float) -> timedelta:
    return timedelta(days=n)
