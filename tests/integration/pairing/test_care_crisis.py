"""The crisis path and A13 on real Kafka and PostgreSQL: intake's crisis flag, a peer's raise, the hand-off's
outcome, and a cancelled discharge reopening the case."""
from __future__ import annotations

import pytest

from tests.unit.pairing.builders import NOW

from .care_support import facility

pytestmark = pytest.mark.integration
PHI = ("Doe", "T401X1A", "opioid", "1980")


async def test_a_crisis_visit_marks_the_case_tells_the_peer_crisis_and_hands_off_to_the_facilitys_route(care_api):
    f = facility()
    await care_api.add_peer(f, "a")
    data = await care_api.indicate(f, crisis=True, crisis_rules=["self-harm-intent-2"],
                                   diagnoses=["T401X2A"], patient_ref={"system": "mrn", "value": "Doe-1980"})
    case = data["case"]
    assert case["crisis"] is True
    [handoff] = await care_api.pool.fetch("SELECT * FROM crisis_handoffs WHERE case_id = $1", case["id"])
    assert (handoff["raised_by"], handoff["route"], handoff["contact"], handoff["outcome"]) == (
        "intake", "on-call-clinician", "clinician-oncall", None)
    [raised] = await care_api.events("CrisisRaised", visit_number=data["visit_number"])
    assert set(raised) == {"handoff_id", "case_id", "facility", "visit_number", "raised_at", "raised_by", "route",
                           "contact", "supervisor"}
    assert not any(term in str(raised) for term in PHI)
    await care_api.case_of(data, lambda c: c["status"] == "paging")
    [offer] = await care_api.events("PeerAssignmentOffered", visit_number=data["visit_number"])
    assert offer["crisis"] is True
    shown = await care_api.client.get(f"/cases/{case['id']}", headers=care_api.headers())
    assert shown.json()["crisis"] is True
    peer_view = await care_api.client.get(f"/assignments/{offer['assignment_id']}",
                                          headers=care_api.headers("peer", offer["specialist_id"]))
    assert peer_view.json()["crisis"] is True


async def test_an_ordinary_visit_is_offered_without_the_crisis_flag(care_api):
    f = facility()
    await care_api.add_peer(f, "a")
    data = await care_api.indicate(f)
    [offer] = await care_api.events("PeerAssignmentOffered", visit_number=data["visit_number"])
    assert "crisis" not in offer and data["case"]["crisis"] is False
    assert await care_api.events("CrisisRaised", visit_number=data["visit_number"]) == []


async def test_a_peer_raises_a_crisis_from_their_case_once_and_records_the_hand_off_outcome(care_api):
    f = facility()
    await care_api.add_peer(f, "a")
    other = await care_api.add_peer(f, "b", on_shift=False)
    data = await care_api.indicate(f)
    holder = await care_api.accept(data)
    case_id = str(data["case"]["id"])
    peer = care_api.headers("peer", holder)
    assert (await care_api.client.post(f"/cases/{case_id}/crisis", json={"route": "mobile-crisis"},
                                       headers=peer)).status_code == 422  # not a route of this facility
    first = await care_api.client.post(f"/cases/{case_id}/crisis", json={"route": "988"}, headers=peer)
    again = await care_api.client.post(f"/cases/{case_id}/crisis", headers=peer)
    assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()
    assert (await care_api.client.post(f"/cases/{case_id}/crisis",
                                       headers=care_api.headers("peer", other))).status_code == 404
    [raised] = await care_api.events("CrisisRaised", visit_number=data["visit_number"])
    assert (raised["raised_by"], raised["route"], raised["specialist_id"]) == ("peer", "988", holder)

    handoff_id = first.json()["id"]
    done = {"outcome": "handed-off", "handed_off_at": NOW.isoformat(), "notes_code": "warm-handoff"}
    r = await care_api.client.post(f"/crisis-handoffs/{handoff_id}/outcome", json=done, headers=peer)
    assert r.status_code == 200 and r.json()["outcome"] == "handed-off" and r.json()["raised_by"] == holder
    assert (await care_api.client.post(f"/crisis-handoffs/{handoff_id}/outcome", json=done,
                                       headers=peer)).status_code == 200
    assert (await care_api.client.post(f"/crisis-handoffs/{handoff_id}/outcome", json={"outcome": "no-answer"},
                                       headers=peer)).status_code == 409
    listed = (await care_api.client.get("/crisis-handoffs", params={"case_id": case_id},
                                        headers=care_api.headers())).json()
    assert [(h["id"], h["route"], h["outcome"]) for h in listed] == [(handoff_id, "988", "handed-off")]
    # With the first hand-off settled, a new crisis on the same case is a new hand-off.
    third = await care_api.client.post(f"/cases/{case_id}/crisis", headers=care_api.headers())
    assert third.status_code == 201 and third.json()["id"] != handoff_id


async def test_a_cancelled_discharge_reopens_a_case_closed_by_the_discharge_and_offers_it_again(care_api):
    f = facility()
    await care_api.add_peer(f, "a")
    data = await care_api.indicate(f)
    left = {"facility": f, "visit_number": data["visit_number"], "discharged_at": NOW.isoformat()}
    await care_api.publish("EdVisitDischarged", left)
    await care_api.case_of(data, lambda c: c["status"] == "closed")
    assert [a["status"] for a in await care_api.offers(data, "withdrawn")] == ["withdrawn"]
    await care_api.publish("EdVisitDischarged", {**left, "cancelled": True})
    case = await care_api.case_of(data, lambda c: c["status"] == "paging")
    assert case["close_reason"] is None and case["reopened_at"] == NOW
    [offer] = await care_api.offers(data)  # the same peer, whose offer the discharge withdrew, is asked again
    assert offer["attempt"] == 2
    # A second A13 changes nothing: the case is open.
    await care_api.publish("EdVisitDischarged", {**left, "cancelled": True})
    await care_api.publish("EdVisitDischarged", left)  # and a real discharge after it closes it again
    await care_api.case_of(data, lambda c: c["status"] == "closed")
    assert len(await care_api.offers(data, "withdrawn")) == 2
