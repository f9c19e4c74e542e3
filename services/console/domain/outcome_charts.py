"""The outcomes page's charts: which of pairing's measures each shows, their figures in words, and CSV rows (pure)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from . import charts


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    measures: tuple[str, ...]
    unit: str


CHARTS = (
    Chart("reach", "Indicated visits offered, accepted and seen (share of all indicated visits)",
          ("offered", "accepted", "seen-at-bedside", "seen-within-target", "seen-within-target-in-ed"), "%"),
    Chart("times", "Time from the case opening, in minutes (median and 90th percentile)",
          ("time-to-offer-median", "time-to-offer-p90", "time-to-accept-median", "time-to-accept-p90",
           "time-to-bedside-median", "time-to-bedside-p90"), "min"),
    Chart("engagement", "Engagement: enrolled patients reached at 30, 60 and 90 days",
          ("engaged-30d", "engaged-60d", "engaged-90d"), "%"),
    Chart("follow-up", "Outcomes of follow-up", ("consent-rate", "enrolled", "retention-90d",
                                                  "entered-treatment-30d", "moud-30d"), "%"),
)
# The charts' own short labels (the tables beside them give pairing's full label).
SHORT = {"offered": "Offered", "accepted": "Accepted", "seen-at-bedside": "At the bedside",
         "seen-within-target": "Within target (all)", "seen-within-target-in-ed": "Within target (in ED)",
         "time-to-offer-median": "Offer, median", "time-to-offer-p90": "Offer, p90",
         "time-to-accept-median": "Accept, median", "time-to-accept-p90": "Accept, p90",
         "time-to-bedside-median": "Bedside, median", "time-to-bedside-p90": "Bedside, p90",
         "engaged-30d": "30 days", "engaged-60d": "60 days", "engaged-90d": "90 days", "consent-rate": "Consent",
         "enrolled": "Enrolled", "retention-90d": "Retained at 90 days",
         "entered-treatment-30d": "Treatment in 30 days", "moud-30d": "MOUD in 30 days"}
CSV_COLUMNS = ("measure", "label", "numerator", "denominator", "value", "unit", "definition")


def period(today: date, start: str | None, end: str | None) -> tuple[date, date]:
    """The chosen period [from, to), whole days; default: this calendar month."""
    first = today.replace(day=1)
    default_end = (first + timedelta(days=32)).replace(day=1)
    try:
        since = date.fromisoformat(start) if start else first
        until = date.fromisoformat(end) if end else default_end
    except ValueError:
        return first, default_end
    return (since, until) if since < until else (first, default_end)


def weeks(since: date, until: date, limit: int = 14) -> list[tuple[date, date]]:
    """Monday-to-Monday weeks over [since, until), clipped to the period; at most `limit` (the last ones)."""
    out, start = [], since - timedelta(days=since.weekday())
    while start < until:
        out.append((max(start, since), min(start + timedelta(days=7), until)))
        start += timedelta(days=7)
    return out[-limit:]


def midnight(day: date) -> str:
    return datetime.combine(day, time(0), tzinfo=timezone.utc).isoformat()


def figure(m: dict | None) -> str:
    """A measure's value as read on the page: "57.1 %", "12.5 min", "9 visits", or "no data"."""
    if not m or m.get("value") is None:
        return "no data"
    value = m["value"]
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{text} %" if m.get("unit") == "%" else f"{text} {m.get('unit', '')}".strip()


def share_of(m: dict | None) -> str:
    if not m or m.get("denominator") in (None, 0) or m.get("unit") != "%":
        return ""
    return f"{m['numerator']:g} of {m['denominator']:g}"


def by_id(body: dict) -> dict[str, dict]:
    return {m["id"]: m for m in body.get("measures", [])}


def svg(chart: Chart, measures: dict[str, dict]) -> str:
    items = [(SHORT.get(i, i), measures.get(i, {}).get("value")) for i in chart.measures]
    return charts.bars(chart.title, items, chart.unit, top=100 if chart.unit == "%" else None)


def weekly_svg(rows: list[tuple[str, dict | None]]) -> str:
    return charts.bars("Seen within target, by week (share of the week's indicated visits)",
                       [(label, (m or {}).get("value")) for label, m in rows], "%", top=100)


def csv_rows(ids: tuple[str, ...], measures: dict[str, dict]) -> list[list]:
    return [[i, *(("" if measures.get(i, {}).get(c) is None else measures[i][c]) for c in CSV_COLUMNS[1:])]
            for i in ids if i in measures]
