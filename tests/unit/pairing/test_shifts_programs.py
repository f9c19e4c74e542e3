"""Shift patterns expand into the right windows; program settings fall back to defaults."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from services.pairing.domain.programs import ProgramError, Programs
from services.pairing.domain.shifts import expand, on_shift

pytestmark = pytest.mark.unit
NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize("pattern, hours", [("6h", 6), ("8h", 8), ("12h", 12)])
def test_hour_patterns_give_one_shift_a_day_of_that_length(pattern, hours):
    windows = expand(pattern, "F1", start=date(2026, 12, 1), until=date(2026, 12, 8), start_time=datetime.min.time())
    assert len(windows) == 7
    assert all(w.ends_at - w.starts_at == timedelta(hours=hours) for w in windows)


def test_overnight_six_hour_shifts_on_chosen_days_in_local_time():
    windows = expand("6h", "F1", start=date(2026, 12, 7), until=date(2026, 12, 14),
                     start_time=datetime.strptime("23:00", "%H:%M").time(), days=("mon", "wed"),
                     zone="America/New_York")
    assert [w.starts_at.strftime("%a %H:%M") for w in windows] == ["Mon 23:00", "Wed 23:00"]
    assert on_shift(windows, "F1", datetime(2026, 12, 8, 2, 0, tzinfo=NY))  # Tuesday 02:00, still Monday's shift
    assert not on_shift(windows, "F1", datetime(2026, 12, 9, 2, 0, tzinfo=NY))


def test_a_shift_across_the_dst_change_keeps_its_length():
    [window] = expand("8h", "F1", start=date(2026, 11, 1), until=date(2026, 11, 2),
                      start_time=datetime.strptime("00:00", "%H:%M").time(), zone="America/New_York")
    assert window.ends_at.astimezone(timezone.utc) - window.starts_at.astimezone(timezone.utc) == timedelta(hours=8)


def test_weekends_cover_saturday_and_sunday_only():
    windows = expand("weekends", "F1", start=date(2026, 12, 1), until=date(2026, 12, 15))
    assert [(w.starts_at.strftime("%a"), w.ends_at.strftime("%a")) for w in windows] == [("Sat", "Mon")] * 2
    assert on_shift(windows, "F1", datetime(2026, 12, 6, 23, 59, tzinfo=timezone.utc))
    assert not on_shift(windows, "F1", datetime(2026, 12, 7, 0, 0, tzinfo=timezone.utc))


def test_round_the_clock_is_one_unbroken_window():
    [window] = expand("24/7", "F1", start=date(2026, 12, 1), until=date(2026, 12, 29))
    assert window.ends_at - window.starts_at == timedelta(days=28)
    assert not on_shift([window], "F2", datetime(2026, 12, 2, tzinfo=timezone.utc))


def test_unknown_patterns_and_long_horizons_are_refused():
    with pytest.raises(ValueError):
        expand("4h", "F1", start=date(2026, 12, 1), until=date(2026, 12, 2))
    with pytest.raises(ValueError):
        expand("8h", "F1", start=date(2026, 12, 1), until=date(2028, 12, 2))


def test_program_defaults_match_the_issue_and_facilities_override_them():
    programs = Programs.load()
    unknown = programs.for_facility("NOWHERE")
    assert (unknown.min_recovery_years, unknown.ack_timeout_minutes, unknown.arrival_target_minutes,
            unknown.max_visit_age_hours) == (2, 10, 60, 12)
    assert unknown.follow_up_hours == (72, 168, 720, 1440, 2160)
    ct = programs.for_facility("CTHOS")
    assert ct.arrival_target_minutes == 120 and ct.telehealth_substitutes and ct.ack_timeout_minutes == 10


def test_a_bad_program_file_is_refused_with_the_place():
    with pytest.raises(ProgramError, match="F1"):
        Programs.from_mapping({"facilities": {"F1": {"ack_timeout": 5}}})
    with pytest.raises(ProgramError, match="weights"):
        Programs.from_mapping({"defaults": {"weights": {"charm": 1}}})
