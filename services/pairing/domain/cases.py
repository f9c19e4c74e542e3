"""A case's follow-up plan and the reason codes that close it."""
from __future__ import annotations

from datetime import datetime, timedelta

from .programs import Program

CLOSE_REASONS = ("completed", "declined", "unreachable", "deceased", "incarcerated", "moved",
                 "transferred-care", "visit-cancelled", "no-peer-available", "other")
CONTACT_OUTCOMES = ("reached", "no-answer", "left-message", "declined", "incarcerated", "deceased",
                    "wrong-number", "moved")
# Outcomes after which no further calls make sense: the case closes with the same reason.
CLOSING_OUTCOMES = {"deceased": "deceased", "incarcerated": "incarcerated"}


def follow_up_plan(opened_at: datetime, program: Program) -> list[tuple[str, datetime]]:
    """The touchpoints of a case accepted in the ED (72 hours, then 7, 30, 60, 90 days by default)."""
    return [("follow-up", opened_at + timedelta(hours=h)) for h in program.follow_up_hours]


def re_offer_plan(declined_at: datetime, program: Program) -> list[tuple[str, datetime]]:
    """Calls offering peer support again to a patient who declined in the ED but agreed to contact."""
    return [("re-offer", declined_at + timedelta(days=d)) for d in program.re_offer_days]
