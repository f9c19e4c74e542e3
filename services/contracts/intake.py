"""What intake publishes on intake.visit.v1."""
from __future__ import annotations

from typing import ClassVar, Literal

from .base import Event, FacilityId, Instant, VisitNumber
from .visit import Visit

TOPIC = "intake.visit.v1"


class EdVisitRegistered(Visit, Event):
    """An ED visit was registered (A04/A01 or FHIR Encounter)"""

    topic: ClassVar[str] = TOPIC


class EdVisitUpdated(Visit, Event):
    """An ED visit's details changed (A08)"""

    topic: ClassVar[str] = TOPIC


class PeerSupportIndicated(Visit, Event):
    """An ED visit now needs a peer at the bedside (once per visit)"""

    topic: ClassVar[str] = TOPIC


class EdVisitDischarged(Event):
    """The patient left the ED (A03), or a discharge was cancelled (A13, cancelled=true)"""

    topic: ClassVar[str] = TOPIC
    facility: FacilityId
    visit_number: VisitNumber
    discharged_at: Instant
    cancelled: bool | None = None


class EdVisitCancelled(Event):
    """The visit was cancelled (A11) or merged into another (A40)"""

    topic: ClassVar[str] = TOPIC
    facility: FacilityId
    visit_number: VisitNumber
    cancelled_at: Instant
    reason: Literal["cancelled", "merged"]
    merged_into: str | None = None
