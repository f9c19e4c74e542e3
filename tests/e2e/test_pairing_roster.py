"""Pairing's roster and peer answers on the running stack: decline moves on, leave re-matches, reasons stay private."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from tests.e2e.test_pairing_flow import poll
from tests.unit.pairing.builders import npi, peer

pytestmark = pytest.mark.e2e


def add_peer(stack, name: str, facility: str, **overrides) -> str:
    pairing, admin = stack.urls["pairing"], stack.headers("admin")
    r = httpx.post(f"{pairing}/specialists", json=peer(name, facility, npi=npi(), **overrides), headers=admin)
    assert r.status_code == 201, r.text
    weekly = [{"facility": facility, "pattern": "24/7", "timezone": "America/New_York",
               "start": (datetime.now(timezone.utc) - timedelta(days=1)).date().isoformat()}]
    assert httpx.put(f"{pairing}/specialists/{r.json()['id']}/shifts", json=weekly, headers=admin).status_code == 200
    return r.json()["id"]


def test_decline_moves_on_and_a_peer_on_leave_hands_over_with_the_reason_shown_to_supervisors_only(stack):
    pairing = stack.urls["pairing"]
    facility = f"F{uuid.uuid4().hex[:6].upper()}"
    first, second = add_peer(stack, "first", facility, caseload_cap=3), add_peer(stack, "second", facility)
    visit_number = "V" + uuid.uuid4().hex[:8]
    visit = {"facility": facility, "visit_number": visit_number, "arrived_at": datetime.now(timezone.utc).isoformat(),
             "language": "en", "diagnoses": ["F11.20"], "patient_ref": {"system": "urn:test:mrn", "value": "M-2"}}
    assert httpx.post(f"{stack.urls['intake']}/visits", json=visit, headers=stack.headers("ehr")).status_code == 202
    query = {"facility": facility, "visit_number": visit_number}
    lead = stack.headers("supervisor")
    [offer] = poll(lambda: httpx.get(f"{pairing}/assignments", params=query, headers=lead).json())
    asked, other = (first, second) if offer["specialist_id"] == first else (second, first)
    r = httpx.post(f"{pairing}/assignments/{offer['id']}/decline", json={"reason": "busy"},
                   headers=stack.headers("peer", asked))
    assert r.status_code == 200
    _, again = httpx.get(f"{pairing}/assignments", params=query, headers=lead).json()
    assert again["specialist_id"] == other and again["attempt"] == 2
    accepted = httpx.post(f"{pairing}/assignments/{again['id']}/accept", headers=stack.headers("peer", other))
    assert accepted.status_code == 200

    record = httpx.get(f"{pairing}/specialists/{other}", headers=lead).json()
    record.pop("id")
    leave = {**record, "status": "on-leave", "status_reason": "recurrence-of-use"}
    r = httpx.put(f"{pairing}/specialists/{other}", json=leave, headers=lead)
    assert r.status_code == 200 and r.json()["rematch"] == {"rematched": 1, "unassigned": 0}
    assert httpx.get(f"{pairing}/specialists/{other}", headers=lead).json()["status_reason"] == "recurrence-of-use"
    assert "status_reason" not in httpx.get(f"{pairing}/specialists/{other}", headers=stack.headers("admin")).json()
    *_, handed = httpx.get(f"{pairing}/assignments", params=query, headers=lead).json()
    assert handed["specialist_id"] == asked and handed["status"] == "accepted" and handed["transfer_note"]
    listed = httpx.get(f"{pairing}/specialists", params={"facility": facility}, headers=lead).json()
    assert sorted(s["status"] for s in listed) == ["active", "on-leave"]
    assert "recurrence-of-use" not in stack.logs()


def test_a_patient_who_declines_but_agrees_to_contact_gets_re_offer_calls(stack):
    pairing = stack.urls["pairing"]
    facility = f"F{uuid.uuid4().hex[:6].upper()}"
    specialist = add_peer(stack, "only", facility)
    visit_number = "V" + uuid.uuid4().hex[:8]
    visit = {"facility": facility, "visit_number": visit_number, "arrived_at": datetime.now(timezone.utc).isoformat(),
             "diagnoses": ["F10.20"]}
    assert httpx.post(f"{stack.urls['intake']}/visits", json=visit, headers=stack.headers("ehr")).status_code == 202
    me = stack.headers("peer", specialist)
    [offer] = poll(lambda: httpx.get(f"{pairing}/assignments", params={"mine": "true"}, headers=me).json())
    assert httpx.post(f"{pairing}/assignments/{offer['id']}/accept", headers=me).status_code == 200
    consent = {"granted": False, "scope": "treatment-referral", "accepts_support": False, "contact_ok": True}
    assert httpx.post(f"{pairing}/assignments/{offer['id']}/consent", json=consent, headers=me).status_code == 201
    case = httpx.get(f"{pairing}/cases/{offer['case_id']}", headers=me).json()
    assert [t["kind"] for t in case["plan"] if t["outcome"] is None] == ["re-offer", "re-offer"]
    assert case["status"] == "assigned"
    stranger = stack.headers("peer", str(uuid.uuid4()))
    assert httpx.get(f"{pairing}/cases/{offer['case_id']}", headers=stranger).status_code == 404


def test_when_no_peer_is_on_shift_the_case_is_escalated_and_a_supervisor_assigns_it(stack):
    pairing, lead = stack.urls["pairing"], stack.headers("supervisor")
    facility = f"F{uuid.uuid4().hex[:6].upper()}"
    r = httpx.post(f"{pairing}/specialists", json=peer("off", facility, npi=npi()), headers=stack.headers("admin"))
    off_shift = r.json()["id"]
    visit_number = "V" + uuid.uuid4().hex[:8]
    visit = {"facility": facility, "visit_number": visit_number, "arrived_at": datetime.now(timezone.utc).isoformat(),
             "diagnoses": ["F10.20"]}
    assert httpx.post(f"{stack.urls['intake']}/visits", json=visit, headers=stack.headers("ehr")).status_code == 202
    query = {"facility": facility, "visit_number": visit_number}
    [case] = poll(lambda: httpx.get(f"{pairing}/cases", params=query, headers=lead).json())
    assert case["status"] == "escalated"
    assert httpx.get(f"{pairing}/assignments", params=query, headers=lead).json() == []
    body = {"specialist_id": "nope"}
    r = httpx.post(f"{pairing}/cases/{case['id']}/assign", json=body, headers=lead)
    assert r.status_code == 422 and "specialist_id" in r.json()["detail"]
    r = httpx.post(f"{pairing}/cases/{case['id']}/assign", json={"specialist_id": off_shift}, headers=lead)
    assert r.status_code == 201
    [assigned] = httpx.get(f"{pairing}/assignments", params=query, headers=lead).json()
    assert assigned["status"] == "accepted" and assigned["specialist_id"] == off_shift
    assert httpx.get(f"{pairing}/cases", params=query, headers=stack.headers("peer", off_shift)).json()[0]["status"] \
        == "assigned"
