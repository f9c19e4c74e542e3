"""Pairing applies a peer's texted answer (notify.reply.v1) exactly as the API's accept and decline."""
from __future__ import annotations

import uuid

import pytest

from services.contracts import OfferReplied, PeerAssignmentAccepted, PeerAssignmentDeclined, PeerAssignmentOffered
from tests.unit.pairing.test_dispatch_rules import Pairing

pytestmark = pytest.mark.unit


def replied(offer: dict, answer: str, *, specialist_id: str | None = None, reason: str | None = None) -> OfferReplied:
    return OfferReplied(assignment_id=str(offer["id"]), facility=offer["facility"],
                        visit_number=offer["visit_number"], specialist_id=specialist_id or str(offer["specialist_id"]),
                        answer=answer, reason_code=reason, received_at=offer["offered_at"], channel="sms")


@pytest.fixture
async def offered() -> Pairing:
    pairing = Pairing()
    pairing.add_peer("a")
    pairing.add_peer("b")
    await pairing.indicate()
    pairing.uow.take()
    return pairing


async def test_a_texted_accept_assigns_the_case_to_that_peer_and_a_repeat_changes_nothing(offered):
    handler = offered.handlers[OfferReplied]
    offer = offered.offers()[0]
    await handler(replied(offer, "accept"), offered.uow)
    [event] = offered.uow.take()
    assert isinstance(event, PeerAssignmentAccepted) and event.specialist_id == str(offer["specialist_id"])
    [case] = offered.store.cases.values()
    assert (case["status"], case["specialist_id"]) == ("assigned", offer["specialist_id"])
    await handler(replied(offer, "accept"), offered.uow)
    assert offered.uow.take() == []


async def test_a_texted_decline_records_its_reason_and_asks_the_next_peer(offered):
    offer = offered.offers()[0]
    await offered.handlers[OfferReplied](replied(offer, "decline", reason="busy"), offered.uow)
    declined, next_offer = offered.uow.take()
    assert isinstance(declined, PeerAssignmentDeclined) and declined.reason_code == "busy"
    assert isinstance(next_offer, PeerAssignmentOffered) and next_offer.specialist_id != declined.specialist_id


async def test_a_reply_for_another_peers_offer_or_after_expiry_changes_nothing(offered):
    handler = offered.handlers[OfferReplied]
    offer = offered.offers()[0]
    await handler(replied(offer, "accept", specialist_id=str(uuid.uuid4())), offered.uow)
    assert offered.uow.take() == [] and offered.offers()[0]["status"] == "offered"
    offered.clock.advance(minutes=11)
    await handler(replied(offer, "accept"), offered.uow)  # too late: the API would answer 409
    assert offered.uow.take() == [] and offered.offers()[0]["status"] == "offered"
