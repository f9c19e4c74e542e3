"""Moments relative to the clock the test runs under, so no test depends on the day it runs."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone


def now() -> datetime:
    """The current instant in UTC (the same clock the services under test read)."""
    return datetime.now(timezone.utc)


def minutes_ago(minutes: float) -> datetime:
    return now() - timedelta(minutes=minutes)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def iso_minutes_ago(minutes: float) -> str:
    return iso(minutes_ago(minutes))


def days_ahead(days: int) -> str:
    """A calendar date `days` from today, as YYYY-MM-DD (certification expiries and the like)."""
    return (now().date() + timedelta(days=days)).isoformat()


def hl7_ts(moment: datetime) -> str:
    """An HL7 v2 DTM to the second, in the moment's own offset."""
    return moment.strftime("%Y%m%d%H%M%S")


def today() -> date:
    return now().date()
