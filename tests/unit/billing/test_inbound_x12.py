"""Reading what comes back: 999, 277CA and 835 as their guides define them, and a corpus of files refused with the
segment and the reason."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.billing.domain.ack277 import parse_277ca
from services.billing.domain.ack999 import parse_999
from services.billing.domain.codes import explain
from services.billing.domain.fhir_response import build_claim_response
from services.billing.domain.remit835 import parse_835
from services.billing.domain.x12read import RefusedFile, read
from services.billing.inbound import parse
from services.billing.validate837 import pyx12_problems
from tests.support.samples import X12_SAMPLES
from tests.support.x12_replies import Ack, Paid, write_277ca, write_835, write_999

from .builders import NOW

pytestmark = pytest.mark.unit

PAID = Paid("PB0000000001", "60", "45", "2026331000123", adjustments=[("CO", "45", "15")])
DENIED = Paid("PB0000000002", "60", "0", "2026331000124", status="4", adjustments=[("CO", "16", "60")],
              remarks=["M76", "MA130"])
REMIT = write_835([PAID, DENIED], provider_adjustments=[("WO", "5")])
ACKS = write_277ca([Ack("PB0000000001", "60", True, "2026331000123"), Ack("PB0000000002", "60", False, None, "21")])


def test_the_files_the_tests_write_follow_their_guides_as_pyx12_reads_them():
    for text in (write_999("7"), write_999("7", code="R", errors=[("CLM", 22, "8")]), ACKS, REMIT):
        assert pyx12_problems(text) == []


def test_a_999_answers_our_group_control_number_per_transaction_set():
    [ack] = parse_999(read(write_999("7", code="R", errors=[("CLM", 22, "8")]).encode()))
    assert (ack.group_control_number, ack.status, ack.received, ack.accepted) == ("7", "rejected", 1, 0)
    assert ack.sets[0].code == "R" and ack.sets[0].errors == [{"segment_id": "CLM", "position": "22", "loop": "",
                                                               "code": "8"}]
    assert parse_999(read(write_999("7").encode()))[0].status == "accepted"


def test_a_277ca_accepts_or_rejects_each_claim_and_gives_the_payers_number():
    first, second = parse_277ca(read(ACKS.encode()))
    assert (first.claim_number, first.accepted, first.payer_claim_number) == ("PB0000000001", True, "2026331000123")
    assert (second.accepted, second.statuses[0]["category"], second.statuses[0]["code"]) == (False, "A7", "21")


def test_an_835_posts_paid_and_denied_claims_with_cas_rarc_and_lines_and_balances_to_bpr02():
    [remit] = parse_835(read(REMIT.encode()))
    assert (remit.payment_amount, remit.claims_paid, remit.plb_total, remit.method) == (40, 45, 5, "CHK")
    paid, denied = remit.claims
    assert (paid.outcome, paid.paid, paid.payer_claim_number) == ("paid", 45, "2026331000123")
    assert paid.lines[0]["adjustments"] == [{"group": "CO", "reason": "45", "amount": "15", "quantity": None}]
    assert denied.outcome == "denied" and denied.lines[0]["remarks"] == ["M76", "MA130"]
    words = explain(denied.detail())
    assert words[0].startswith("CO-16: the claim lacks information") and "contractual obligation" in words[0]
    assert words[1].startswith("M76: missing, incomplete or invalid diagnosis")
    assert explain({"adjustments": [{"group": "OA", "reason": "999"}], "remarks": [], "lines": []}) == [
        "OA-999: 999: not in our table (other adjustment)"]


def test_a_reversal_is_its_own_outcome():
    text = write_835([Paid("PB0000000003", "-60", "-45", "2026331000123", status="22",
                           adjustments=[("CO", "45", "-15")], frequency="8")])
    assert parse_835(read(text.encode()))[0].claims[0].outcome == "reversed"


@pytest.mark.parametrize("row", [PAID, DENIED])
def test_each_835_claim_becomes_a_claim_response_hl7s_validator_accepts(row, assert_valid_fhir):
    [remit] = parse_835(read(write_835([row]).encode()))
    claim = {"id": "7d4c5a0e-3f7b-4a53-9b7a-0f6d1e2c3b4a", "claim_number": row.claim_number,
             "document": {"payer": "NJ-MEDICAID", "member_id": "M123"}}
    payment = {"date": str((NOW + timedelta(days=18)).date()), "trace_number": "EFT0001"}
    body = build_claim_response(claim, {**remit.claims[0].detail(), "payer_name": "NJ MEDICAID"}, NOW,
                                payment).model_dump(mode="json", exclude_none=True)
    assert_valid_fhir(body)
    assert body["request"]["identifier"]["value"] == row.claim_number
    benefit = [t for t in body["total"] if t["category"]["coding"][0]["code"] == "benefit"]
    assert benefit[0]["amount"]["value"] == float(row.paid)
    assert body["disposition"] == remit.claims[0].outcome


def _edit(text: str, old: str, new: str) -> bytes:
    assert old in text, old
    return text.replace(old, new, 1).encode()


# The bad-input corpus of inbound files: each is refused, naming the segment and the reason.
BAD = [
    ("not X12", b"hello, world", "ISA", "does not start with a complete ISA"),
    ("binary", b"\xff\xfe\x00ISA", "", "not UTF-8"),
    ("truncated ISA", REMIT[:80].encode(), "ISA", "complete ISA"),
    ("an 837 is not inbound", (X12_SAMPLES / "databricks-cc-837p.txt").read_bytes(), "GS", "GS08"),
    ("broken 837 sample", (X12_SAMPLES / "imsweb-837-bad-segment-identifier.txt").read_bytes(), "", ""),
    ("segment id lower case", _edit(REMIT, "~\nLX*1", "~\nlx*1"), "lx", "not a segment identifier"),
    ("IEA does not match ISA", _edit(REMIT, "IEA*1*000000701", "IEA*1*000000702"), "IEA", "IEA02"),
    ("SE count off", _edit(REMIT, "SE*28*0001", "SE*27*0001"), "SE", "SE01"),
    ("BPR02 does not reconcile", _edit(REMIT, "BPR*I*40*", "BPR*I*45*"), "BPR", "BPR02"),
    ("claim does not balance", _edit(REMIT, "CLP*PB0000000001*1*60*45", "CLP*PB0000000001*1*60*50"), "CLP",
     "CLP04"),
    ("line does not balance", _edit(REMIT, "CAS*CO*45*15", "CAS*CO*45*10"), "SVC", "SVC02"),
    ("amount not a number", _edit(REMIT, "*60*45**MC", "*6O*45**MC"), "CLP", "CLP03 is not an amount"),
    ("unknown CAS group", _edit(REMIT, "CAS*CO*45", "CAS*ZZ*45"), "CAS", "CAS01"),
    ("unknown payment method", _edit(REMIT, "*C*CHK*", "*C*GOLD*"), "BPR", "BPR04"),
    ("999 for another transaction", _edit(write_999("7"), "AK1*HC", "AK1*HP"), "AK1", "AK101"),
    ("999 without AK9", _edit(write_999("7"), "AK9*A*1*1*1~\n", "").replace(b"SE*6*", b"SE*5*"), "SE", "AK9"),
    ("277CA status category unknown", _edit(ACKS, "STC*A2:20:PR", "STC*Q9:20:PR"), "STC", "STC01-1"),
    ("277CA claim without TRN02", _edit(ACKS, "TRN*2*PB0000000001", "TRN*2"), "TRN", "TRN02"),
    ("ST03 of another guide", _edit(ACKS, "ST*277*0001*005010X214", "ST*277*0001*005010X212"), "ST", "ST03"),
    ("NUL in an element", _edit(REMIT, "CLP*PB0000000001", "CLP*PB00\x0000001"), "", "NUL"),
    ("segment of 5000 characters", _edit(REMIT, "N1*PR*NJ MEDICAID", "N1*PR*" + "N" * 5000), "N1*",
     "longer than 4096"),
    ("our claim number too long", _edit(REMIT, "CLP*PB0000000001", "CLP*PB" + "0" * 40), "CLP", "CLP01"),
    ("999 group control number of other digits", _edit(write_999("7"), "AK1*HC*7", "AK1*HC*\u0667"), "AK1",
     "AK102"),
    ("999 group control number of ten digits", _edit(write_999("7"), "AK1*HC*7", "AK1*HC*9999999999"), "AK1",
     "AK102"),
]


@pytest.mark.parametrize(("raw", "segment_id", "reason"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_files_are_refused_with_segment_and_reason(raw, segment_id, reason):
    with pytest.raises(RefusedFile) as refused:
        parse(raw)
    problem = refused.value.problems[0]
    assert problem.segment_id == segment_id or not segment_id, refused.value.problems
    assert reason in problem.reason, refused.value.problems
    assert "PB0000000001" not in str(refused.value) and "2026331000123" not in str(refused.value)
