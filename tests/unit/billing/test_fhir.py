"""The FHIR R4 Claim for a prepared NJ claim."""

import pytest

from services.billing.domain.claims import Usage, prepare, resolve
from services.billing.domain.fhir import build_claim

from .builders import NOW, build_encounter, build_visit

pytestmark = pytest.mark.unit


def fhir(book, created=NOW, **row):
    """The FHIR Claim of a stored NJ group-session claim (row fields overridden by `row`)."""
    visit, encounter = build_visit(), build_encounter(kind="group")
    rs, _ = resolve(book, visit, encounter)
    doc = prepare(rs, visit, encounter, Usage(), NOW).document()
    stored = {"id": "7d4c5a0e-3f7b-4a53-9b7a-0f6d1e2c3b4a", "claim_number": "PB0000000001", "status": "approved",
              "document": doc, "encounter": encounter.to_data(), **row}
    return build_claim(stored, encounter, "1234567893", "Harbor", created)


def test_professional_claim_with_hcpcs_modifiers_quantity_period_place_diagnoses_and_peer(book):
    claim = fhir(book, NOW.replace(hour=0))
    body = claim.model_dump(mode="json", exclude_none=True)
    assert body["resourceType"] == "Claim" and body["type"]["coding"][0]["code"] == "professional"
    [item] = body["item"]
    assert item["productOrService"]["coding"][0]["code"] == "H0038"
    assert [m["coding"][0]["code"] for m in item["modifier"]] == ["HF", "HQ"]
    assert item["quantity"]["value"] == 3
    assert item["servicedPeriod"]["start"].startswith(f"{NOW.date()}T10:20:00")
    assert item["locationCodeableConcept"]["coding"][0]["code"] == "23"
    assert [d["diagnosisCodeableConcept"]["coding"][0]["code"] for d in body["diagnosis"]] == ["F11.20", "T40.1X1A"]
    assert body["careTeam"][0]["provider"]["identifier"]["value"] == "1987654328"
    assert body["careTeam"][0]["qualification"]["coding"][0]["code"] == "175T00000X"
    assert body["total"]["value"] == 60.0


def test_a_replacement_names_the_claim_it_replaces(book):
    claim = fhir(book, original_claim_number="PB0000000000")
    assert claim.related[0].claim.identifier.value == "PB0000000000"


@pytest.mark.parametrize("row", [{}, {"original_claim_number": "PB0000000000"}, {"status": "voided"}])
def test_claims_pass_hl7s_validator_with_only_the_first_diagnosis_typed_principal(book, assert_valid_fhir, row):
    body = fhir(book, **row).model_dump(mode="json", exclude_none=True)
    assert_valid_fhir(body)
    types = [d.get("type") for d in body["diagnosis"]]
    assert types[0] == [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/ex-diagnosistype",
                                     "code": "principal"}]}]
    assert types[1:] == [None] * (len(types) - 1) and len(types) >= 2
