"""The 837P writer's files pass pyx12 and our own checks; the checks catch what pyx12 does not."""

import pytest

from services.billing.domain.subscriber import from_intake
from services.billing.validate837 import claim_problems, pyx12_problems, segments, validate_837
from services.billing.x12 import BillingProvider, Interchange, write_837
from tests.support.samples import X12_SAMPLES

from .builders import NOW

pytestmark = pytest.mark.unit
SAMPLES = X12_SAMPLES
PROVIDER = BillingProvider("Harbor Peer Recovery Services", "1234567893", "123456789", "251S00000X",
                           "100 Main Street", "Newark", "NJ", "071021234", "Billing Office", "973-555-0100")


def interchange(number: int = 7) -> Interchange:
    return Interchange(number, "PEERBRIDGE", "CLEARINGHOUSE", "CLEARINGHOUSE", "NJ MEDICAID", "NJMCD", "MC",
                       NOW.replace(hour=12, minute=30))


INTAKE_ANSWER = {"last_name": "Doe-Smith", "first_name": "Jane", "middle_name": "Q", "birth_date": "1985-03-07",
                 "gender": "female", "address": {"line1": "12 Elm Street", "line2": "Apt 4", "city": "Newark",
                                                 "state": "nj", "postal_code": "07102-1234"}}
SUBSCRIBER = from_intake(INTAKE_ANSWER)


def claim(number: str = "PB0000000001", **overrides) -> dict:
    base = {"claim_number": number, "member_id": "M123", "subscriber": SUBSCRIBER, "diagnoses": ["F1120", "T401X1A"],
            "rendering": {"npi": "1987654328", "taxonomy": "175T00000X"},
            "lines": [{"code": "H0038", "modifiers": ["HF"], "units": 3, "service_date": str(NOW.date()),
                       "place_of_service": "23", "charge": "60.00", "diagnosis_pointers": [1, 2]}]}
    return {**base, **overrides}


def seg(text: str, sid: str) -> list[list[str]]:
    return [s for s in segments(text)[0] if s[0] == sid]


def test_an_nj_claim_file_passes_pyx12_and_our_checks():
    text = write_837([claim(), claim("PB0000000002", frequency="7", payer_claim_number="2026331000123"),
                      claim("PB0000000003", frequency="8", payer_claim_number="2026331000123")],
                     PROVIDER, interchange())
    assert validate_837(text) == []
    assert seg(text, "CLM")[0][1:6] == ["PB0000000001", "60", "", "", "23:B:1"]
    assert seg(text, "SV1")[0] == ["SV1", "HC:H0038:HF", "60", "UN", "3", "", "", "1:2"]
    assert seg(text, "HI")[0] == ["HI", "ABK:F1120", "ABF:T401X1A"]
    # REF*F8 quotes the payer's claim control number of the original (277CA REF*1K / 835 CLP07), not ours
    assert [s[2] for s in seg(text, "REF") if s[1] == "F8"] == ["2026331000123", "2026331000123"]
    assert seg(text, "NM1")[-1][1] == "82" and seg(text, "PRV")[-1] == ["PRV", "PE", "PXC", "175T00000X"]
    assert seg(text, "ISA")[0][13] == seg(text, "IEA")[0][2] == "000000007"
    assert seg(text, "GS")[0][6] == seg(text, "GE")[0][2] and seg(text, "ST")[0][2] == seg(text, "SE")[0][2]


def test_loop_2010ba_carries_the_subscribers_name_address_and_birth_date():
    text = write_837([claim()], PROVIDER, interchange())
    assert validate_837(text) == []
    segs = segments(text)[0]
    nm1 = segs.index(["NM1", "IL", "1", "DOE-SMITH", "JANE", "Q", "", "", "MI", "M123"])
    assert segs[nm1 + 1:nm1 + 5] == [["N3", "12 ELM STREET", "APT 4"], ["N4", "NEWARK", "NJ", "071021234"],
                                     ["DMG", "D8", "19850307", "F"], ["NM1", "PR", "2", "NJ MEDICAID", "", "", "",
                                                                      "", "PI", "NJMCD"]]


def test_loop_2310c_names_the_ed_where_the_session_took_place():
    from services.billing.domain.facility import ServiceFacility
    from tests.unit.billing.builders import FACILITY

    text = write_837([claim(facility=ServiceFacility(**FACILITY))], PROVIDER, interchange())
    assert validate_837(text) == []
    segs = segments(text)[0]
    at = segs.index(["NM1", "77", "2", "NEWARK GENERAL EMERGENCY DEPARTMENT", "", "", "", "", "XX", "1245319599"])
    assert segs[at - 2][:2] == ["NM1", "82"] and segs[at - 1][:2] == ["PRV", "PE"]
    assert segs[at + 1:at + 3] == [["N3", "201 LYONS AVENUE"], ["N4", "NEWARK", "NJ", "071122027"]]
    assert segs[at + 3] == ["LX", "1"]


