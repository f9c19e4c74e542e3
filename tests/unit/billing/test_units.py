"""Minutes to units under each rounding rule, and the cap windows."""
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.billing.domain.rules import Caps, PeriodCap, Units
from services.billing.domain.units import cap_allowance, months_before, period_start, units_for

pytestmark = pytest.mark.unit
EIGHT = Units(minutes_per_unit=15, rounding="at-least-8-minutes")
WHOLE = Units(minutes_per_unit=15, rounding="whole-units")


@pytest.mark.parametrize(("minutes", "eight", "whole"), [
    (0, 0, 0), (7, 0, 0), (8, 1, 0), (14, 1, 0), (15, 1, 1), (22, 1, 1), (23, 2, 1), (50, 3, 3), (53, 4, 3),
    (240, 16, 16)])
def test_a_unit_from_eight_minutes_or_only_whole_units(minutes, eight, whole):
    assert units_for(minutes, EIGHT) == eight
    assert units_for(minutes, WHOLE) == whole


@given(st.integers(min_value=0, max_value=24 * 60), st.integers(min_value=1, max_value=60))
def test_units_never_bill_more_minutes_than_half_a_unit_beyond_the_encounter(minutes, per_unit):
    for rounding in ("at-least-8-minutes", "whole-units"):
        units = units_for(minutes, Units(minutes_per_unit=per_unit, rounding=rounding))
        assert units * per_unit <= minutes + per_unit - 1
        assert units * per_unit >= minutes - per_unit + 1


@given(st.integers(min_value=0, max_value=24 * 60))
def test_eight_minute_rule_adds_at_most_one_unit_to_whole_units(minutes):
    extra = units_for(minutes, EIGHT) - units_for(minutes, WHOLE)
    assert extra in (0, 1)
    assert extra == (1 if minutes % 15 >= 8 else 0)


@given(st.integers(min_value=0, max_value=600), st.integers(min_value=0, max_value=600))
def test_units_grow_with_minutes(a, b):
    lo, hi = sorted((a, b))
    assert units_for(lo, EIGHT) <= units_for(hi, EIGHT)
    assert units_for(lo, WHOLE) <= units_for(hi, WHOLE)


def test_rolling_six_months_ends_on_the_date_of_service():
    caps = Caps(per_period=PeriodCap(units=104, months=6))
    assert period_start(date(2026, 11, 27), caps) == date(2026, 5, 28)
    assert months_before(date(2026, 8, 31), 6) == date(2026, 2, 28)
    assert months_before(date(2026, 3, 15), 6) == date(2025, 9, 15)
    assert period_start(date(2026, 11, 27), Caps()) is None


@given(st.integers(0, 40), st.integers(0, 40), st.integers(0, 200))
def test_the_allowance_never_exceeds_a_cap(units, used_day, used_period):
    caps = Caps(per_day=16, per_period=PeriodCap(units=104, months=6))
    allowed, cut = cap_allowance(units, caps, used_day=used_day, used_period=used_period, used_episode=0)
    assert 0 <= allowed <= units
    assert used_day + allowed <= max(16, used_day) and used_period + allowed <= max(104, used_period)
    assert (allowed < units) == bool(cut)
