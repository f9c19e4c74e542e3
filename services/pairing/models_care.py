"""Request bodies and answers of the care routes (issue 14): crisis, re-matching one case, supervision, leave."""
from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from services.runtime.web import AwareInstant

from .domain.care_settings import CRISIS_ROUTES
from .domain.crisis import OUTCOMES
from .domain.rematch_case import PATIENT_REASONS, SUPERVISOR_REASONS
from .domain.supervision import FORMATS, TOPICS
from .models import Strict

CODE = r"^[a-z0-9][a-z0-9-]{0,39}$"


class CrisisIn(Strict):
    route: Literal[CRISIS_ROUTES] | None = Field(  # type: ignore[valid-type]
        None, description="One of the facility's configured crisis routes; the first configured when left out")


class HandoffOutcomeIn(Strict):
    outcome: Literal[OUTCOMES]  # type: ignore[valid-type]
    handed_off_at: AwareInstant | None = Field(None, description="When the route took over; now when left out and "
                                                                 "the outcome is handed-off")
    notes_code: str | None = Field(None, pattern=CODE, description="A short code, never free text")


class HandoffRead(BaseModel):
    id: str
    case_id: str
    facility: str
    visit_number: str
    raised_at: str
    raised_by: str
    route: str
    contact: str | None
    handed_off_at: str | None
    outcome: str | None
    notes_code: str | None


class RematchIn(Strict):
    reason: Literal[PATIENT_REASONS + SUPERVISOR_REASONS]  # type: ignore[valid-type]
    requested_by: Literal["patient", "supervisor"]
    peer_gender: Literal["male", "female", "nonbinary", "other"] | None = Field(
        None, description="The patient asked for a peer of this gender (this re-match only)")
    pathway: str | None = Field(None, min_length=1, max_length=40,
                                description="The patient asked for a peer following this recovery pathway")
    note: str | None = Field(None, max_length=2000, description="The hand-over note the new peer reads")


class Rematched(BaseModel):
    id: str = Field(description="The new (accepted) assignment")
    case_id: str
    specialist_id: str


class SessionIn(Strict):
    held_on: date
    supervisor: str = Field(..., min_length=1, max_length=64)
    minutes: int = Field(..., gt=0, le=600)
    format: Literal[FORMATS]  # type: ignore[valid-type]
    topics: list[Literal[TOPICS]] = Field([], max_length=12)  # type: ignore[valid-type]


class SessionRead(BaseModel):
    id: str
    held_on: str
    supervisor: str
    minutes: int
    format: str
    topics: list[str]


class SupervisionRead(BaseModel):
    specialist_id: str
    standing: dict = Field(description="period_from, period_to, required_hours, held_hours, individual_hours, "
                                       "group_hours, meets_requirement")
    sessions: list[SessionRead]


class RenewalRead(BaseModel):
    specialist_id: str
    credential: str
    kind: str
    due_on: str
    days_left: int
    threshold_days: int
    supervisor: str | None


class LeaveIn(Strict):
    reason: str = Field(..., min_length=1, max_length=64, pattern=CODE,
                        description="A reason code (e.g. recurrence-of-use, personal, medical): the supervisor's only")
    supervisor: str | None = Field(None, max_length=64, description="The peer's supervisor, the only reader of the "
                                                                    "reason; the program's supervisor when left out")


class LeaveRead(BaseModel):
    specialist_id: str
    status: Literal["unavailable", "available"]
    since: str | None = None
    reason: str | None = Field(None, description="Only for the peer's supervisor")


class Move(BaseModel):
    case_id: str
    facility: str | None = None
    to_specialist_id: str | None
    score: float | None = None
    eligible: int | None = None


class LeavePlan(BaseModel):
    specialist_id: str
    moves: list[Move]


class ApplyIn(Strict):
    moves: list[Move] | None = Field(None, description="The preview the supervisor approved; refused (409) when the "
                                                       "plan has changed since")


class LeaveApplied(LeavePlan):
    rematched: int
    unassigned: int
