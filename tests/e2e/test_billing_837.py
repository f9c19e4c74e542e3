"""A 50-minute in-person ED peer encounter becomes an approved NJ-MEDICAID claim in an 837P pyx12 accepts."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import asyncpg
import httpx
import pytest

from services.billing.validate837 import segments, validate_837
from tests.e2e.test_walking_skeleton import add_specialist, poll

pytestmark = pytest.mark.e2e


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def recorded_encounters(stack, assignment_id: str) -> tuple[int, int]:
    """Pairing's encounters of the assignment, and the PeerEncounterCompleted events it wrote for them."""
    async def count():
        conn = await asyncpg.connect(stack.env["DATABASE_URL"])
        try:
            return (await conn.fetchval("SELECT count(*) FROM pairing.encounters WHERE assignment_id = $1::uuid",
                                        assignment_id),
                    await conn.fetchval("SELECT count(*) FROM pairing.outbox_events WHERE envelope->>'type' LIKE"
                                        " '%.PeerEncounterCompleted' AND envelope->'data'->>'assignment_id' = $1",
                                        assignment_id))
        finally:
            await conn.close()
    return asyncio.run(count())


def test_ed_encounter_to_approved_nj_claim_in_a_valid_837p(stack, assert_valid_fhir):
    facility, visit_number = f"F{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    specialist_id = add_specialist(stack, facility)
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=2)
    visit = {"facility": facility, "visit_number": visit_number, "arrived_at": iso(start - timedelta(minutes=30)),
             "gender": "female", "age_years": 41, "diagnoses": ["F11.20"],
             "payer": {"plan_id": "NJMCD", "member_id": "NJ123456"},
             "patient_name": {"family": "Rivera", "given": "Ana", "middle": "Luz"}, "birth_date": "1985-03-07",
             "address": {"line1": "12 Elm Street", "line2": "Apt 4", "city": "Newark", "state": "NJ",
                         "postal_code": "07102"}}
    assert httpx.post(f"{stack.urls['intake']}/visits", json=visit, headers=stack.headers("ehr")).status_code == 202
    query = {"facility": facility, "visit_number": visit_number}
    offers = poll(lambda: httpx.get(f"{stack.urls['pairing']}/assignments", params=query,
                                    headers=stack.headers("supervisor")).json())
    peer = stack.headers("peer", specialist_id)
    assert httpx.post(f"{stack.urls['pairing']}/assignments/{offers[0]['id']}/accept", headers=peer).status_code == 200
    encounter = {"assignment_id": offers[0]["id"], "started_at": iso(start),
                 "ended_at": iso(start + timedelta(minutes=50)),
                 "modality": "in-person", "kind": "individual"}
    assert httpx.post(f"{stack.urls['pairing']}/encounters", json=encounter, headers=peer).status_code == 201
    # the answer was lost and the phone sends the same encounter again: the same encounter, nothing recorded twice
    again = httpx.post(f"{stack.urls['pairing']}/encounters", json=encounter, headers=peer)
    assert again.status_code == 200
    assert recorded_encounters(stack, offers[0]["id"]) == (1, 1)

    billing, headers = stack.urls["billing"], stack.headers("billing")
    [claim] = poll(lambda: [c for c in httpx.get(f"{billing}/claims", params=query, headers=headers).json()
                            if c["status"] == "prepared"])
    assert (claim["payer"], claim["plan_id"]) == ("NJ-MEDICAID", "NJMCD")
    detail = httpx.get(f"{billing}/claims/{claim['id']}", headers=headers).json()
    [line] = detail["lines"]
    assert (line["code"], line["modifiers"], line["units"], line["place_of_service"]) == ("H0038", ["HF"], 3, "23")
    assert detail["hold_reasons"] == [] and detail["diagnoses"] == ["F1120"]
    assert httpx.post(f"{billing}/claims/{claim['id']}/approve", headers=headers).json()["status"] == "approved"

    ed = {"code": facility, "name": "Newark General Emergency Department", "npi": "1245319599",
          "address": "201 Lyons Avenue", "city": "Newark", "state": "NJ", "zip": "071122027"}
    assert httpx.post(f"{billing}/facilities", json=ed, headers=headers).status_code == 200
    r = httpx.post(f"{billing}/batches", json={"payer": "NJ-MEDICAID"}, headers=headers)
    assert r.status_code == 201, r.text
    r = httpx.get(f"{billing}/batches/{r.json()['id']}/837", headers=headers)
    assert r.status_code == 200
    text = r.text
    assert validate_837(text) == []  # pyx12 accepts it, and our own checks pass
    segs = segments(text)[0]
    [clm] = [s for s in segs if s[0] == "CLM" and s[1] == claim["claim_number"]]
    sv1 = next(s for s in segs[segs.index(clm):] if s[0] == "SV1")
    assert clm[5] == "23:B:1" and sv1[:5] == ["SV1", "HC:H0038:HF", clm[2], "UN", "3"]
    # loop 2010BA carries the subscriber's name, address and birth date, fetched from intake at export
    assert "~NM1*IL*1*RIVERA*ANA*LUZ***MI*NJ123456~N3*12 ELM STREET*APT 4~N4*NEWARK*NJ*07102~DMG*D8*19850307*F~" \
        in text
    # loop 2310B names the rendering peer as on the roster ("Test Peer": family name last)
    rendering = segs[segs.index(clm) + 2]
    assert rendering[:5] == ["NM1", "82", "1", "PEER", "TEST"]

    fhir = httpx.get(f"{billing}/claims/{claim['id']}/fhir", headers=headers)
    assert fhir.status_code == 200 and fhir.json()["item"][0]["quantity"]["value"] == 3
    assert_valid_fhir(fhir.json())
    assert httpx.get(f"{billing}/claims/{claim['id']}", headers=stack.headers("supervisor")).status_code == 403
    assert httpx.post(f"{billing}/batches", json={"payer": "NJ-MEDICAID"},
                      headers=stack.headers("peer", specialist_id)).status_code == 403
    assert httpx.post(f"{billing}/batches", json={"payer": "NJ-MEDICAID"}, headers=headers).status_code == 409
    # loop 2310C: the ED where the session took place
    assert "~NM1*77*2*NEWARK GENERAL EMERGENCY DEPARTMENT*****XX*1245319599~N3*201 LYONS AVENUE~" in text
    # a void must quote the payer's claim control number, which no 277CA or 835 has brought yet
    void = httpx.post(f"{billing}/claims/{claim['id']}/void", headers=headers)
    assert void.status_code == 409 and "claim control number" in void.json()["detail"]
    assert_valid_fhir(httpx.get(f"{billing}/claims/{claim['id']}/fhir", headers=headers).json())
    logs = stack.logs()
    assert "NJ123456" not in logs and "RIVERA" not in logs.upper() and "1985-03-07" not in logs


def test_billing_api_refuses_bad_input_with_problem_details(stack, assert_valid_fhir):
    billing, headers = stack.urls["billing"], stack.headers("billing")
    r = httpx.post(f"{billing}/batches", json={"payer": "NOPE"}, headers=headers)
    assert r.status_code == 422 and "payer" in r.json()["detail"]
    assert httpx.get(f"{billing}/claims/not-a-uuid", headers=headers).status_code == 404
    r = httpx.post(f"{billing}/claims/{uuid.uuid4()}/hold", json={}, headers=headers)
    assert r.status_code == 422 and "reason" in r.json()["detail"]
    assert httpx.get(f"{billing}/claims", params={"status": "bogus"}, headers=headers).status_code == 422
    r = httpx.get(f"{billing}/claims/{uuid.uuid4()}/fhir", headers=headers)
    assert r.status_code == 404 and r.json()["resourceType"] == "OperationOutcome"
    assert_valid_fhir(r.json())
