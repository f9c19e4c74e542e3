"""The billers' pages' words: holds and their fixes, statuses, money, months, typed diagnoses."""
from __future__ import annotations

from datetime import date

import pytest

from services.console.domain import billing_words as bw


def test_every_hold_billing_documents_has_words_and_a_fix():
    readme = (bw.__file__.rsplit("/services/", 1)[0] + "/services/billing/README.md")
    holds_section = open(readme).read().split("## Holds", 1)[1].split("## ", 1)[0]
    documented = {line.split("`")[1] for line in holds_section.splitlines() if line.startswith("| `")}
    assert documented and documented <= set(bw.HOLDS)
    for code in documented:
        assert bw.hold(code) != code and bw.fix(code)


def test_an_unknown_hold_is_shown_by_its_code_with_a_pointer():
    assert bw.hold("new-rule") == "new-rule"
    assert "README" in bw.fix("new-rule")


@pytest.mark.parametrize("codes, expected", [
    (["manual"], True),
    (["manual", "no-service-facility"], True),
    (["manual", "cap-reached"], False),
    (["no-qualifying-diagnosis"], False),
    ([], False),
])
def test_only_holds_billing_lifts_on_approval_offer_approve(codes, expected):
    assert bw.approvable([{"code": c, "detail": ""} for c in codes]) is expected


def test_batch_claims_by_status_in_words_largest_first():
    assert bw.by_status({"denied": 1, "paid": 2}) == "2 paid, 1 denied"
    assert bw.by_status({"accepted": 1, "exported": 1}) == "1 accepted by the payer, 1 sent"
    assert bw.by_status({}) == "none" and bw.by_status(None) == "none"


@pytest.mark.parametrize("amount, shown", [("105", "$105.00"), ("1234.5", "$1,234.50"), ("-60.00", "-$60.00"),
                                           (None, "—"), ("x", "—")])
def test_money(amount, shown):
    assert bw.money(amount) == shown


def test_months_back_cross_the_year():
    assert bw.months_back(date(2027, 2, 14), 4) == ["2027-02", "2027-01", "2026-12", "2026-11"]
    assert bw.month_of(date(2027, 2, 14)) == "2027-02"


def test_typed_diagnoses_are_codes_in_order_without_repeats():
    assert bw.diagnoses(" f11.20, Z91.19 f11.20,,") == ["F11.20", "Z91.19"]
    assert bw.diagnoses("") == []


def test_statuses_in_words_and_unknown_ones_as_is():
    assert bw.status("prepared") == "ready" and bw.batch_status("rejected") == "rejected (999)"
    assert bw.status("mystery") == "mystery"


@pytest.mark.parametrize("stored, shown", [("F1120", "F11.20"), ("Z9119", "Z91.19"), ("F11.20", "F11.20"),
                                           ("F10", "F10"), (" t401x1a ", "T40.1X1A")])
def test_diagnoses_shown_dotted(stored, shown):
    assert bw.icd10(stored) == shown


def test_a_999s_errors_in_words_by_position():
    ack = {"sets": [{"control_number": "0001", "code": "R", "errors": [
        {"segment_id": "NM1", "position": "27", "loop": "2010BA", "code": "8"}, {"element": "9", "code": "7"},
        {"segment_id": "ZZZ", "position": "3", "loop": None, "code": "99"}, {"context": "SITUATIONAL TRIGGER"}]}]}
    assert bw.ack_errors(ack) == ["NM1 (segment 27): segment has data element errors",
                                  "element 9: invalid code value", "ZZZ (segment 3): error 99"]
    assert bw.ack_errors(None) == [] and bw.ack_errors({"sets": []}) == []
