"""Cases on real PostgreSQL: follow-up plans, re-offer calls, old visits, cancels, and batch re-matching."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.contracts import EdVisitCancelled, EdVisitUpdated
from services.pairing import store
from services.pairing.service import TRANSFER_NOTE
from services.pairing.handlers import build
from tests.unit.pairing.builders import NOW, peer

pytestmark = pytest.mark.integration


async def accept_first_offer(harness, data):
    [offer] = [a for a in await harness.assignments(data) if a["status"] == "offered"]
    async with harness.uow() as uow:
        assert await harness.service.accept(uow, offer)
    return offer


async def test_accepting_opens_the_follow_up_plan_at_72_hours_and_7_30_60_90_days(harness):
    await harness.add_peer("a")
    data = await harness.open_visit()
    offer = await accept_first_offer(harness, data)
    plan = await store.touchpoints(harness.pool, offer["case_id"])
    assert [(t["kind"], t["due_at"] - NOW, t["closes_at"] - t["opens_at"]) for t in plan] == [
        ("follow-up", timedelta(hours=72), timedelta(days=2)), ("follow-up", timedelta(days=7), timedelta(days=4)),
        ("follow-up", timedelta(days=30), timedelta(days=14)), ("follow-up", timedelta(days=60), timedelta(days=14)),
        ("follow-up", timedelta(days=90), timedelta(days=14))]
    harness.clock.advance(days=3)
    async with harness.uow() as uow:
        await harness.service.add_contact(uow, await store.get_case(uow.conn, offer["case_id"]),
                                          NOW + timedelta(days=3), "reached", "peer")
    plan = await store.touchpoints(harness.pool, offer["case_id"])
    assert [t["outcome"] for t in plan] == ["reached", None, None, None, None]


async def test_a_visit_older_than_the_paging_limit_opens_a_follow_up_case_without_a_page(harness):
    await harness.add_peer("a")
    data = await harness.open_visit(arrived_at=(NOW - timedelta(hours=13)).isoformat())
    assert await harness.assignments(data) == []
    case = await store.case_of_visit(harness.pool, data["facility"], data["visit_number"])
    assert case["status"] == "follow-up" and len(await store.touchpoints(harness.pool, case["id"])) == 5
    assert await harness.events("PeerAssignmentOffered", data) == []


async def test_a_cancelled_visit_withdraws_the_offer_and_closes_the_case_once(harness):
    await harness.add_peer("a")
    data = await harness.open_visit()
    event = EdVisitCancelled(facility=data["facility"], visit_number=data["visit_number"], cancelled_at=NOW,
                             reason="cancelled")
    for _ in range(2):
        async with harness.uow() as uow:
            await build(harness.service)[EdVisitCancelled](event, uow)
    assert [a["status"] for a in await harness.assignments(data)] == ["withdrawn"]
    [closed] = await harness.events("CaseClosed", data)
    assert closed["reason"] == "visit-cancelled"


async def test_a_peer_going_on_leave_hands_all_open_cases_over_in_one_batch_with_a_transfer_note(harness):
    leaving = await harness.add_peer("leaving", caseload_cap=5)
    visits = [await harness.open_visit() for _ in range(3)]
    for data in visits:
        await accept_first_offer(harness, data)
    pending = await harness.open_visit()  # an offer still waiting for the leaving peer's answer
    b = await harness.add_peer("b", caseload_cap=2)
    c = await harness.add_peer("c", caseload_cap=2)
    async with harness.uow() as uow:
        await store.update_specialist(uow.conn, leaving, {**peer("leaving"), "npi": (await store.get_specialist(
            uow.conn, leaving))["npi"], "status": "on-leave"}, "recurrence-of-use")
        summary = await harness.service.specialist_unavailable(uow, leaving)
    assert summary == {"rematched": 3, "unassigned": 0}
    new_peers = []
    for data in visits:
        old, new = await harness.assignments(data)
        assert (str(old["specialist_id"]), old["status"]) == (leaving, "withdrawn")
        assert new["status"] == "accepted" and new["transfer_note"] == TRANSFER_NOTE
        assert new["explanation"]["from_specialist_id"] == leaving
        new_peers.append(str(new["specialist_id"]))
    assert sorted(new_peers).count(b) <= 2 and sorted(new_peers).count(c) <= 2 and set(new_peers) == {b, c}
    old_offer, next_offer = await harness.assignments(pending)
    assert old_offer["status"] == "withdrawn" and next_offer["status"] == "offered"
    reasons = [e["reason"] for e in await harness.events("PeerAssignmentWithdrawn")]
    assert sorted(reasons) == ["peer-unavailable"] + ["re-matched"] * 3
    assert all("recurrence" not in str(e) for e in await harness.events("PeerAssignmentWithdrawn"))
    # Billing and referral read one shape of PeerAssignmentAccepted, whether the peer took an offer or the case.
    for data in visits:
        taken, handed = await harness.events("PeerAssignmentAccepted", data)
        assert set(taken) == set(handed) and handed["specialist_name"] in ("Peer b", "Peer c")


async def test_cases_nobody_can_take_over_are_escalated_once(harness):
    leaving = await harness.add_peer("leaving")
    data = await harness.open_visit()
    await accept_first_offer(harness, data)
    async with harness.uow() as uow:
        first = await harness.service.specialist_unavailable(uow, leaving)
        again = await harness.service.specialist_unavailable(uow, leaving)
    assert (first, again) == ({"rematched": 0, "unassigned": 1}, {"rematched": 0, "unassigned": 0})
    [alert] = await harness.events("NoPeerAvailable", data)
    assert alert["reason"] == "no eligible peer with room to take over the case"


async def test_an_updated_visit_is_matched_on_its_new_language_at_the_next_offer(harness):
    english = await harness.add_peer("english", languages=["en"])
    polish = await harness.add_peer("polish", languages=["pl", "en"])
    data = await harness.open_visit(language="en")
    [first] = await harness.assignments(data)
    assert str(first["specialist_id"]) == english  # a first-language English speaker for an English speaker
    updated = EdVisitUpdated(**{**data, "language": "pl"})
    async with harness.uow() as uow:
        await build(harness.service)[EdVisitUpdated](updated, uow)
        await harness.service.decline(uow, first, "busy")
    _, second = await harness.assignments(data)
    assert str(second["specialist_id"]) == polish
    assert second["explanation"]["constraints"]["speaks_language"]["failed"] == 1


async def test_the_race_and_ethnicity_intake_sends_score_for_a_peer_of_the_same_background(harness):
    latina = await harness.add_peer("latina", ethnicity=["2135-2"])
    await harness.add_peer("other", ethnicity=["2186-5"])
    data = await harness.open_visit(race=["2106-3"], ethnicity=["2135-2", "2148-5"])
    [offer] = await harness.assignments(data)
    assert str(offer["specialist_id"]) == latina
    assert offer["explanation"]["chosen"]["terms"]["culture"]["value"] == 1.0
    assert offer["explanation"]["runners_up"][0]["terms"]["culture"]["value"] == 0.0


async def test_the_patients_recorded_preferences_steer_the_re_match_when_their_peer_leaves(harness):
    leaving = await harness.add_peer("leaving", languages=["en"])
    data = await harness.open_visit(language="en")
    offer = await accept_first_offer(harness, data)
    await harness.add_peer("english", languages=["en"])
    polish_man = await harness.add_peer("polish-man", languages=["pl", "en"], gender="male")
    polish = await harness.add_peer("polish", languages=["pl", "en"])
    async with harness.uow() as uow:
        await store.set_preferences(uow.conn, offer["case_id"], {"pathways": ["SMART"], "same_gender_peer": True,
                                                                 "language": "pl"}, NOW)
        await store.update_specialist(uow.conn, leaving, {**peer("leaving"), "npi": (await store.get_specialist(
            uow.conn, leaving))["npi"], "status": "on-leave"}, None)
        assert await harness.service.specialist_unavailable(uow, leaving) == {"rematched": 1, "unassigned": 0}
    _, handed = await harness.assignments(data)
    assert str(handed["specialist_id"]) == polish != polish_man


async def test_preferences_recorded_while_paging_apply_to_the_next_offer(harness):
    # Both men suit the visit far better than the woman on language, lived experience and age.
    man = await harness.add_peer("man", gender="male", languages=["es", "en"])
    await harness.add_peer("man-2", gender="male", languages=["es", "en"])
    woman = await harness.add_peer("woman", gender="female", languages=["en", "es"], lived_experience=["alcohol"],
                                   birth_year=1956)
    data = await harness.open_visit(gender="female", language="es")
    [offer] = await harness.assignments(data)
    assert str(offer["specialist_id"]) == man
    async with harness.uow() as uow:  # a supervisor records what the patient said before anyone accepted
        await store.set_preferences(uow.conn, offer["case_id"], {"pathways": [], "same_gender_peer": True,
                                                                 "language": None}, NOW)
        await harness.service.decline(uow, offer, "busy")
    _, second = await harness.assignments(data)
    assert str(second["specialist_id"]) == woman
    assert second["explanation"]["constraints"]["same_gender"]["failed"] >= 1
