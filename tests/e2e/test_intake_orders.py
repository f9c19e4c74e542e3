"""Peer consults the EHR orders, and who pays, on the running intake: FHIR ServiceRequest (alone or in a Bundle),
a Bundle's Coverage, an HL7 order over MLLP, and a crisis from FHIR."""
from __future__ import annotations

import uuid

import httpx
import pytest

from services.intake.domain.hl7 import parse
from tests.e2e.test_intake_mllp import send
from tests.unit.intake.fhir_samples import bundle, coverage, encounter, service_request
from tests.unit.intake.messages import adt, order

pytestmark = pytest.mark.e2e


def ids() -> tuple[str, str]:
    return f"F{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]


def visit(stack, facility: str, visit_number: str) -> dict:
    r = httpx.get(f"{stack.urls['intake']}/visits/{facility}/{visit_number}", headers=stack.headers("supervisor"))
    assert r.status_code == 200, r.text
    return r.json()


def post(stack, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{stack.urls['intake']}/fhir{path}", json=body, headers=stack.headers("ehr"))


def test_a_bundle_with_a_coverage_is_taken_and_the_visit_carries_its_payer(stack, assert_valid_fhir):
    facility, visit_number = ids()
    r = post(stack, "", bundle(facility, visit_number, extra=[coverage()]))
    assert r.status_code == 200, r.text
    assert [e["response"]["status"] for e in r.json()["entry"]] == ["200 OK", "201 Created", "200 OK", "200 OK"]
    assert_valid_fhir(r.json())
    assert visit(stack, facility, visit_number)["payer"] == {"plan_id": "NJMCD", "member_id": "MEM-FHIR-77"}


def test_a_service_request_in_the_bundle_asks_for_a_peer_for_its_encounter(stack):
    facility, visit_number = ids()
    sr = {**service_request(None), "encounter": {"reference": "urn:uuid:enc-1"}}
    r = post(stack, "", bundle(facility, visit_number, condition_code=None, extra=[sr]))
    assert r.status_code == 200, r.text
    seen = visit(stack, facility, visit_number)
    assert seen["peer_indicated"] is True
    assert [(i["kind"], i["rule"]) for i in seen["indications"]] == [("clinician-request",
                                                                      "peer-consult-service-request")]


def test_a_service_request_alone_indicates_a_visit_intake_knows(stack, assert_valid_fhir):
    facility, visit_number = ids()
    assert post(stack, "/Encounter", encounter(facility, visit_number, icd10=("S52.501A",))).status_code == 201
    assert visit(stack, facility, visit_number)["peer_indicated"] is False
    r = post(stack, "/ServiceRequest", service_request(facility, visit_number))
    assert r.status_code == 201 and r.headers["content-type"].startswith("application/fhir+json"), r.text
    assert_valid_fhir(r.json())
    seen = visit(stack, facility, visit_number)
    assert seen["peer_indicated"] is True and seen["indications"][0]["rule"] == "peer-consult-service-request"


@pytest.mark.parametrize("body, path", [
    (service_request("NOSUCHFAC", "V-NONE"), "ServiceRequest.encounter"),
    (service_request(code="LAB123"), "ServiceRequest.code"),
    (service_request(None), "ServiceRequest.encounter.identifier.assigner"),
])
def test_a_service_request_intake_cannot_place_gets_an_operation_outcome(stack, assert_valid_fhir, body, path):
    r = post(stack, "/ServiceRequest", body)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/fhir+json"), r.text
    assert_valid_fhir(r.json())
    assert r.json()["issue"][0]["expression"] == [path]
    assert "MRN-FHIR-991" not in r.text


def test_a_bundle_with_a_resource_intake_does_not_read_is_still_refused(stack, assert_valid_fhir):
    facility, visit_number = ids()
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    r = post(stack, "", bundle(facility, visit_number, extra=[observation]))
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["Bundle.entry[3].resource"]
    assert_valid_fhir(r.json())


def test_suicidal_ideation_in_a_fhir_encounter_marks_a_crisis(stack):
    facility, visit_number = ids()
    assert post(stack, "/Encounter", encounter(facility, visit_number, icd10=("R45.851",))).status_code == 201
    seen = visit(stack, facility, visit_number)
    assert seen["crisis"] is True and seen["crisis_rules"] == ["crisis-suicidal-ideation"]
    assert seen["peer_indicated"] is True


def test_an_hl7_peer_consult_order_over_mllp_indicates_the_visit(stack):
    facility, visit_number = ids()
    send(stack, adt("A04", facility=facility, visit_number=visit_number, diagnoses=("S52.501A",)))
    ack = parse(send(stack, order("OMG", facility=facility, visit_number=visit_number, control_id="OMG-E2E")))
    assert (ack.get("MSA", 1), ack.get("MSA", 2)) == ("AA", "OMG-E2E")
    seen = visit(stack, facility, visit_number)
    assert seen["peer_indicated"] is True and seen["indications"][0]["rule"] == "peer-consult-order"
