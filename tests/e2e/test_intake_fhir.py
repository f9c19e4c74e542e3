"""FHIR R4 intake on the running service: Encounter and Bundle in, the same visit and events, OperationOutcomes."""
from __future__ import annotations

import uuid

import httpx
import pytest

from tests.unit.intake.fhir_samples import bundle, encounter

pytestmark = pytest.mark.e2e


def ids() -> tuple[str, str]:
    return f"F{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]


def test_an_emergency_encounter_registers_an_indicated_visit(stack, assert_valid_fhir):
    facility, visit_number = ids()
    r = httpx.post(f"{stack.urls['intake']}/fhir/Encounter", json=encounter(facility, visit_number),
                   headers=stack.headers("ehr"))
    assert r.status_code == 201 and r.json()["resourceType"] == "OperationOutcome", r.text
    assert_valid_fhir(r.json())
    visit = httpx.get(f"{stack.urls['intake']}/visits/{facility}/{visit_number}", headers=stack.headers("admin")).json()
    assert visit["peer_indicated"] is True and visit["diagnoses"] == ["T402X1A"]


def test_a_transaction_bundle_registers_the_visit_with_its_conditions(stack, assert_valid_fhir):
    facility, visit_number = ids()
    r = httpx.post(f"{stack.urls['intake']}/fhir", json=bundle(facility, visit_number), headers=stack.headers("ehr"))
    assert r.status_code == 200, r.text
    assert r.json()["type"] == "transaction-response" and len(r.json()["entry"]) == 3
    assert_valid_fhir(r.json())
    visit = httpx.get(f"{stack.urls['intake']}/visits/{facility}/{visit_number}", headers=stack.headers("admin")).json()
    assert visit["peer_indicated"] is True and visit["indications"][0]["code"] == "F1120"
    assert "ZZFHIRNAME" not in stack.logs() and "MRN-FHIR-991" not in stack.logs()


@pytest.mark.parametrize("body, path, status", [
    (encounter(klass="AMB"), "Encounter.class", 422),
    ({**encounter(), "period": {"start": "not-a-date"}}, "Encounter.period.start", 422),
    ({"resourceType": "Patient"}, "Encounter.resourceType", 400),
    ({**encounter(), "serviceType": {"text": "over\x00dose"}}, "Encounter", 422),
    ({**encounter(), "period": {"start": "2026"}}, "Encounter.period.start", 422),
    ({**encounter(), "period": {"start": "2026-12"}}, "Encounter.period.start", 422),
    ({**encounter(), "period": {"start": "2026-11-27T09:30:00Z", "end": "2026-11-27T08:30:00Z"}},
     "Encounter.period.end", 422),
])
def test_bad_encounters_get_an_operation_outcome_naming_the_element(stack, assert_valid_fhir, body, path, status):
    r = httpx.post(f"{stack.urls['intake']}/fhir/Encounter", json=body, headers=stack.headers("ehr"))
    assert r.status_code == status and r.headers["content-type"].startswith("application/fhir+json")
    assert_valid_fhir(r.json())
    issue = r.json()["issue"][0]
    assert issue["severity"] == "error" and issue["expression"] == [path]
    assert "not-a-date" not in r.text


def test_fhir_intake_needs_the_ehr_role(stack, assert_valid_fhir):
    url = f"{stack.urls['intake']}/fhir/Encounter"
    unauthenticated = httpx.post(url, json=encounter())
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["resourceType"] == "OperationOutcome"
    forbidden = httpx.post(url, json=encounter(), headers=stack.headers("peer"))
    assert forbidden.status_code == 403 and forbidden.json()["issue"][0]["code"] == "forbidden"
    assert_valid_fhir(unauthenticated.json())
    assert_valid_fhir(forbidden.json())


def test_the_capability_statement_passes_hl7s_validator(stack, assert_valid_fhir):
    metadata = httpx.get(f"{stack.urls['intake']}/fhir/metadata").json()
    assert metadata["resourceType"] == "CapabilityStatement" and metadata["kind"] == "instance"
    assert metadata["implementation"]["url"] == f"{stack.urls['intake']}/fhir"
    assert_valid_fhir(metadata)