def test_a_subscriber_without_middle_name_second_line_or_known_gender_still_passes():
    bare = from_intake({**INTAKE_ANSWER, "middle_name": None, "gender": "other",
                        "address": {**INTAKE_ANSWER["address"], "line2": None, "postal_code": "07102"}})
    text = write_837([claim(subscriber=bare)], PROVIDER, interchange())
    assert validate_837(text) == []
    assert seg(text, "N3")[-1] == ["N3", "12 ELM STREET"] and seg(text, "DMG") == [["DMG", "D8", "19850307", "U"]]
    assert ["NM1", "IL", "1", "DOE-SMITH", "JANE", "", "", "", "MI", "M123"] in seg(text, "NM1")


def test_delimiters_in_data_cannot_break_the_file():
    text = write_837([claim(member_id="M*1~2:3", subscriber=from_intake(
        {**INTAKE_ANSWER, "last_name": "O*Brien~", "address": {**INTAKE_ANSWER["address"], "line1": "1:2^3"}}))],
        PROVIDER, interchange())
    assert validate_837(text) == []


def edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


GOOD = write_837([claim()], PROVIDER, interchange())


@pytest.mark.parametrize(("broken", "problem"), [
    (edit(GOOD, "CLM*PB0000000001*60*", "CLM*PB0000000001*65*"), "CLM02"),
    (edit(GOOD, "*1:2~", "*1:3~"), "points to no diagnosis"),
    (edit(GOOD, "ABK:F1120", "ABK:F11.20"), "with a dot"),
    (edit(GOOD, "HC:H0038:HF*", "HC:H0038:HF:U1:U2:U3:U4*"), "more than 4 modifiers"),
    (edit(GOOD, "XX*1987654328", "XX*1987654321"), "check digit"),
    (edit(GOOD, "IEA*1*000000007", "IEA*1*000000008"), "IEA02"),
    (edit(GOOD, "GE*1*7", "GE*1*9"), "GE02"),
    (edit(GOOD, "SE*26*0001", "SE*26*0002"), "SE02"),
    (edit(GOOD, "23:B:1", "23:B:7"), "REF*F8"),
])
def test_our_checks_catch_what_pyx12_lets_through(broken, problem):
    assert any(problem in p for p in claim_problems(broken)), claim_problems(broken)


def test_pyx12_rejects_a_structural_error_we_do_not_check():
    broken = edit(GOOD, "*UN*3*", "*XY*3*")
    assert claim_problems(broken) == []
    assert pyx12_problems(broken) == ["pyx12 SV103 Unit or Basis for Measurement Code: error code 7"]
    assert any("DTP03" in p for p in pyx12_problems(edit(GOOD, f"D8*{NOW:%Y%m%d}", f"D8*{NOW:%Y}13{NOW:%d}")))


def test_public_samples_as_regression_cases():
    databricks = (SAMPLES / "databricks-cc-837p.txt").read_text()
    # Valid structure except the payer state "NA"; its billing NPI 9999999999 fails the check digit.
    assert [p for p in pyx12_problems(databricks)] == ["pyx12 N402 Payer State or Province Code: error code 7"]
    assert claim_problems(databricks) == ["segment 10 NM1*85: NPI fails its check digit"]
    structure = (SAMPLES / "imsweb-837-5010-structure.txt").read_text()
    assert "segment 36 SE01: segment count is wrong" in claim_problems(structure)
    assert validate_837(structure) != []
    bad = (SAMPLES / "imsweb-837-bad-segment-identifier.txt").read_text()
    assert any("Nd4" in p for p in pyx12_problems(bad))


def test_not_x12_at_all():
    assert validate_837("hello") != []


@pytest.mark.parametrize("name,expected", [("Maria Alvarez", ("Alvarez", "Maria")),
                                           ("Ana Luz Rivera", ("Rivera", "Ana Luz")),
                                           ("Cher", ("Cher", "")), (None, ("PEER", "")), ("  ", ("PEER", ""))])
def test_rendering_peer_name_is_split_family_name_last(name, expected):
    from services.billing.x12 import rendering_name

    assert rendering_name(name) == expected
