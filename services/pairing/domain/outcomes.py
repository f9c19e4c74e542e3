"""Program outcomes computed from the record (cases, offers, consents, windows, contacts): pure, one row per figure."""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Sequence

# Why a case left the ED before anyone met the patient: these do not count as "still in the ED".
LEFT_ED = ("discharged-before-peer", "visit-cancelled")
# A case still in the program at 90 days: open then, or closed as completed.
RETAINED_CLOSES = ("completed",)


@dataclass(frozen=True)
class Window:
    """A follow-up window of a case, as stored: offset from the case's opening, close, outcome."""

    offset_hours: float | None
    kind: str
    closes_at: datetime | None
    outcome: str | None


@dataclass(frozen=True)
class Contact:
    at: datetime
    outcome: str
    learned: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaseFacts:
    """What the record says about one indicated visit (its case), as outcomes read it."""

    case_id: str
    facility: str
    opened_at: datetime
    target_minutes: float
    first_offer: datetime | None = None
    first_accept: datetime | None = None
    first_bedside: datetime | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    consent_granted: bool | None = None
    accepts_support: bool | None = None
    windows: tuple[Window, ...] = ()
    contacts: tuple[Contact, ...] = ()
    crisis_handoffs: int = 0


@dataclass(frozen=True)
class Measure:
    """One figure: its definition, and numerator over denominator (denominator None for a count or a time)."""

    id: str
    label: str
    definition: str
    numerator: float | None
    denominator: float | None
    value: float | None
    unit: str
    note: str | None = None

    def as_json(self) -> dict:
        found = {"id": self.id, "label": self.label, "definition": self.definition, "numerator": self.numerator,
                 "denominator": self.denominator, "value": self.value, "unit": self.unit}
        return {**found, "note": self.note} if self.note else found


@dataclass
class Definition:
    id: str
    label: str
    definition: str
    unit: str = "%"
    notes: list[str] = field(default_factory=list)


def share(d: Definition, hits: int, of: int) -> Measure:
    """A proportion as a percentage with one decimal (None when nobody is in the denominator)."""
    return Measure(d.id, d.label, d.definition, hits, of, round(100 * hits / of, 1) if of else None, "%")


def count(d: Definition, n: int, unit: str, note: str | None = None) -> Measure:
    return Measure(d.id, d.label, d.definition, n, None, n, unit, note)


def median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def p90(values: Sequence[float]) -> float | None:
    """The 90th percentile by nearest rank: the smallest value at or above 90 % of the values."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[math.ceil(0.9 * len(ordered)) - 1], 1)


def minutes(later: datetime | None, earlier: datetime) -> float | None:
    return (later - earlier).total_seconds() / 60 if later is not None else None


def within(c: CaseFacts) -> bool:
    return c.first_bedside is not None and minutes(c.first_bedside, c.opened_at) <= c.target_minutes


def still_in_ed(c: CaseFacts) -> bool:
    """Whether the patient was still in the ED when the target time ran out (or a peer met them before)."""
    if c.first_bedside is not None or c.close_reason not in LEFT_ED or c.closed_at is None:
        return True
    return minutes(c.closed_at, c.opened_at) > c.target_minutes


def mature(c: CaseFacts, as_of: datetime, days: float) -> bool:
    """Whether `days` have passed since the case opened, so a figure about them can no longer change."""
    return c.opened_at + timedelta(days=days) <= as_of


def engaged(c: CaseFacts, days: int) -> bool | None:
    """Reached in the window at `days`: True or False once known (reached, or the window closed); None while open
    or when the plan has no such window."""
    for w in c.windows:
        if w.kind == "follow-up" and w.offset_hours is not None and round(w.offset_hours) == days * 24:
            if w.outcome == "reached":
                return True
            if w.outcome is not None:
                return False
            return None
    return None


def learned_within(c: CaseFacts, codes: Sequence[str], days: float) -> bool:
    limit = c.opened_at + timedelta(days=days)
    return any(k.outcome == "reached" and k.at <= limit and set(codes) & set(k.learned) for k in c.contacts)


def retained(c: CaseFacts, days: float = 90) -> bool:
    at = c.opened_at + timedelta(days=days)
    return c.closed_at is None or c.closed_at >= at or c.close_reason in RETAINED_CLOSES


Timer = Callable[[CaseFacts], datetime | None]
TIMES: list[tuple[str, str, Timer]] = [
    ("offer", "first offer", lambda c: c.first_offer),
    ("accept", "first acceptance", lambda c: c.first_accept),
    ("bedside", "the peer at the bedside", lambda c: c.first_bedside),
]
