"""PID and FHIR Patient to the subscriber billing puts on an 837P (loop 2010BA)."""
from __future__ import annotations

import pytest
from fhir.resources.R4B.patient import Patient

from services.intake.domain.hl7 import parse
from services.intake.domain.subscriber import from_patient, from_pid, subscriber
from tests.unit.intake.messages import SECRET_NAME, adt

pytestmark = pytest.mark.unit

EMPTY_ADDRESS = {"line1": None, "line2": None, "city": None, "state": None, "postal_code": None}


def test_pid_name_birth_date_sex_and_address_become_the_subscriber():
    assert from_pid(parse(adt("A04"))) == {
        "last_name": SECRET_NAME, "first_name": "ALEX", "middle_name": None, "birth_date": "1981-03-14",
        "gender": "male",
        "address": {"line1": "12 Elm St", "line2": None, "city": "Trenton", "state": "NJ", "postal_code": "08608"}}


def pid_message(pid: str) -> bytes:
    message = adt("A04")
    return message.replace(message.split(b"\r")[2], pid.encode())


@pytest.mark.parametrize("sex, gender", [("F", "female"), ("O", "other"), ("A", "other"), ("U", "unknown"),
                                         ("", "unknown"), ("X", "unknown")])
def test_pid_sex_maps_to_the_four_genders(sex, gender):
    assert from_pid(parse(pid_message(f"PID|1||M1||DOE^JANE||19900101|{sex}")))["gender"] == gender


def test_the_legal_name_and_home_address_are_preferred_among_repetitions():
    msg = parse(pid_message("PID|1||M1||NICK^JJ^^^^^N~DOE^JANE^Q^^^^L||197502|F|||PO Box 1^^Camden^NJ^08101^^P"
                            "~5 Oak Ave^Apt 2^Newark^NJ^07102^^H"))
    got = from_pid(msg)
    assert (got["last_name"], got["first_name"], got["middle_name"]) == ("DOE", "JANE", "Q")
    assert got["address"] == {"line1": "5 Oak Ave", "line2": "Apt 2", "city": "Newark", "state": "NJ",
                              "postal_code": "07102"}
    assert got["birth_date"] is None  # year and month only: not a date a claim can carry


def test_a_message_without_pid_has_no_subscriber():
    assert from_pid(parse(b"MSH|^~\\&|A|H|B|P|20261127||ADT^A04|1|P|2.5\rPV1|1|E\r")) is None


def test_fhir_patient_official_name_home_address_birth_date_and_gender():
    patient = Patient.model_validate({
        "resourceType": "Patient", "gender": "female", "birthDate": "1990-06-01",
        "name": [{"use": "nickname", "given": ["Bee"]},
                 {"use": "official", "family": "ZZFHIRNAME", "given": ["Beatrice", "Ann", "Marie"]}],
        "address": [{"use": "work", "line": ["1 Plant Rd"]},
                    {"use": "home", "line": ["9 Main St", "Unit 4"], "city": "Paterson", "state": "NJ",
                     "postalCode": "07501"}]})
    assert from_patient(patient) == {
        "last_name": "ZZFHIRNAME", "first_name": "Beatrice", "middle_name": "Ann Marie", "birth_date": "1990-06-01",
        "gender": "female",
        "address": {"line1": "9 Main St", "line2": "Unit 4", "city": "Paterson", "state": "NJ",
                    "postal_code": "07501"}}


def test_a_fhir_patient_without_details_is_all_null_and_unknown_gender():
    assert from_patient(Patient.model_validate({"resourceType": "Patient"})) == subscriber() == {
        "last_name": None, "first_name": None, "middle_name": None, "birth_date": None, "gender": "unknown",
        "address": EMPTY_ADDRESS}
