"""FHIR R4 Encounter and Bundle to the visit intake keeps."""
from __future__ import annotations

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.encounter import Encounter

from services.intake.domain.fhir import FhirInputError, bundle_parts, conditions_of, encounter_visit
from tests.unit.intake.fhir_samples import bundle, encounter

pytestmark = pytest.mark.unit


def test_an_emergency_encounter_becomes_a_visit():
    fv = encounter_visit(Encounter.model_validate(encounter(text="overdose")))
    assert (fv.visit.facility, fv.visit.visit_number, fv.visit.diagnoses) == ("GENHOSP", "V1", ["T402X1A"])
    assert fv.status == "open" and fv.complaints == ["overdose"]


def test_a_bundle_brings_the_patient_and_conditions_without_the_name():
    b = Bundle.model_validate(bundle("GENHOSP", "V2"))
    encounters, patients, conditions = bundle_parts(b)
    fv = encounter_visit(encounters[0], patients["urn:uuid:pat-1"], conditions_of(encounters[0], "urn:uuid:enc-1",
                                                                                  conditions))
    v = fv.visit
    assert (v.gender, v.age_years, v.language, v.diagnoses) == ("female", 36, "es", ["F1120"])
    assert v.patient_ref.model_dump() == {"system": "urn:oid:2.16.840.1.113883.3.999", "value": "MRN-FHIR-991"}
    assert "ZZFHIRNAME" not in str(v) and "1990" not in str(v)


# Encounter periods are parsed and compared with each other, never with now: the dates are arbitrary and fixed.
@pytest.mark.parametrize("change, path", [
    ({"class": {"code": "AMB"}}, "Encounter.class"),
    ({"identifier": []}, "Encounter.identifier"),
    ({"serviceProvider": None}, "Encounter.serviceProvider.identifier"),
    ({"period": None}, "Encounter.period.start"),
    ({"period": {"start": "2001"}}, "Encounter.period.start"),
    ({"period": {"start": "2001-12"}}, "Encounter.period.start"),
    ({"period": {"start": "2001-11-27T09:30:00Z", "end": "2001-11"}}, "Encounter.period.end"),
    ({"period": {"start": "2001-11-27T09:30:00Z", "end": "2001-11-27T09:29:59Z"}}, "Encounter.period.end"),
    ({"period": {"start": "2001-11-28", "end": "2001-11-27"}}, "Encounter.period.end"),
])
def test_an_encounter_that_cannot_be_a_visit_names_the_element(change, path):
    doc = {k: v for k, v in {**encounter(), **change}.items() if v is not None}
    with pytest.raises(FhirInputError) as info:
        encounter_visit(Encounter.model_validate(doc))
    assert info.value.path == path


def test_only_transaction_and_batch_bundles_are_taken():
    with pytest.raises(FhirInputError) as info:
        bundle_parts(Bundle.model_validate(bundle("F", "V", kind="collection")))
    assert info.value.path == "Bundle.type"


@pytest.mark.parametrize("period, arrived, ended", [
    ({"start": "2001-11-27"}, "2001-11-27T00:00:00+00:00", None),
    ({"start": "2001-11-27T09:30:00+01:00", "end": "2001-11-27T08:30:00Z"},
     "2001-11-27T08:30:00+00:00", "2001-11-27T08:30:00+00:00"),
    ({"start": "2001-11-27T09:30:00Z", "end": "2001-11-27"}, "2001-11-27T09:30:00+00:00", "2001-11-27T00:00:00+00:00"),
])
def test_a_period_to_the_day_or_finer_gives_the_arrival_and_the_end(period, arrived, ended):
    fv = encounter_visit(Encounter.model_validate({**encounter(status="finished"), "period": period}))
    assert (fv.visit.arrived_at.isoformat(), fv.ended_at and fv.ended_at.isoformat()) == (arrived, ended)
