"""Pairing on the running stack: an ED visit at intake becomes an offer, the peer accepts, arrives, records."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from tests.unit.pairing.builders import npi, peer

pytestmark = pytest.mark.e2e


def poll(fn, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (result := fn()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout}s")
        time.sleep(0.2)
    return result


def test_roster_rejects_bad_input_naming_the_field_and_duplicate_npis(stack):
    url, admin = f"{stack.urls['pairing']}/specialists", stack.headers("admin")
    r = httpx.post(url, json=peer("x", npi="1234567890"), headers=admin)
    assert r.status_code == 422 and "npi" in r.json()["detail"]
    r = httpx.post(url, json=peer("x", languages=["not a tag!"]), headers=admin)
    assert r.status_code == 422 and "languages" in r.json()["detail"]
    body = peer("x", facilities=["FX"])
    created = httpx.post(url, json=body, headers=admin)
    assert created.status_code == 201
    again = httpx.post(url, json=body, headers=admin)  # the same record again: a repeat, not a second specialist
    assert (again.status_code, again.json()) == (200, created.json())
    assert httpx.post(url, json={**body, "name": "someone else"}, headers=admin).status_code == 409
    assert httpx.post(url, json=body, headers=stack.headers("peer")).status_code == 403
    start = datetime.now(timezone.utc) + timedelta(days=1)
    shifts = [{"facility": "FX", "starts_at": start.isoformat(), "ends_at": (start - timedelta(hours=1)).isoformat()}]
    r = httpx.put(f"{url}/{created.json()['id']}/shifts", json=shifts, headers=admin)
    assert r.status_code == 422 and "ends_at" in r.json()["detail"]


def test_an_ed_visit_at_intake_reaches_an_accepted_assignment_with_the_peer_at_the_bedside(stack):
    pairing, admin = stack.urls["pairing"], stack.headers("admin")
    facility = f"F{uuid.uuid4().hex[:6].upper()}"
    now = datetime.now(timezone.utc)
    ids = []
    for name, languages in (("spanish", ["es", "en"]), ("english", ["en"])):
        r = httpx.post(f"{pairing}/specialists", json=peer(name, facility, npi=npi(), languages=languages),
                       headers=admin)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        shift = [{"facility": facility, "starts_at": (now - timedelta(hours=1)).isoformat(),
                  "ends_at": (now + timedelta(hours=8)).isoformat()}]
        assert httpx.put(f"{pairing}/specialists/{ids[-1]}/shifts", json=shift, headers=admin).status_code == 200
    visit_number = "V" + uuid.uuid4().hex[:8]
    visit = {"facility": facility, "visit_number": visit_number, "arrived_at": now.isoformat(), "language": "es",
             "gender": "female", "age_years": 41, "diagnoses": ["T40.1X1A"],
             "patient_ref": {"system": "urn:test:mrn", "value": "MRN-PAIRING-1"}}
    assert httpx.post(f"{stack.urls['intake']}/visits", json=visit, headers=stack.headers("ehr")).status_code == 202

    query = {"facility": facility, "visit_number": visit_number}
    [offer] = poll(lambda: httpx.get(f"{pairing}/assignments", params=query,
                                     headers=stack.headers("supervisor")).json())
    assert offer["specialist_id"] == ids[0] and offer["status"] == "offered"
    # the English-only peer is not eligible: it fails the language constraint (the count covers the shared roster)
    explanation = offer["explanation"]
    assert explanation["constraints"]["speaks_language"]["failed"] >= 1
    assert ids[1] not in [r["specialist_id"] for r in explanation["runners_up"]]

    other, mine = stack.headers("peer", ids[1]), stack.headers("peer", ids[0])
    assert httpx.post(f"{pairing}/assignments/{offer['id']}/accept", headers=other).status_code == 404
    assert httpx.get(f"{pairing}/assignments", params={"mine": "true"}, headers=other).json() == []
    assert httpx.post(f"{pairing}/assignments/{offer['id']}/accept", headers=mine).status_code == 200
    assert httpx.post(f"{pairing}/assignments/{offer['id']}/arrive", headers=mine).status_code == 200
    consent = {"granted": True, "scope": "treatment-referral"}
    assert httpx.post(f"{pairing}/assignments/{offer['id']}/consent", json=consent, headers=mine).status_code == 201
    ended = datetime.now(timezone.utc)  # an encounter is recorded once it has ended
    encounter = {"assignment_id": offer["id"], "started_at": (ended - timedelta(minutes=35)).isoformat(),
                 "ended_at": ended.isoformat(), "modality": "in-person", "kind": "individual",
                 "note": "talked about MOUD options"}
    r = httpx.post(f"{pairing}/encounters", json=encounter, headers=mine)
    assert r.status_code == 201 and set(r.json()) == {"id"}
    # a retried tap, four at once: the same encounter every time; another end for the same start is a conflict
    with ThreadPoolExecutor(4) as pool:
        repeats = list(pool.map(lambda _: httpx.post(f"{pairing}/encounters", json=encounter, headers=mine), range(4)))
    assert {(x.status_code, x.json()["id"]) for x in repeats} == {(200, r.json()["id"])}
    other_end = {**encounter, "ended_at": (ended - timedelta(minutes=5)).isoformat()}
    assert httpx.post(f"{pairing}/encounters", json=other_end, headers=mine).status_code == 409

    [done] = httpx.get(f"{pairing}/assignments", params={"mine": "true"}, headers=mine).json()
    assert done["status"] == "completed" and done["accepted_at"] and done["arrived_at"]
    case = httpx.get(f"{pairing}/cases/{done['case_id']}", headers=mine).json()
    assert [t["kind"] for t in case["plan"]] == ["follow-up"] * 5
    # A call made now: a contact may not lie in the future; before the 72-hour window opens it counts for none.
    contact = {"at": datetime.now(timezone.utc).isoformat(), "outcome": "reached"}
    assert httpx.post(f"{pairing}/cases/{done['case_id']}/contacts", json=contact, headers=mine).status_code == 201
    r = httpx.post(f"{pairing}/cases/{done['case_id']}/close", json={"reason": "completed"}, headers=mine)
    assert r.status_code == 200
    metrics = httpx.get(f"{pairing}/metrics").text
    assert f'pairing_within_target_total{{facility="{facility}",measure="bedside",within="true"}} 1.0' in metrics
    assert "MRN-PAIRING-1" not in stack.logs() and "MOUD options" not in stack.logs()
    # Offer timeouts take minutes, so the running stack only shows that its deadline loop is up
    # (the timeline itself is tested with an injected clock in tests/integration/pairing).
    assert '"deadline_loop_started"' in stack.logs()


def test_race_and_ethnicity_reach_matching_and_the_peer_records_the_patients_preferences(stack):
    pairing, admin = stack.urls["pairing"], stack.headers("admin")
    facility = f"F{uuid.uuid4().hex[:6].upper()}"
    now = datetime.now(timezone.utc)
    ids = []
    for name, ethnicity in (("not-hispanic", ["2186-5"]), ("latina", ["2135-2"])):
        r = httpx.post(f"{pairing}/specialists", json=peer(name, facility, npi=npi(), ethnicity=ethnicity),
                       headers=admin)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        shift = [{"facility": facility, "starts_at": (now - timedelta(hours=1)).isoformat(),
                  "ends_at": (now + timedelta(hours=8)).isoformat()}]
        assert httpx.put(f"{pairing}/specialists/{ids[-1]}/shifts", json=shift, headers=admin).status_code == 200
    visit = {"facility": facility, "visit_number": "V" + uuid.uuid4().hex[:8], "arrived_at": now.isoformat(),
             "gender": "female", "age_years": 41, "diagnoses": ["T40.1X1A"], "race": ["2106-3"],
             "ethnicity": ["2135-2", "2148-5"]}
    intake, ehr = f"{stack.urls['intake']}/visits", stack.headers("ehr")
    r = httpx.post(intake, json={**visit, "race": ["White"]}, headers=ehr)
    assert r.status_code == 422 and "race" in r.json()["detail"]
    assert httpx.post(intake, json=visit, headers=ehr).status_code == 202
    [offer] = poll(lambda: httpx.get(f"{pairing}/assignments", params={"facility": facility},
                                     headers=stack.headers("supervisor")).json())
    assert offer["specialist_id"] == ids[1]
    assert offer["explanation"]["chosen"]["terms"]["culture"]["value"] == 1.0

    mine, other = stack.headers("peer", ids[1]), stack.headers("peer", ids[0])
    assert httpx.post(f"{pairing}/assignments/{offer['id']}/accept", headers=mine).status_code == 200
    url = f"{pairing}/cases/{offer['case_id']}/preferences"
    wish = {"pathways": ["SMART", "MOUD-supportive"], "same_gender_peer": True, "language": "es-MX"}
    assert httpx.put(url, json=wish, headers=other).status_code == 404  # not their case
    r = httpx.put(url, json={**wish, "language": "Spanish please"}, headers=mine)
    assert r.status_code == 422 and "language" in r.json()["detail"]
    r = httpx.put(url, json=wish, headers=mine)
    assert (r.status_code, r.json()) == (200, {"id": offer["case_id"], "preferences": wish})
    assert httpx.put(url, json=wish, headers=mine).json() == r.json()  # a PUT again changes nothing
    case = httpx.get(f"{pairing}/cases/{offer['case_id']}", headers=mine).json()
    assert case["preferences"] == wish
    closed = httpx.post(f"{pairing}/cases/{offer['case_id']}/close", json={"reason": "completed"}, headers=mine)
    assert closed.status_code == 200
    assert httpx.put(url, json=wish, headers=mine).status_code == 200  # a late retry of the same set
    assert httpx.put(url, json={**wish, "same_gender_peer": False}, headers=mine).status_code == 409
