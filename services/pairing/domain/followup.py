"""Follow-up as windows: each touchpoint opens and closes; a contact counts for the window it falls in."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Mapping, Sequence

# What a call came to: the patient answered, nobody answered, or the number reaches someone else.
CALL_OUTCOMES = ("reached", "no-answer", "wrong-number")
# What the peer learned on a call that reached the patient (codes, never free text).
LEARNED = ("entered-treatment", "moud-started", "moud-continued", "recurrence-of-use", "crisis",
           "housing-linkage", "legal-linkage", "declined-further-contact", "deceased")
TREATMENT_TYPES = ("outpatient", "intensive-outpatient", "residential", "inpatient-withdrawal-management",
                   "opioid-treatment-program", "office-based-moud", "mutual-help", "other")
# What ends follow-up: the case closes with this reason and the windows still ahead are cancelled.
ENDING = {"declined-further-contact": "declined", "deceased": "deceased"}
BARC10_ITEMS, BARC10_MIN, BARC10_MAX = 10, 1, 6
# Deadline kinds of a window, in the order they come due.
WINDOW_OPEN, WINDOW_CLOSING, WINDOW_CLOSE = "window-open", "window-closing", "window-close"


class ContactRefused(ValueError):
    """A contact whose codes contradict each other; the text names the field."""


@dataclass(frozen=True)
class Touchpoint:
    """One touchpoint of the plan: when it is due, when its window opens and closes, when the peer is reminded."""

    kind: str
    due_at: datetime
    opens_at: datetime
    closes_at: datetime
    remind_at: datetime
    offset_hours: float

    def __iter__(self):
        # Callers that read a plan as (kind, due) pairs keep working.
        return iter((self.kind, self.due_at))

    def holds(self, at: datetime) -> bool:
        """Whether `at` falls in this window (half-open: the close belongs to nobody)."""
        return self.opens_at <= at < self.closes_at


def windows(start: datetime, kind: str, offsets_hours: Sequence[float], before_hours: Sequence[float],
            after_hours: Sequence[float], closing_reminder_hours: float) -> list[Touchpoint]:
    """The touchpoints at `offsets_hours` after `start`, each open `before_hours` ahead of its due time and
    `after_hours` after it; the closing reminder goes `closing_reminder_hours` before the close, never before the
    window opens."""
    plan = []
    for offset, before, after in zip(offsets_hours, before_hours, after_hours):
        due = start + timedelta(hours=offset)
        opens, closes = due - timedelta(hours=before), due + timedelta(hours=after)
        remind = max(opens, closes - timedelta(hours=closing_reminder_hours))
        plan.append(Touchpoint(kind, due, opens, closes, remind, float(offset)))
    return plan


def overlapping(offsets_hours: Sequence[float], before_hours: Sequence[float],
                after_hours: Sequence[float]) -> tuple[float, float] | None:
    """The first two touchpoints (by offset) whose windows overlap, or None: a contact must fall in one window."""
    spans = sorted((o - b, o + a, o) for o, b, a in zip(offsets_hours, before_hours, after_hours))
    for (_, close, first), (opens, _, second) in zip(spans, spans[1:]):
        if opens < close:
            return first, second
    return None


def window_of(plan: Iterable[Mapping], at: datetime) -> Mapping | None:
    """The stored touchpoint whose window holds `at` and is still live (not cancelled), or None between windows."""
    for t in plan:
        if t["opens_at"] is None or t["outcome"] not in (None, "reached", "missed"):
            continue
        if t["opens_at"] <= at < t["closes_at"]:
            return t
    return None


def check_contact(outcome: str, learned: Sequence[str], treatment_type: str | None,
                  barc10: Sequence[int] | None) -> None:
    """Refuse codes that cannot go together: what was learned needs a reached patient, a treatment type needs
    entered-treatment (and the reverse), a BARC-10 needs ten items of 1 to 6 and a reached patient."""
    if outcome != "reached" and (learned or barc10):
        raise ContactRefused("learned: only a call that reached the patient can record what was learned")
    if len(set(learned)) != len(learned):
        raise ContactRefused("learned: a code appears twice")
    if ("entered-treatment" in learned) != (treatment_type is not None):
        raise ContactRefused("treatment_type: required with entered-treatment, and only with it")
    if "moud-started" in learned and "moud-continued" in learned:
        raise ContactRefused("learned: MOUD either started or continued")
    if barc10 is not None:
        if len(barc10) != BARC10_ITEMS or any(not BARC10_MIN <= item <= BARC10_MAX for item in barc10):
            raise ContactRefused("barc10: ten items, each from 1 to 6")


def barc10_total(items: Sequence[int] | None) -> int | None:
    """The BARC-10 recovery capital score: the sum of its ten items (10 to 60)."""
    return sum(items) if items else None


def ending_reason(learned: Sequence[str]) -> str | None:
    """The close reason when what was learned ends follow-up (deceased before declined), else None."""
    for code in ("deceased", "declined-further-contact"):
        if code in learned:
            return ENDING[code]
    return None
