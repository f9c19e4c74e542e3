"""Preparing one encounter under a payer's rules: the line, and every hold reason."""
from datetime import timedelta

import pytest

from services.billing.domain.claims import Usage, prepare, resolve

from .builders import NOW, build_encounter, build_visit

# The builders' clock: the session on NOW's day is priced on that day; a credential that ended the day before is void.
DAY = NOW.date().isoformat()
DAY_BEFORE = (NOW.date() - timedelta(days=1)).isoformat()

pytestmark = pytest.mark.unit


def run(book, visit=None, encounter=None, usage=Usage(), now=NOW):
    visit, encounter = visit or build_visit(), encounter or build_encounter()
    rs, unknown = resolve(book, visit, encounter)
    return prepare(rs, visit, encounter, usage, now, unknown=unknown)


def codes(prepared):
    return [h.code for h in prepared.hold_reasons]


def test_fifty_minutes_in_the_ed_under_nj_is_h0038_hf_three_units_pos_23(book):
    claim = run(book)
    assert claim.status == "prepared" and claim.payer == "NJ-MEDICAID" and claim.plan_id == "NJMCD"
    [line] = claim.lines
    assert (line["code"], line["modifiers"], line["units"], line["place_of_service"], line["charge"]) == (
        "H0038", ["HF"], 3, "23", "60.00")
    assert line["service_date"] == DAY
    assert claim.diagnoses == ["F1120", "T401X1A"]  # the qualifying SUD diagnosis is the principal one
    assert line["diagnosis_pointers"] == [1, 2]
    assert (claim.rendering["npi"], claim.rendering["taxonomy"]) == ("1987654328", "175T00000X")


def test_telehealth_modifiers_and_place_of_service_by_payer(book):
    video_home = build_encounter(modality="telehealth-video", patient_at_home=True,
                                credentials=[{"kind": "CPRS", "state": "TX", "expires_on": "2030-01-01"}])
    tx = run(book, build_visit(payer={"plan_id": "TXMCD", "member_id": "T1"}), video_home)
    assert (tx.lines[0]["modifiers"], tx.lines[0]["place_of_service"]) == (["95"], "10")
    phone = build_encounter(modality="telephone",
                           credentials=[{"kind": "CPRS", "state": "GA", "expires_on": "2030-01-01"}])
    ga = run(book, build_visit(payer={"plan_id": "GAMCD", "member_id": "G1"}), phone)
    assert (ga.lines[0]["modifiers"], ga.lines[0]["place_of_service"], ga.status) == (["UK"], "02", "prepared")
    video = phone.model_copy(update={"modality": "telehealth-video"})
    assert run(book, build_visit(payer={"plan_id": "GAMCD", "member_id": "G1"}), video).lines[0]["modifiers"] == ["GT"]


def test_group_sessions_carry_hq_after_the_program_modifier(book):
    assert run(book, encounter=build_encounter(kind="group")).lines[0]["modifiers"] == ["HF", "HQ"]


def test_whole_units_payer_bills_fifty_three_minutes_as_three(book):
    visit = build_visit(payer={"plan_id": "TXMCD", "member_id": "T1"})
    encounter = build_encounter(minutes=53, credentials=[{"kind": "PRS", "state": "TX", "expires_on": "2030-01-01"}])
    assert run(book, visit, encounter).lines[0]["units"] == 3
    assert run(book, encounter=build_encounter(minutes=53)).lines[0]["units"] == 4


@pytest.mark.parametrize(("visit", "encounter", "reason"), [
    (build_visit(payer={"plan_id": "NJMCD", "member_id": None}), {}, "no-member-id"),
    (build_visit(diagnoses=["T401X1A", "R4182"]), {}, "no-qualifying-diagnosis"),
    (build_visit(diagnoses=[]), {}, "no-diagnosis"),
    (build_visit(age_years=17), {}, "under-minimum-age"),
    (build_visit(age_years=None), {}, "age-unknown"),
    (build_visit(), {"credentials": [{"kind": "CPRS", "state": "NJ", "expires_on": DAY_BEFORE}]},
     "peer-not-credentialed"),
    (build_visit(), {"credentials": [{"kind": "CPRS", "state": "PA", "expires_on": "2030-01-01"}]},
     "peer-not-credentialed"),
    (build_visit(), {"credentials": []}, "peer-not-credentialed"),
    (build_visit(), {"specialist_npi": "1987654321"}, "rendering-npi-invalid"),
    (build_visit(), {"minutes": 7}, "too-few-minutes"),
    (build_visit(payer={"plan_id": "BCBS", "member_id": "B1"}), {}, "unknown-payer"),
    (build_visit(payer={}), {}, "unknown-payer"),
])
def test_lines_that_cannot_be_billed_are_held_with_a_specific_reason(book, visit, encounter, reason):
    claim = run(book, visit, build_encounter(**encounter))
    assert claim.status == "held"
    assert reason in codes(claim)


def test_credential_expiring_on_the_date_of_service_still_counts(book):
    encounter = build_encounter(credentials=[{"kind": "CPRS", "state": "NJ", "expires_on": DAY}])
    assert run(book, encounter=encounter).status == "prepared"


def test_past_timely_filing_is_held(book):
    assert "past-timely-filing" in codes(run(book, now=NOW + timedelta(days=181)))
    assert run(book, now=NOW + timedelta(days=180)).status == "prepared"


def test_daily_cap_trims_the_last_units_and_holds_when_used_up(book):
    assert run(book, usage=Usage(day=14)).lines[0]["units"] == 2
    assert run(book, usage=Usage(day=14)).lines[0]["charge"] == "40.00"
    held = run(book, usage=Usage(day=16))
    assert held.status == "held" and codes(held) == ["cap-reached"]


def test_tx_rolling_period_cap(book):
    visit = build_visit(payer={"plan_id": "TXMCD", "member_id": "T1"})
    encounter = build_encounter(credentials=[{"kind": "CPRS", "state": "TX", "expires_on": "2030-01-01"}])
    assert run(book, visit, encounter, Usage(period=103)).lines[0]["units"] == 1
    assert "cap-reached" in codes(run(book, visit, encounter, Usage(period=104)))
    assert "under-minimum-age" in codes(run(book, build_visit(age_years=20, payer=visit.payer), encounter))


def test_date_of_service_is_the_payers_local_date(book):
    # 03:30 UTC the next day is still the evening of NOW's day in New York
    start = NOW + timedelta(hours=9, minutes=30)
    late = build_encounter(started_at=start.isoformat(), ended_at=(start + timedelta(minutes=50)).isoformat())
    assert run(book, encounter=late).service_date == DAY


def test_a_visit_known_only_as_cancelled_has_no_plan_to_price_under(book):
    encounter = build_encounter()
    rs, unknown = resolve(book, None, encounter)
    claim = prepare(rs, None, encounter, Usage(), NOW, unknown=unknown)
    assert (claim.status, codes(claim), claim.payer, claim.member_id) == ("held", ["unknown-payer"], None, None)
    assert claim.service_date == DAY
