"""What pairing publishes on pairing.assignment.v1: offers, answers, the bedside, consent, encounters, closing."""
from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field

from .base import Event, FacilityId, Id, Instant, Npi, Shape, VisitNumber

TOPIC = "pairing.assignment.v1"


class _AssignmentEvent(Event):
    """What every event about one assignment carries."""

    topic: ClassVar[str] = TOPIC
    assignment_id: Id
    facility: FacilityId
    visit_number: VisitNumber
    specialist_id: Id


class PeerAssignmentOffered(_AssignmentEvent):
    """A peer specialist was offered the visit"""

    offered_at: Instant
    expires_at: Instant
    attempt: int | None = Field(None, ge=1)
    crisis: bool | None = Field(None, description="The case is on the crisis path: the peer is told 'crisis', nothing "
                                                  "more (issue 14)")


class PeerAssignmentAccepted(_AssignmentEvent):
    """The peer accepted"""

    accepted_at: Instant
    specialist_npi: Npi | None = None
    specialist_name: str | None = Field(None, description="The peer's display name (staff, not patient)")


class PeerAssignmentDeclined(_AssignmentEvent):
    """The peer declined"""

    declined_at: Instant
    reason_code: str | None = None


class PeerAssignmentExpired(_AssignmentEvent):
    """The offer was not accepted in time"""

    expired_at: Instant


class PeerAssignmentWithdrawn(_AssignmentEvent):
    """The offer or assignment was withdrawn (discharge, cancel, re-match)"""

    withdrawn_at: Instant
    reason: str


class PeerArrived(_AssignmentEvent):
    """The peer is at the bedside"""

    arrived_at: Instant


class NoPeerAvailable(Event):
    """Every escalation step ran out: the supervisor was alerted"""

    topic: ClassVar[str] = TOPIC
    facility: FacilityId
    visit_number: VisitNumber
    escalated_at: Instant
    reason: str | None = None
    case_id: Id | None = None
    supervisor: str | None = Field(None, description="Who was alerted (the facility's supervisor on call, from the "
                                                      "program settings)")


class ConsentRecorded(Event):
    """The patient's disclosure consent, recorded at the bedside"""

    topic: ClassVar[str] = TOPIC
    facility: FacilityId
    visit_number: VisitNumber
    assignment_id: Id | None = None
    granted: bool
    scope: str | None = None
    recorded_at: Instant
    expires_at: Instant | None = None


class Credential(Shape):
    """A certification of the rendering peer, as billing checks it on the date of service."""

    kind: str
    state: str | None = None
    expires_on: date


class PeerEncounterCompleted(Event):
    """A peer encounter took place (what billing needs to claim it)"""

    topic: ClassVar[str] = TOPIC
    encounter_id: Id
    assignment_id: Id | None = None
    facility: FacilityId
    visit_number: VisitNumber
    specialist_id: Id
    specialist_npi: Npi
    started_at: Instant
    ended_at: Instant
    minutes: int | None = Field(None, ge=0)
    modality: Literal["in-person", "telehealth-video", "telephone"]
    kind: Literal["individual", "group"]
    patient_at_home: bool | None = None
    credentials: list[Credential] | None = None
    specialist_name: str | None = Field(None, description="The rendering peer's name as on the roster (staff, not "
                                                          "patient data), for the claim's NM1*82")


class CaseClosed(Event):
    """The peer case (including follow-up) is closed"""

    topic: ClassVar[str] = TOPIC
    case_id: Id
    facility: FacilityId
    visit_number: VisitNumber
    closed_at: Instant
    reason: str


class _FollowUpWindowEvent(Event):
    """What every event about a follow-up window carries: ids and times only, never anything about the patient."""

    topic: ClassVar[str] = TOPIC
    case_id: Id
    touchpoint_id: int = Field(..., ge=1)
    facility: FacilityId
    visit_number: VisitNumber
    specialist_id: Id = Field(..., description="The peer who holds the case, to be reminded")
    kind: Literal["follow-up", "re-offer"]
    opens_at: Instant
    closes_at: Instant


class FollowUpWindowOpened(_FollowUpWindowEvent):
    """A follow-up window of a case opened: its peer should reach the patient before it closes"""


class FollowUpWindowClosing(_FollowUpWindowEvent):
    """A follow-up window closes soon and the patient has not been reached in it yet"""


class CrisisRaised(Event):
    """A case went on the crisis path: the facility's crisis route is to be reached (ids and route only)"""

    topic: ClassVar[str] = TOPIC
    handoff_id: Id
    case_id: Id
    facility: FacilityId
    visit_number: VisitNumber
    raised_at: Instant
    raised_by: Literal["intake", "peer", "supervisor"]
    route: str = Field(description="on-call-clinician, 988, mobile-crisis, ... (the facility's program settings)")
    contact: str | None = Field(None, description="The recipient the route reaches (a notify recipient id)")
    specialist_id: Id | None = Field(None, description="The peer holding the case, if any")
    supervisor: str | None = Field(None, description="The facility's supervisor (program settings)")


class CredentialRenewalDue(Event):
    """A peer's certification expires, or its continuing education falls due, within a warning threshold"""

    topic: ClassVar[str] = TOPIC
    specialist_id: Id
    credential: Literal["certification", "continuing-education"]
    kind: str = Field(description="CPRS, CRPS, ... (the certification's kind)")
    due_on: date
    days_left: int
    threshold_days: int = Field(description="The warning threshold crossed (60, 30 by default)")
    supervisor: str | None = Field(None, description="Who is warned: the peer's supervisor")
