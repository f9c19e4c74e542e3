"""The crisis path, A13 reopening and re-matching one case, as use cases with in-memory fakes at their boundaries."""
from __future__ import annotations

import pytest

from services.contracts import EdVisitDischarged
from services.contracts.pairing import CrisisRaised, PeerAssignmentOffered
from services.pairing import service_care
from services.pairing.domain.programs import Programs
from services.pairing.domain.rematch_case import NoEligiblePeer
from services.pairing.service import Conflict, PairingService, Refused
from tests.unit.pairing.builders import NOW
from tests.unit.pairing.case_harness import Pairing, kinds
from tests.unit.pairing.fakes_care import FakeCareStore

pytestmark = pytest.mark.unit
PROGRAMS = {"defaults": {"supervisor": "sup-F1", "crisis_routes": [
    {"route": "on-call-clinician", "contact": "clinician-F1"}, {"route": "988"}]}}
SUPERVISOR = {"reason": "supervisor-decision", "requested_by": "supervisor"}


@pytest.fixture
def care() -> Pairing:
    p = Pairing()
    p.service = PairingService(Programs.from_mapping(PROGRAMS))
    p.uow.care = FakeCareStore(p.store)
    return p


def raise_(p: Pairing, case, **kwargs):
    return service_care.raise_crisis(p.service, p.uow, case, **{"raised_by": "supervisor", **kwargs})


async def discharge(p: Pairing, cancelled: bool | None = None, visit_number: str = "V1") -> None:
    await p.service.visit_discharged(p.uow, EdVisitDischarged(facility="F1", visit_number=visit_number,
                                                              discharged_at=NOW, cancelled=cancelled))


async def test_a_crisis_visit_is_handed_to_the_first_route_before_its_offer_which_says_crisis(care):
    care.add_peer("a")
    case = await care.indicate(crisis=True, crisis_rules=["self-harm"])
    raised, offered = care.uow.take()
    assert isinstance(raised, CrisisRaised) and isinstance(offered, PeerAssignmentOffered)
    assert (raised.raised_by, raised.route, raised.contact, raised.supervisor) == (
        "intake", "on-call-clinician", "clinician-F1", "sup-F1")
    assert offered.crisis is True and case["crisis"] is True
    [handoff] = care.uow.care.handoffs.values()
    assert (handoff["raised_by"], handoff["outcome"]) == ("intake", None)


async def test_an_ordinary_offer_carries_no_crisis_flag(care):
    care.add_peer("a")
    await care.indicate()
    [offered] = care.uow.take()
    assert offered.crisis is None and "crisis" not in offered.to_data()


async def test_raising_a_crisis_again_while_its_hand_off_is_open_is_the_same_hand_off(care):
    care.add_peer("a")
    accepted = await care.assigned()
    case = await care.case()
    first = await raise_(care, case, raised_by=str(accepted["specialist_id"]), route="988")
    again = await raise_(care, await care.case())
    assert first.new and not again.new and again.id == first.id
    [raised] = care.uow.take()
    assert (raised.raised_by, raised.route, raised.specialist_id) == ("peer", "988", str(accepted["specialist_id"]))
    handoff = await care.uow.care.get_handoff(first.id)
    done = await service_care.record_handoff_outcome(care.uow, handoff, {"outcome": "handed-off"})
    assert done["handed_off_at"] == NOW
    assert await service_care.record_handoff_outcome(care.uow, done, {"outcome": "handed-off"}) == done
    with pytest.raises(Conflict):
        await service_care.record_handoff_outcome(care.uow, done, {"outcome": "no-answer"})
    assert (await raise_(care, await care.case())).new  # settled: a new crisis is a new hand-off


async def test_a_route_the_facility_does_not_configure_and_a_closed_case_are_refused(care):
    care.add_peer("a")
    await care.assigned()
    with pytest.raises(Refused):
        await raise_(care, await care.case(), route="mobile-crisis")
    await care.service.close_as_asked(care.uow, await care.case(), "completed")
    with pytest.raises(Conflict):
        await raise_(care, await care.case())
    assert care.uow.care.handoffs == {}


