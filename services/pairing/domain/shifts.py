"""Shifts: explicit windows, and recurring patterns (6-, 8-, 12-hour, weekends, 24/7) expanded into windows."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PATTERN_HOURS = {"6h": 6, "8h": 8, "12h": 12}
PATTERNS = (*PATTERN_HOURS, "weekends", "24/7")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_HORIZON_DAYS = 366


@dataclass(frozen=True)
class Window:
    """One shift: a facility and a half-open time range [starts_at, ends_at)."""

    facility: str
    starts_at: datetime
    ends_at: datetime

    def covers(self, facility: str | None, at: datetime) -> bool:
        return (facility is None or self.facility == facility) and self.starts_at <= at < self.ends_at


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone)


def expand(pattern: str, facility: str, *, start: date, until: date, start_time: time = time(0),
           days: tuple[str, ...] = WEEKDAYS, zone: str = "UTC") -> list[Window]:
    """The windows of a recurring pattern from `start` up to (not including) `until`, in local time `zone`."""
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}")
    if until <= start or (until - start).days > MAX_HORIZON_DAYS:
        raise ValueError(f"until must be after start and at most {MAX_HORIZON_DAYS} days later")
    tz = ZoneInfo(zone)
    if pattern == "24/7":
        return [Window(facility, _local(start, time(0), tz), _local(until, time(0), tz))]
    windows: list[Window] = []
    day = start
    while day < until:
        weekday = WEEKDAYS[day.weekday()]
        if pattern == "weekends" and weekday == "sat":
            # Saturday midnight to Monday midnight, local time (AnchorED began weekend-only).
            windows.append(Window(facility, _local(day, time(0), tz),
                                  _local(min(day + timedelta(days=2), until), time(0), tz)))
        elif pattern == "weekends" and weekday == "sun" and day == start:
            windows.append(Window(facility, _local(day, time(0), tz), _local(day + timedelta(days=1), time(0), tz)))
        elif pattern in PATTERN_HOURS and weekday in days:
            begins = _local(day, start_time, tz)
            # Wall-clock arithmetic in UTC, so a shift across a DST change still lasts its hours.
            ends = (begins.astimezone(ZoneInfo("UTC")) + timedelta(hours=PATTERN_HOURS[pattern])).astimezone(tz)
            windows.append(Window(facility, begins, ends))
        day += timedelta(days=1)
    return windows


def on_shift(windows: list[Window], facility: str | None, at: datetime) -> bool:
    """Whether any window covers `at` (at `facility`, or anywhere when facility is None)."""
    return any(w.covers(facility, at) for w in windows)
