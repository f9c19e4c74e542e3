"""Supervision against the hours the state requires: hours held in the current period, per peer."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Mapping

from .programs import Program

FORMATS = ("individual", "group")
TOPICS = ("boundaries", "ethics", "self-care", "crisis", "documentation", "cultural-humility", "recovery-support",
          "trauma-informed-care", "moud", "harm-reduction", "caseload", "other")


@dataclass(frozen=True)
class Standing:
    """A peer's supervision in the period ending today, against what their programs require."""

    period_from: date
    period_to: date
    required_hours: float
    held_hours: float
    individual_hours: float
    group_hours: float

    @property
    def meets(self) -> bool:
        return self.held_hours >= self.required_hours

    def as_dict(self) -> dict:
        return {"period_from": self.period_from.isoformat(), "period_to": self.period_to.isoformat(),
                "required_hours": self.required_hours, "held_hours": round(self.held_hours, 2),
                "individual_hours": round(self.individual_hours, 2), "group_hours": round(self.group_hours, 2),
                "meets_requirement": self.meets}


def requirement(programs: Iterable[Program]) -> tuple[float, int]:
    """Hours and period for a peer who works at several facilities: the strictest (most hours per day) applies."""
    found = [(p.supervision_hours, p.supervision_period_days) for p in programs]
    if not found:
        return 0.0, 30
    return max(found, key=lambda hp: hp[0] / max(hp[1], 1))


def standing(sessions: Iterable[Mapping], today: date, hours: float, period_days: int) -> Standing:
    """Hours of supervision held in the last `period_days` days (today included)."""
    start = today - timedelta(days=period_days - 1)
    inside = [s for s in sessions if start <= s["held_on"] <= today]
    by = {f: sum(s["minutes"] for s in inside if s["format"] == f) / 60 for f in FORMATS}
    return Standing(start, today, float(hours), sum(by.values()), by["individual"], by["group"])
