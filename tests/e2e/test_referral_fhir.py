"""On the running stack: an ED visit arrives, a peer accepts, and the FHIR Task shows it."""
from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.test_walking_skeleton import add_specialist, poll
from tests.support.when import iso_minutes_ago

pytestmark = pytest.mark.e2e


def test_accepted_peer_shows_as_task_owner_in_the_fhir_api(stack):
    facility = f"R{uuid.uuid4().hex[:6].upper()}"
    visit_number = "V" + uuid.uuid4().hex[:8]
    specialist_id = add_specialist(stack, facility, npi="1234567893")
    visit = {"facility": facility, "visit_number": visit_number, "arrived_at": iso_minutes_ago(20),
             "language": "en", "diagnoses": ["T40.1X1A"],
             "patient_ref": {"system": "urn:test:mrn", "value": "MRN-FHIR-E2E"}}
    r = httpx.post(f"{stack.urls['intake']}/visits", json=visit, headers=stack.headers("ehr"))
    assert r.status_code == 202, r.text

    fhir = f"{stack.urls['referral']}/fhir"
    supervisor = stack.headers("supervisor")
    identifier = f"urn:peerbridge:ed-visit|{facility}:{visit_number}"
    found = poll(lambda: httpx.get(f"{fhir}/ServiceRequest", params={"identifier": identifier},
                                   headers=supervisor).json().get("entry"))
    service_request = found[0]["resource"]
    assert service_request["reasonCode"][0]["coding"][0] == {"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                                              "code": "T40.1X1A"}

    offers = poll(lambda: httpx.get(f"{stack.urls['pairing']}/assignments",
                                    params={"facility": facility, "visit_number": visit_number},
                                    headers=supervisor).json())
    peer = stack.headers("peer", specialist_id)
    assert httpx.post(f"{stack.urls['pairing']}/assignments/{offers[0]['id']}/accept", headers=peer).status_code == 200

    focus = f"ServiceRequest/{service_request['id']}"

    def accepted_task():
        bundle = httpx.get(f"{fhir}/Task", params={"focus": focus}, headers=supervisor).json()
        return bundle["total"] == 1 and bundle["entry"][0]["resource"]["status"] == "accepted" and bundle
    bundle = poll(accepted_task)
    task = bundle["entry"][0]["resource"]
    assert task["owner"] == {"reference": f"PractitionerRole/{specialist_id}"}
    assert task["focus"] == {"reference": focus}

    # the peer reads its own Task too
    mine = httpx.get(f"{fhir}/Task", params={"focus": focus}, headers=peer).json()
    assert [e["resource"]["id"] for e in mine["entry"]] == [task["id"]]
    assert httpx.get(f"{fhir}/metadata").json()["fhirVersion"] == "4.0.1"
    assert "MRN-FHIR-E2E" not in stack.logs()