async def test_a13_reopens_a_case_its_discharge_closed_and_offers_it_to_the_same_peer_again(care):
    peer = care.add_peer("a")
    await care.indicate()
    await discharge(care)
    assert (await care.case())["close_reason"] == "discharged-before-peer"
    care.uow.take()
    await discharge(care, cancelled=True)
    case = await care.case()
    assert (case["status"], case["close_reason"], case["reopened_at"]) == ("paging", None, NOW)
    [offered] = care.uow.take()
    assert (offered.specialist_id, offered.attempt) == (peer, 2)
    await discharge(care, cancelled=True)  # open now: nothing changes
    assert care.uow.take() == []


async def test_a13_leaves_a_case_closed_for_another_reason_and_opens_an_old_visit_as_follow_up(care):
    care.add_peer("a")
    await care.assigned()
    await care.service.close_as_asked(care.uow, await care.case(), "completed")
    care.uow.take()
    await discharge(care, cancelled=True)
    assert (await care.case())["status"] == "closed" and care.uow.take() == []

    await care.indicate("V2")
    await discharge(care, visit_number="V2")
    care.uow.take()
    care.clock.advance(hours=13)
    await discharge(care, cancelled=True, visit_number="V2")
    case = await care.case("V2")
    assert case["status"] == "follow-up" and care.uow.take() == []
    assert len(await care.store.touchpoints(case["id"])) == 5


async def test_a_supervisor_re_matches_an_assigned_case_once(care):
    care.add_peer("a")
    accepted = await care.assigned()
    other = care.add_peer("b", on_shift=False)
    first = await service_care.rematch_case(care.service, care.uow, await care.case(), SUPERVISOR, "sup")
    assert kinds(care.uow.take()) == ["PeerAssignmentWithdrawn", "PeerAssignmentOffered", "PeerAssignmentAccepted"]
    again = await service_care.rematch_case(care.service, care.uow, await care.case(), SUPERVISOR, "sup")
    assert (again.id, again.new) == (first.id, False) and care.uow.take() == []
    case = await care.case()
    assert case["specialist_id"] == other and care.store.assignments[str(accepted["id"])]["status"] == "withdrawn"


async def test_the_patients_request_re_matches_an_assigned_case_and_a_boundary_conflict_recuses_its_peer(care):
    holder = care.add_peer("a")
    accepted = await care.assigned(patient_ref={"system": "mrn", "value": "X"})
    other = care.add_peer("b", on_shift=False)
    case = await care.case()
    recorded = await service_care.rematch_case(care.service, care.uow, case,
                                               {"reason": "boundary-conflict", "requested_by": "patient"}, "peer")
    assert recorded.new and (await care.case())["specialist_id"] == other
    assert (holder, case["patient_hash"]) in care.store.recusals
    assert care.store.assignments[str(accepted["id"])]["status"] == "withdrawn"


async def test_a_case_still_paging_moves_away_from_the_peer_its_offer_waits_for(care):
    offered_to = care.add_peer("a")
    other = care.add_peer("b", on_shift=False)
    case = await care.indicate()
    care.uow.take()
    await service_care.rematch_case(care.service, care.uow, case, {"reason": "mismatch", "requested_by": "patient"},
                                    "sup")
    assert kinds(care.uow.take()) == ["PeerAssignmentWithdrawn", "PeerAssignmentOffered", "PeerAssignmentAccepted"]
    case = await care.case()
    assert (case["status"], case["specialist_id"]) == ("assigned", other) and other != offered_to


async def test_nobody_eligible_changes_nothing_and_a_closed_case_is_a_conflict(care):
    care.add_peer("a")
    accepted = await care.assigned()
    with pytest.raises(NoEligiblePeer) as caught:
        await service_care.rematch_case(care.service, care.uow, await care.case(), SUPERVISOR, "sup")
    assert caught.value.explanation["constraints"]["not_recused"]["failed"] == 1
    assert care.uow.take() == [] and (await care.case())["specialist_id"] == accepted["specialist_id"]
    await care.service.close_as_asked(care.uow, await care.case(), "completed")
    with pytest.raises(Conflict):
        await service_care.rematch_case(care.service, care.uow, await care.case(), SUPERVISOR, "sup")
