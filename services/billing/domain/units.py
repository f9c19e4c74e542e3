"""Unit arithmetic: minutes to billable units, and the windows caps are counted over."""
from __future__ import annotations

from datetime import date

from .rules import Caps, Units

PARTIAL_UNIT_MINUTES = 8


def units_for(minutes: int, rule: Units) -> int:
    """Billable units for the minutes under the payer's rounding rule."""
    if minutes <= 0:
        return 0
    whole, rest = divmod(minutes, rule.minutes_per_unit)
    # The "8-minute rule": a started unit counts once more than half of it (8 of 15 minutes) took place.
    threshold = min(PARTIAL_UNIT_MINUTES, rule.minutes_per_unit)
    if rule.rounding == "at-least-8-minutes" and rest >= threshold:
        whole += 1
    return whole


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier (clamped to the month's last day)."""
    year, month = divmod(day.month - 1 - months, 12)
    year, month = day.year + year, month + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def period_start(service_date: date, caps: Caps) -> date | None:
    """First day of the rolling period that ends on the date of service (exclusive of the same day months ago)."""
    if caps.per_period is None:
        return None
    return date.fromordinal(months_before(service_date, caps.per_period.months).toordinal() + 1)


def cap_allowance(units: int, caps: Caps, *, used_day: int, used_period: int,
                  used_episode: int) -> tuple[int, list[str]]:
    """How many of the units still fit under every cap, and which caps cut them."""
    allowed, cut = units, []
    for name, cap, used in (("day", caps.per_day, used_day),
                            ("period", caps.per_period.units if caps.per_period else None, used_period),
                            ("episode", caps.per_episode, used_episode)):
        if cap is None:
            continue
        room = max(cap - used, 0)
        if room < allowed:
            allowed, cut = room, [*cut, name]
    return allowed, cut
