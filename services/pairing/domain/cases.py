"""A case's follow-up plan (touchpoints with windows) and the reason codes that close it."""
from __future__ import annotations

from datetime import datetime

from .followup import CALL_OUTCOMES, Touchpoint, windows
from .programs import Program

CLOSE_REASONS = ("completed", "declined", "unreachable", "deceased", "incarcerated", "moved",
                 "transferred-care", "visit-cancelled", "no-peer-available", "other")
# The coded call outcomes first; the older ones stay accepted for clients that send them.
CONTACT_OUTCOMES = CALL_OUTCOMES + ("left-message", "declined", "incarcerated", "deceased", "moved")
# Outcomes after which no further calls make sense: the case closes with the same reason.
CLOSING_OUTCOMES = {"deceased": "deceased", "incarcerated": "incarcerated"}


def follow_up_plan(opened_at: datetime, program: Program) -> list[Touchpoint]:
    """The touchpoints of a case accepted in the ED (72 hours, then 7, 30, 60, 90 days by default), with windows."""
    return windows(opened_at, "follow-up", program.follow_up_hours, program.follow_up_window_before_hours,
                   program.follow_up_window_after_hours, program.follow_up_closing_reminder_hours)


def re_offer_plan(declined_at: datetime, program: Program) -> list[Touchpoint]:
    """Calls offering peer support again to a patient who declined in the ED but agreed to contact."""
    width = [program.re_offer_window_hours] * len(program.re_offer_days)
    return windows(declined_at, "re-offer", [d * 24 for d in program.re_offer_days], width, width,
                   program.follow_up_closing_reminder_hours)
