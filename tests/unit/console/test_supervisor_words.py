"""What the supervisor reads: where a case stands, certification warnings, time in recovery, the week, the peer form."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from services.console.domain import peer_form
from services.console.domain import supervisor_words as sw
from services.pairing.domain.board import board_state

pytestmark = pytest.mark.unit
AT = datetime(2031, 3, 9, 2, 50, tzinfo=timezone.utc)  # arbitrary: the logic takes the instant
TODAY = AT.date()


@pytest.mark.parametrize("args, state", [
    (("paging", None, False, False, None, None), "waiting"),
    (("paging", "offered", False, False, None, None), "offered"),
    (("escalated", "expired", False, False, "no acceptance after 3 offer(s)", "page"), "escalated"),
    (("escalated", None, False, False, "no eligible peer on shift", "page"), "no-peer"),
    (("escalated", "withdrawn", False, False, "no eligible peer with room to take over the case", "transfer"),
     "no-peer"),
    (("assigned", "accepted", False, False, None, None), "accepted"),
    (("assigned", "accepted", True, False, None, None), "at-bedside"),
    (("assigned", "accepted", True, True, None, None), "consent"),
    (("assigned", "completed", True, True, None, None), "follow-up"),
    (("follow-up", None, False, False, None, None), "follow-up"),
])
def test_each_open_case_has_one_state_on_the_board(args, state):
    assert board_state(*args) == state
    assert state in sw.STATES


def test_the_board_line_says_to_whom_an_offer_went_and_for_how_long():
    case = {"state": "offered", "specialist_name": "Maria Alvarez", "offers": 2,
            "expires_at": (AT + timedelta(minutes=7, seconds=30)).isoformat()}
    assert sw.state_line(case, AT) == "Offered to Maria Alvarez, 7 min left (offer 2)"
    assert sw.state_line({**case, "expires_at": (AT - timedelta(seconds=1)).isoformat()}, AT).endswith(
        "answer due now (offer 2)")
    assert sw.state_line({"state": "at-bedside", "specialist_name": "Ana"}, AT) == "At the bedside: Ana"
    assert sw.state_line({"state": "no-peer"}, AT) == "No peer available"
    due = {"state": "follow-up", "next_follow_up": (AT + timedelta(hours=3)).isoformat()}
    assert sw.state_line(due, AT) == "Follow-up, next call in 3 h 00 min"


@pytest.mark.parametrize("days, level, words", [
    (-1, "bad", "expired"), (0, "warn", "(in 0 days)"), (30, "warn", "(in 30 days)"), (45, "warn", "(in 45 days)"),
    (60, "warn", "(in 60 days)"), (61, "ok", "valid to"),
])
def test_certifications_warn_60_and_30_days_ahead_and_say_when_expired(days, level, words):
    found_level, text = sw.cert_warning((TODAY + timedelta(days=days)).isoformat(), TODAY)
    assert found_level == level and words in text
    assert sw.cert_warning(None, TODAY)[0] == "bad" and sw.cert_warning("soon", TODAY)[0] == "bad"


def test_time_in_recovery_in_years_and_months():
    assert sw.recovery_time("2029-01-10", TODAY) == "2 y 1 mo"
    assert sw.recovery_time("2030-12-09", TODAY) == "3 mo"
    assert sw.recovery_time(None, TODAY) == "not recorded"


def test_a_week_calendar_shows_a_night_shift_on_both_days_it_covers():
    monday = datetime(2031, 3, 3, tzinfo=timezone.utc)
    days = sw.week_days(monday)
    assert days[0] == date(2031, 3, 3) and days[-1] == date(2031, 3, 9)
    shifts = [{"facility": "MERCY", "starts_at": "2031-03-04T19:00:00+00:00", "ends_at": "2031-03-05T07:00:00+00:00"},
              {"facility": "MERCY", "starts_at": "2031-03-06T07:00:00+00:00", "ends_at": "2031-03-06T15:00:00+00:00"}]
    cells = sw.shifts_by_day(shifts, days)
    assert cells[1] == cells[2] == ["19:00-07:00 MERCY"] and cells[3] == ["07:00-15:00 MERCY"]
    assert cells[0] == cells[4] == []


def test_the_peer_form_becomes_pairings_record_and_keeps_what_it_does_not_show():
    form = {"name": " Ana Ruiz ", "npi": "1234567893", "gender": "female", "birth_year": "1985",
            "languages": "es, en", "certifications": "CPRS 12345 NJ 2032-01-31 2031-11-30\nCRPS 9 - 2031-12-01",
            "recovery_since": "2020-05-01", "pathways": "MOUD-supportive, SMART", "facilities": "MERCY",
            "telehealth": "on", "caseload_cap": "6", "status": "on-leave", "status_reason": "personal"}
    record, problems = peer_form.peer_record(form, ["opioids", "made-up"], {"race": ["2106-3"], "npi": "x"})
    assert problems == []
    assert record["name"] == "Ana Ruiz" and record["languages"] == ["es", "en"] and record["race"] == ["2106-3"]
    assert record["certifications"][1] == {"kind": "CRPS", "number": "9", "state": None, "expires_on": "2031-12-01"}
    assert record["certifications"][0]["ce_due_on"] == "2031-11-30"  # the CE due date is kept through an edit
    assert peer_form.certifications_text(record["certifications"]).splitlines() == [
        "CPRS 12345 NJ 2032-01-31 2031-11-30", "CRPS 9 - 2031-12-01"]
    assert record["lived_experience"] == ["opioids"] and record["telehealth"] is True and record["caseload_cap"] == 6
    assert peer_form.parse_certifications(peer_form.certifications_text(record["certifications"]))[0] == \
        record["certifications"]
    _, problems = peer_form.peer_record({"name": "", "caseload_cap": "six", "certifications": "CPRS 1 NJ"}, [])
    assert len(problems) == 3
