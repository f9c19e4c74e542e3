"""What referral publishes on referral.referral.v1."""
from __future__ import annotations

from typing import ClassVar

from .base import Event, FacilityId, Id, VisitNumber

TOPIC = "referral.referral.v1"


class _ReferralEvent(Event):
    """What every referral event carries."""

    topic: ClassVar[str] = TOPIC
    referral_id: Id
    facility: FacilityId
    visit_number: VisitNumber


class ReferralCreated(_ReferralEvent):
    """FHIR ServiceRequest and Task written for a visit"""

    service_request_id: str
    task_id: str


class ReferralStatusChanged(_ReferralEvent):
    """The referral Task changed status"""

    service_request_id: str | None = None
    task_id: str | None = None
    status: str
    business_status: str | None = None


class DisclosureHeld(_ReferralEvent):
    """A push to the hospital was held: no active consent"""

    service_request_id: str | None = None
    task_id: str | None = None
    reason: str


class DisclosureSent(_ReferralEvent):
    """Referral resources were pushed to the hospital's FHIR server"""

    service_request_id: str | None = None
    task_id: str | None = None
    consent_id: str
    status_code: int | None = None
