"""Dispatch rules without a database: offer, decline, expire, escalate, accept, against in-memory fakes."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.contracts import (EdVisitDischarged, NoPeerAvailable, PeerAssignmentAccepted, PeerAssignmentDeclined,
                                PeerAssignmentExpired, PeerAssignmentOffered, PeerAssignmentWithdrawn,
                                PeerSupportIndicated)
from services.pairing.domain.programs import Programs
from services.pairing.domain.shifts import Window
from services.pairing.handlers import build
from services.pairing.service import Conflict, PairingService
from services.runtime.clock import FixedClock
from tests.unit.pairing.builders import NOW, peer, visit_data
from tests.unit.pairing.fakes import FakeStore, FakeUnitOfWork

pytestmark = pytest.mark.unit
SUPERVISOR = "charge-nurse-F1"


class Pairing:
    """The service with fakes at its boundaries, driven through its handler table as the consumer would."""

    def __init__(self):
        self.store, self.clock = FakeStore(), FixedClock(NOW)
        self.uow = FakeUnitOfWork(self.store, self.clock)
        self.service = PairingService(Programs.from_mapping({"defaults": {"supervisor": SUPERVISOR}}))
        self.handlers = build(self.service)

    def add_peer(self, name: str, **overrides) -> str:
        return self.store.add_specialist(peer(name, **overrides),
                                         [Window("F1", NOW - timedelta(hours=1), NOW + timedelta(hours=12))])

    async def indicate(self, **overrides) -> None:
        await self.handlers[PeerSupportIndicated](PeerSupportIndicated(**visit_data(**overrides)), self.uow)

    def offers(self) -> list[dict]:
        return sorted(self.store.assignments.values(), key=lambda a: a["attempt"])

    async def expire_due(self) -> list[str]:
        outcomes = []
        while (applied := await self.service.apply_due_deadline(self.uow)) is not None:
            outcomes.append(applied.outcome)
        return outcomes


@pytest.fixture
def pairing() -> Pairing:
    return Pairing()


def kinds(events) -> list[str]:
    return [type(e).__name__ for e in events]


async def test_an_indicated_visit_is_offered_to_the_best_eligible_peer(pairing):
    pairing.add_peer("second-language", languages=["en", "es"])
    native = pairing.add_peer("native", languages=["es", "en"])
    pairing.add_peer("no-spanish", languages=["en"])
    await pairing.indicate(language="es")
    [offered] = pairing.uow.take()
    assert isinstance(offered, PeerAssignmentOffered)
    assert (offered.specialist_id, offered.attempt) == (native, 1)
    assert offered.expires_at == NOW + timedelta(minutes=10)
    [offer] = pairing.offers()
    assert offer["explanation"]["eligible"] == 2
    [case] = pairing.store.cases.values()
    assert case["status"] == "paging"


async def test_the_same_visit_indicated_twice_pages_once(pairing):
    pairing.add_peer("a")
    await pairing.indicate()
    await pairing.indicate()
    assert kinds(pairing.uow.take()) == ["PeerAssignmentOffered"]


async def test_a_visit_too_old_to_page_for_opens_a_follow_up_case_without_an_offer(pairing):
    pairing.add_peer("a")
    await pairing.indicate(arrived_at=(NOW - timedelta(hours=13)).isoformat())
    assert pairing.uow.take() == []
    [case] = pairing.store.cases.values()
    assert case["status"] == "follow-up"
    assert len(await pairing.store.touchpoints(case["id"])) == 5


async def test_a_decline_offers_the_next_peer_at_once(pairing):
    first, second = pairing.add_peer("a"), pairing.add_peer("b")
    await pairing.indicate()
    pairing.uow.take()
    [offer] = pairing.offers()
    await pairing.service.decline(pairing.uow, offer, "with another patient")
    declined, offered = pairing.uow.take()
    assert isinstance(declined, PeerAssignmentDeclined) and declined.reason_code == "with another patient"
    assert isinstance(offered, PeerAssignmentOffered) and offered.attempt == 2
    assert {declined.specialist_id, offered.specialist_id} == {first, second}
    # The declined offer's timeout is settled: it will never expire the offer a second time.
    assert await pairing.expire_due() == []


async def test_a_repeat_decline_changes_nothing_and_keeps_the_first_reason(pairing):
    pairing.add_peer("a")
    pairing.add_peer("b")
    await pairing.indicate()
    [offer] = pairing.offers()
    await pairing.service.decline(pairing.uow, offer, "busy")
    pairing.uow.take()
    again = await pairing.service.decline(pairing.uow, pairing.offers()[0], "another reason")
    assert again["decline_reason"] == "busy"
    assert pairing.uow.take() == [] and len(pairing.offers()) == 2


async def test_an_offer_not_accepted_in_time_expires_and_moves_on(pairing):
    pairing.add_peer("a")
    pairing.add_peer("b")
    await pairing.indicate()
    pairing.uow.take()
    pairing.clock.advance(minutes=9)
    assert await pairing.expire_due() == []
    pairing.clock.advance(minutes=1)
    assert await pairing.expire_due() == ["expired"]
    expired, offered = pairing.uow.take()
    assert isinstance(expired, PeerAssignmentExpired) and expired.expired_at == pairing.clock.now()
    assert isinstance(offered, PeerAssignmentOffered) and offered.attempt == 2
    assert offered.specialist_id != expired.specialist_id
    assert [a["status"] for a in pairing.offers()] == ["expired", "offered"]


async def test_when_every_peer_declined_or_expired_the_supervisor_is_alerted_once(pairing):
    pairing.add_peer("a")
    pairing.add_peer("b")
    await pairing.indicate()
    await pairing.service.decline(pairing.uow, pairing.offers()[0], "busy")
    pairing.clock.advance(minutes=10)
    assert await pairing.expire_due() == ["expired"]
    assert kinds(pairing.uow.take()) == ["PeerAssignmentOffered", "PeerAssignmentDeclined", "PeerAssignmentOffered",
                                         "PeerAssignmentExpired", "NoPeerAvailable"]
    pairing.clock.advance(hours=2)
    assert await pairing.expire_due() == [] and pairing.uow.take() == []
    [case] = pairing.store.cases.values()
    assert case["status"] == "escalated"
    assert [e["supervisor"] for e in pairing.store.escalations.values()] == [SUPERVISOR]


async def test_after_the_escalation_steps_the_case_escalates_though_peers_are_left(pairing):
    for name in "abcd":
        pairing.add_peer(name)
    await pairing.indicate()
    for _ in range(3):
        pairing.clock.advance(minutes=10)
        await pairing.expire_due()
    alert = pairing.uow.take()[-1]
    assert isinstance(alert, NoPeerAvailable)
    assert (alert.reason, alert.supervisor) == ("no acceptance after 3 offer(s)", SUPERVISOR)
    assert len(pairing.offers()) == 3


async def test_no_eligible_peer_escalates_at_once(pairing):
    pairing.add_peer("english-only", languages=["en"])
    await pairing.indicate(language="pl")
    [alert] = pairing.uow.take()
    assert isinstance(alert, NoPeerAvailable) and alert.reason == "no eligible peer on shift"
    assert pairing.offers() == []


async def test_accepting_in_time_assigns_the_case_and_a_repeat_accept_changes_nothing(pairing):
    chosen = pairing.add_peer("a")
    await pairing.indicate()
    pairing.uow.take()
    pairing.clock.advance(minutes=4)
    accepted = await pairing.service.accept(pairing.uow, pairing.offers()[0])
    [event] = pairing.uow.take()
    assert isinstance(event, PeerAssignmentAccepted) and event.specialist_id == chosen
    [case] = pairing.store.cases.values()
    plan = await pairing.store.touchpoints(case["id"])
    assert (case["status"], case["specialist_id"], len(plan)) == ("assigned", chosen, 5)

    again = await pairing.service.accept(pairing.uow, pairing.offers()[0])
    assert (again["id"], again["status"]) == (accepted["id"], "accepted")
    assert pairing.uow.take() == []
    assert len(await pairing.store.touchpoints(case["id"])) == 5
    pairing.clock.advance(hours=1)
    assert await pairing.expire_due() == []  # the accepted offer's timeout was settled


async def test_an_offer_past_its_deadline_cannot_be_accepted(pairing):
    pairing.add_peer("a")
    await pairing.indicate()
    pairing.clock.advance(minutes=10)
    with pytest.raises(Conflict, match="the offer has expired"):
        await pairing.service.accept(pairing.uow, pairing.offers()[0])


async def test_discharge_before_the_peer_arrived_withdraws_the_offer_and_closes_the_case(pairing):
    pairing.add_peer("a")
    await pairing.indicate()
    pairing.uow.take()
    await pairing.handlers[EdVisitDischarged](
        EdVisitDischarged(facility="F1", visit_number="V1", discharged_at=NOW), pairing.uow)
    withdrawn, closed = pairing.uow.take()
    assert isinstance(withdrawn, PeerAssignmentWithdrawn) and withdrawn.reason == "discharged-before-peer"
    assert closed.reason == "discharged-before-peer"
    pairing.clock.advance(minutes=30)
    assert await pairing.expire_due() == [] and pairing.uow.take() == []
