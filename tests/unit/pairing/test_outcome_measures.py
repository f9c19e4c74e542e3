"""Outcome figures computed from the record's facts, each against a figure worked out by hand."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.pairing.domain.measure_report import measure_report
from services.pairing.domain.outcome_measures import ALL_PROGRAM, PeerFacts, peer_measures, program_measures
from services.pairing.domain.outcomes import CaseFacts, Contact, Window, p90
from tests.unit.pairing.builders import NOW

pytestmark = pytest.mark.unit


def m(minutes: float):
    return NOW + timedelta(minutes=minutes)


def windows(reached: dict[int, str | None]) -> tuple[Window, ...]:
    """Windows at 3, 7, 30, 60, 90 days with the given outcomes by day (None: still open)."""
    return tuple(Window(d * 24, "follow-up", None, reached.get(d)) for d in (3, 7, 30, 60, 90))


def figures(cases, as_of=NOW + timedelta(days=120)) -> dict:
    return {x.id: (x.numerator, x.denominator, x.value) for x in program_measures(cases, as_of)}


# Four indicated visits, target 60 minutes:
#  A: offered at 2, accepted at 5, bedside at 40 (within), consent granted + enrolled; reached at 30 and 90 days,
#     not at 60; entered treatment (day 10) and MOUD started (day 20).
#  B: offered at 4, accepted at 9, bedside at 95 (late); consent granted, declined support.
#  C: offered at 3, nobody accepted; discharged before a peer at 30 minutes (left the ED before the target).
#  D: opened as follow-up (never offered); still in the ED as far as the record knows.
CASES = [
    CaseFacts("A", "F1", NOW, 60, first_offer=m(2), first_accept=m(5), first_bedside=m(40), consent_granted=True,
              accepts_support=True, windows=windows({3: "reached", 7: "missed", 30: "reached", 60: "missed",
                                                     90: "reached"}),
              contacts=(Contact(NOW + timedelta(days=10), "reached", ("entered-treatment",)),
                        Contact(NOW + timedelta(days=20), "reached", ("moud-started",)),
                        Contact(NOW + timedelta(days=31), "no-answer"))),
    CaseFacts("B", "F1", NOW, 60, first_offer=m(4), first_accept=m(9), first_bedside=m(95), consent_granted=True,
              accepts_support=False),
    CaseFacts("C", "F1", NOW, 60, first_offer=m(3), closed_at=m(30), close_reason="discharged-before-peer"),
    CaseFacts("D", "F1", NOW, 60),
]


def test_each_program_figure_matches_the_hand_computed_one():
    f = figures(CASES)
    assert f["indicated"] == (4, None, 4)
    assert f["offered"] == (3, 4, 75.0)
    assert f["accepted"] == (2, 4, 50.0)
    assert f["seen-at-bedside"] == (2, 4, 50.0)
    # Only A within 60 min: 1 of ALL 4 indicated visits, not 1 of the 2 who were seen.
    assert f["seen-within-target"] == (1, 4, 25.0)
    # C left the ED at 30 min, before the target ran out: 1 of 3 still in the ED.
    assert f["seen-within-target-in-ed"] == (1, 3, 33.3)
    assert f["time-to-offer-median"][1:] == (3, 3.0) and f["time-to-offer-p90"][1:] == (3, 4.0)
    assert f["time-to-accept-median"][1:] == (2, 7.0) and f["time-to-accept-p90"][1:] == (2, 9.0)
    assert f["time-to-bedside-median"][1:] == (2, 67.5) and f["time-to-bedside-p90"][1:] == (2, 95.0)
    assert f["consent-rate"] == (2, 2, 100.0)
    assert f["enrolled"] == (1, 4, 25.0)
    assert f["engaged-30d"] == (1, 1, 100.0) and f["engaged-60d"] == (0, 1, 0.0)
    assert f["engaged-90d"] == (1, 1, 100.0)
    assert f["retention-90d"] == (1, 1, 100.0)
    assert f["entered-treatment-30d"] == (1, 1, 100.0) and f["moud-30d"] == (1, 1, 100.0)
    assert f["crisis-handoffs"] == (0, None, 0)
    assert list(f) == [d.id for d in ALL_PROGRAM]


def test_figures_that_cannot_be_known_yet_leave_the_case_out_of_the_denominator():
    open_window = [CaseFacts("E", "F1", NOW, 60, accepts_support=True, windows=windows({3: "reached"}))]
    f = figures(open_window, as_of=NOW + timedelta(days=31))
    assert f["engaged-30d"] == (0, 0, None)  # the 30-day window is still open
    assert f["entered-treatment-30d"] == (0, 1, 0.0)  # 30 days have passed: known not to have entered
    assert f["retention-90d"] == (0, 0, None)


def test_a_patient_who_left_before_the_program_closed_at_90_days_is_not_retained():
    gone = CaseFacts("F", "F1", NOW, 60, accepts_support=True, closed_at=NOW + timedelta(days=40),
                     close_reason="unreachable")
    done = CaseFacts("G", "F1", NOW, 60, accepts_support=True, closed_at=NOW + timedelta(days=80),
                     close_reason="completed")
    assert figures([gone, done])["retention-90d"] == (1, 2, 50.0)


def test_p90_is_the_nearest_rank():
    assert p90(list(range(1, 11))) == 9 and p90([5]) == 5 and p90([]) is None


def test_a_peer_is_measured_on_offers_cases_caseload_and_supervision_against_the_requirement():
    found = {x.id: (x.numerator, x.denominator, x.value) for x in peer_measures(PeerFacts(
        "p1", offers=4, accepted=3, at_bedside=2, within_target=1, cases=3, caseload=2, supervision_minutes=90,
        required_hours=2))}
    assert found == {"peer-offers": (4, None, 4), "peer-accepted": (3, 4, 75.0),
                     "peer-seen-within-target": (1, 3, 33.3), "peer-cases": (3, None, 3),
                     "peer-caseload": (2, None, 2), "supervision-hours": (1.5, 2, 75.0)}


def test_the_measure_report_has_one_group_per_figure_with_populations_and_a_score(assert_valid_fhir):
    body = {"facility": "F1", "from": NOW.isoformat(), "to": (NOW + timedelta(days=30)).isoformat(),
            "measures": [x.as_json() for x in program_measures(CASES, NOW + timedelta(days=120))]}
    report = measure_report(body, generated_at=NOW + timedelta(days=120))
    assert_valid_fhir(report)
    groups = {g["id"]: g for g in report["group"]}
    assert len(groups) == len(ALL_PROGRAM) and report["type"] == "summary"
    within = groups["seen-within-target"]
    assert [(p["code"]["coding"][0]["code"], p["count"]) for p in within["population"]] == [("numerator", 1),
                                                                                        ("denominator", 4)]
    assert within["measureScore"] == {"value": 25.0, "unit": "%", "system": "http://unitsofmeasure.org",
                                      "code": "%"}
    assert groups["time-to-bedside-median"]["measureScore"]["code"] == "min"
    assert groups["indicated"]["population"][0]["count"] == 4
