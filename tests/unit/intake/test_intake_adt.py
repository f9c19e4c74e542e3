"""What intake reads from an ADT message, and the ACK it answers with."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from services.intake.domain import ack as acks
from services.intake.domain.adt import VisitError, age_in_years, extract, header, is_emergency, parse_ts
from services.intake.domain.hl7 import parse
from services.intake.domain.language import to_bcp47
from tests.unit.intake.messages import ARRIVED_TEXT, SECRET_BIRTH, SECRET_NAME, SENT_TEXT, adt
from tests.support.samples import HL7_SAMPLES

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
ED = frozenset({"ED"})
SAMPLES = HL7_SAMPLES


def visit_of(raw: bytes, locations=ED, tz=timezone.utc):
    return extract(parse(raw), emergency_locations=locations, tz=tz, received_at=NOW)


def test_the_visit_carries_the_minimum_and_no_name_or_birth_date():
    got = visit_of(adt("A04", diagnoses=("T40.1X1A", "F17.210", "71596"), complaint="narcan given",
                       arrived=datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)))
    v = got.visit
    assert (v.facility, v.visit_number, v.location, v.bed) == ("GENHOSP", "V1001", "ED", "B3")
    assert (v.language, v.gender, v.age_years) == ("es", "male", 45)
    assert v.arrived_at.isoformat() == "2026-11-27T09:30:00+00:00"
    assert v.diagnoses == ["T401X1A", "F17210"]
    assert v.payer.model_dump() == {"plan_id": "NJMCD", "member_id": "MEM123"}
    assert v.patient_ref.model_dump() == {"system": "urn:oid:2.16.840.1.113883.3.999", "value": "MRN-ZZ-4471"}
    assert [c.strip() for c in got.complaints] == ["narcan given"]
    assert SECRET_NAME not in str(v) and SECRET_BIRTH not in str(v)


@pytest.mark.parametrize("raw, expected", [
    (adt("A04", patient_class="E", location="3WEST"), True),
    (adt("A04", patient_class="I", location="ED"), True),
    (adt("A04", patient_class="I", location="3WEST"), False),
    (adt("A04", patient_class="I", location="3WEST", extra=("OBX|9|CWE|SS003^Facility type^PHINQUESTION||261QE0002X",)),
     True),
])
def test_an_ed_visit_is_known_by_class_location_or_facility_type(raw, expected):
    assert is_emergency(parse(raw), ED) is expected


def test_the_syndromic_sample_is_ed_only_by_its_facility_type():
    msg = parse((SAMPLES / "nist-syndromic-adt-a03.hl7").read_bytes())
    assert msg.get("PV1", 2) == "" and is_emergency(msg, frozenset())


def test_timestamps_without_offset_use_the_feed_time_zone():
    assert parse_ts("202611271000", ZoneInfo("America/New_York")).isoformat() == "2026-11-27T10:00:00-05:00"
    assert parse_ts("20261127100000.123+0100", timezone.utc).utcoffset().total_seconds() == 3600
    assert parse_ts("", timezone.utc) is None


@pytest.mark.parametrize("value", ["2026131", "garbage", "19800101+2400", "19800101-2400", "19800101+0160",
                                   "\u0661\u0669\u0668\u0660\u0660\u0661\u0660\u0661"])
def test_a_value_that_is_not_a_timestamp_is_refused(value):
    with pytest.raises(ValueError):
        parse_ts(value, timezone.utc)


@pytest.mark.parametrize("old, new, location", [
    (b"|19810314|", b"|19800101+2400|", "PID^1^7"),
    (b"EVN|A04|" + SENT_TEXT, b"EVN|A04|" + SENT_TEXT + b"+2400", "EVN^1^2"),
    (b"|" + SENT_TEXT + b"||ADT", b"|" + SENT_TEXT + b"-2400||ADT", "MSH^1^7"),
    (ARRIVED_TEXT, ARRIVED_TEXT + b"+2500", "PV1^1^44"),
    (b"|19810314|", "|\u0661\u0669\u0668\u0660\u0660\u0661\u0660\u0661|".encode(), "PID^1^7"),
])
def test_an_invalid_timestamp_is_a_visit_error_naming_its_field(old, new, location):
    with pytest.raises(VisitError) as caught:
        visit_of(adt("A04").replace(old, new))
    assert (caught.value.code, caught.value.location) == ("102", location)


@pytest.mark.parametrize("value", ["\u00b93", "\u0663", "twelve", "3 years"])
def test_a_reported_age_that_is_not_a_number_is_a_visit_error_naming_the_obx(value):
    raw = adt("A04", extra=("OBX|1|CWE|SS003^Facility type^PHINQUESTION||261QE0002X",
                            f"OBX|2|NM|21612-7^Age reported^LN||{value}|a^year^UCUM")).replace(b"|19810314|", b"||")
    with pytest.raises(VisitError) as caught:
        visit_of(raw)
    assert (caught.value.code, caught.value.location) == ("102", "OBX^2^5")


def test_a_reported_age_in_years_is_used_without_a_birth_date():
    raw = adt("A04", extra=("OBX|1|NM|21612-7^Age reported^LN||37|a^year^UCUM",)).replace(b"|19810314|", b"||")
    assert visit_of(raw).visit.age_years == 37


def test_age_is_in_whole_years_at_arrival():
    assert age_in_years(date(1981, 11, 28), date(2026, 11, 27)) == 44
    assert age_in_years(date(1981, 11, 27), date(2026, 11, 27)) == 45
    assert age_in_years(date(2030, 1, 1), date(2026, 11, 27)) is None


@pytest.mark.parametrize("value, tag", [("SPA", "es"), ("spa", "es"), ("Spanish", "es"), ("en", "en"),
                                        ("ENG", "en"), ("fre", "fr"), ("Vietnamese", "vi"), ("", None),
                                        ("xx", None), ("12", None)])
def test_languages_become_bcp47(value, tag):
    assert to_bcp47(value) == tag


def test_the_ack_addresses_the_sender_and_echoes_the_control_id():
    hdr = header(parse(adt("A04", control_id="CTRL-77")))
    reply = parse(acks.build_ack(hdr, acks.ACCEPTED, control_id="ACK1", now=NOW).encode())
    assert [reply.get("MSH", n) for n in (3, 4, 5, 6, 9, 10)] == ["PEERBRIDGE", "PEERBRIDGE", "EPICADT", "GENHOSP",
                                                                   "ACK", "ACK1"]
    assert reply.get("MSH", 9, 2) == "A04" and reply.get("MSA", 1) == "AA" and reply.get("MSA", 2) == "CTRL-77"
    assert reply.first("ERR") is None


def test_an_error_ack_names_the_code_location_and_reason_for_every_version():
    hdr = header(parse(adt("A04", version="2.3")))
    outcome = acks.failed("101", "PV1^1^19", "an ED visit needs its visit number (PV1-19)")
    reply = parse(acks.build_ack(hdr, outcome, control_id="A", now=NOW).encode())
    err = reply.first("ERR")
    assert reply.get("MSA", 1) == "AE" and reply.get("MSH", 9) == "ACK"
    assert [reply.value(err, 1, n) for n in (1, 2, 3)] == ["PV1", "1", "19"] and reply.value(err, 1, 4) == "101"
    assert reply.value(err, 2) == "PV1" and reply.value(err, 3) == "101" and reply.value(err, 4) == "E"
    assert reply.value(err, 8) == "an ED visit needs its visit number (PV1-19)"


@pytest.mark.parametrize("modes, code, wanted, sent", [
    (("", ""), "AE", True, "AE"), (("AL", "NE"), "AA", True, "CA"), (("NE", "AL"), "AA", False, "CA"),
    (("ER", ""), "AA", False, "CA"), (("ER", ""), "AR", True, "CR"), (("SU", ""), "AE", False, "CE"),
])
def test_enhanced_mode_follows_msh_15(modes, code, wanted, sent):
    hdr = header(parse(adt("A04", ack_modes=modes)))
    assert acks.wants_ack(hdr, code) is wanted and acks.ack_code(hdr, code) == sent
