"""Race and ethnicity as CDC Race & Ethnicity codes: HL7 v2 PID-10/PID-22 and US Core Patient extensions."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fhir.resources.R4B.bundle import Bundle

from services.intake.domain.adt import extract
from services.intake.domain.fhir import bundle_parts, conditions_of, encounter_visit
from services.intake.domain.hl7 import parse, parse_many
from services.intake.domain.race import CDCREC, US_CORE_ETHNICITY, US_CORE_RACE, cdc_code, from_pid
from tests.support.samples import HL7_SAMPLES
from tests.unit.intake.fhir_samples import bundle
from tests.unit.intake.messages import adt

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def with_pid(race: str = "", ethnic_group: str = "") -> bytes:
    """The test ADT message with PID-10 and PID-22 filled."""
    raw = adt("A04").replace(b"|M|||12 Elm St", f"|M||{race}|12 Elm St".encode())
    return raw.replace(b"||SPA\r", f"||SPA|||||||{ethnic_group}\r".encode())


def visit_of(raw: bytes):
    return extract(parse(raw), emergency_locations=frozenset({"ED"}), tz=timezone.utc, received_at=NOW).visit


@pytest.mark.parametrize("sample, race, ethnicity", [
    # HL7 tables 0005 and 0189 as the Microsoft FHIR-converter samples send them (0189 still with its letters).
    ("fhir-converter-ADT-A04-01.hl7", ["2106-3", "2028-9"], ["2186-5"]),
    ("fhir-converter-ADT-A08-02.hl7", ["2106-3", "2028-9"], ["2186-5"]),
    # CDCREC as the PHIN and NIST syndromic surveillance guides send it.
    ("phin-syndromic-adt-a04.hl7", ["2106-3"], ["2186-5"]),
    ("nist-syndromic-adt-a03.hl7", ["2106-3"], ["2186-5"]),
    # Local codes ("1", "4") name no code set: left out rather than guessed.
    ("fhir-converter-ADT01-23.hl7", [], []),
    ("batch-fhs-adt-a04.hl7", [], []),
    # A bare CDC code without a coding system is still recognisable by its form.
    ("fhir-converter-ADT04-251.hl7", ["2106-3"], []),
])
def test_the_public_samples_give_their_race_and_ethnicity_as_cdc_codes(sample, race, ethnicity):
    [msg, *_] = parse_many((HL7_SAMPLES / sample).read_bytes())[0]
    pid = msg.first("PID")
    assert (from_pid(msg, pid, 10), from_pid(msg, pid, 22, ethnicity=True)) == (race, ethnicity)


def test_the_visit_carries_race_and_ethnicity_codes_without_their_names():
    v = visit_of(with_pid("2054-5^Black or African American^CDCREC~2106-3^White^CDCREC",
                          "2135-2^Hispanic or Latino^CDCREC"))
    assert (v.race, v.ethnicity) == (["2054-5", "2106-3"], ["2135-2"])
    assert "Black" not in v.model_dump_json() and "Latino" not in v.model_dump_json()


@pytest.mark.parametrize("race, ethnic_group, expected", [
    ("", "", (None, None)),
    # A local code first, the CDC code as the alternate (CWE-4..6): the alternate is taken.
    ("W^White^L^2106-3^White^CDCREC", "H^Hispanic^HL70189", (["2106-3"], ["2135-2"])),
    ("2106-3^White^2.16.840.1.113883.6.238~2106-3^White^HL70005", "N", (["2106-3"], ["2186-5"])),
    # Unknown, asked but declined, and other code systems say nothing matching could use.
    ("UNK^Unknown^NULLFL~ASKU^Asked but unknown^NULLFL", "U^Unknown^HL70189", (None, None)),
    ("2106-3^White^LOCAL", "2135-2^Hispanic^99ETH", (None, None)),
])
def test_pid_10_and_22_read_the_cdc_code_set_and_nothing_else(race, ethnic_group, expected):
    v = visit_of(with_pid(race, ethnic_group))
    assert (v.race, v.ethnicity) == expected


def test_race_letters_of_table_0189_do_not_pass_for_races():
    assert cdc_code("H", "HL70189", ethnicity=True) == "2135-2" and cdc_code("H", "HL70189") is None


def us_core(url: str, *codings: tuple[str, str, str]) -> dict:
    parts = [{"url": part, "valueCoding": {"system": system, "code": code}} for part, system, code in codings]
    return {"url": url, "extension": [*parts, {"url": "text", "valueString": "ZZFREETEXT"}]}


def visit_from_bundle(extensions: list[dict]):
    doc = bundle("GENHOSP", "V2")
    doc["entry"][0]["resource"]["extension"] = extensions
    encounters, patients, conditions = bundle_parts(Bundle.model_validate(doc))
    return encounter_visit(encounters[0], patients["urn:uuid:pat-1"],
                           conditions_of(encounters[0], "urn:uuid:enc-1", conditions)).visit


def test_a_us_core_patient_gives_its_omb_categories_and_detailed_codes():
    v = visit_from_bundle([
        us_core(US_CORE_RACE, ("ombCategory", CDCREC, "2054-5"), ("ombCategory", CDCREC, "2106-3"),
                ("detailed", CDCREC, "2058-6")),
        us_core(US_CORE_ETHNICITY, ("ombCategory", CDCREC, "2135-2"), ("detailed", CDCREC, "2184-0"))])
    assert (v.race, v.ethnicity) == (["2054-5", "2106-3", "2058-6"], ["2135-2", "2184-0"])
    assert "ZZFREETEXT" not in v.model_dump_json()


def test_a_us_core_patient_that_declined_to_say_has_no_race():
    nullflavor = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
    v = visit_from_bundle([us_core(US_CORE_RACE, ("ombCategory", nullflavor, "ASKU")),
                           {"url": "http://example.org/other", "valueString": "x"}])
    assert (v.race, v.ethnicity) == (None, None)
    assert (visit_from_bundle([]).race, visit_from_bundle([]).ethnicity) == (None, None)
