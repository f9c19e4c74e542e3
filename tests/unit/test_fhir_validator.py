"""The tests' FHIR validator (HL7's engine, R4 core definitions) refuses what FHIR forbids and passes the rest."""
import pytest

pytestmark = pytest.mark.unit


def test_an_invalid_resource_fails_with_the_validators_messages(assert_valid_fhir):
    with pytest.raises(AssertionError) as failed:
        assert_valid_fhir({"resourceType": "Patient", "gender": "x", "name": []})
    assert "Patient.gender" in str(failed.value) and "administrative-gender" in str(failed.value)


def test_an_invariant_is_checked(assert_valid_fhir):
    with pytest.raises(AssertionError) as failed:
        assert_valid_fhir({"resourceType": "CapabilityStatement", "status": "active", "kind": "instance",
                           "date": "2026", "fhirVersion": "4.0.1", "format": ["json"]})
    assert "cpb-14" in str(failed.value)


def test_codes_of_systems_it_does_not_hold_are_warnings_not_errors(assert_valid_fhir, capsys):
    assert_valid_fhir({"resourceType": "Basic", "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                                                     "code": "T40.1X1A"}]}})
    assert "icd-10-cm" in capsys.readouterr().out
