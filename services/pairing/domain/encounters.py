"""Whether a peer encounter's recorded times can be true: not in the future, not longer than the program allows."""
from __future__ import annotations

from datetime import datetime, timedelta

from .programs import Program

# Phones and servers disagree by seconds to a few minutes; an encounter that "ends now" on the peer's phone is fine.
CLOCK_SKEW = timedelta(minutes=5)


class EncounterRefused(ValueError):
    """Times that cannot describe an encounter that happened; the text names the field, never the value."""


def check_times(started_at: datetime, ended_at: datetime, now: datetime, program: Program) -> None:
    """Refuse an encounter that ends in the future or outlasts the program's limit (EncounterIn orders the times)."""
    if ended_at > now + CLOCK_SKEW:
        raise EncounterRefused("ended_at: in the future; an encounter is recorded once it has ended")
    if ended_at - started_at > program.max_encounter:
        raise EncounterRefused(f"ended_at: this program's encounters last at most "
                               f"{program.max_encounter_minutes:g} minutes")
