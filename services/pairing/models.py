"""Request bodies of pairing's HTTP API (invalid input becomes a 422 naming the field) and its responses."""
from __future__ import annotations

import re
import uuid
from datetime import date, time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer

from services.contracts import CdcRaceCode
from services.runtime.npi import is_valid_npi
from services.runtime.web import AwareInstant

from .domain.cases import CLOSE_REASONS
from .domain.shifts import PATTERNS, WEEKDAYS
from .models_followup import ContactRead, TouchpointRead

LIVED_EXPERIENCE = Literal["opioids", "alcohol", "stimulants", "cannabis", "sedatives", "polysubstance"]
BCP47 = r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"


def _after(end, start):
    if end is not None and start is not None and end <= start:
        raise ValueError("must be after the start")
    return end


def _pathways(value: list[str]) -> list[str]:
    if any(not p or len(p) > 40 for p in value):
        raise ValueError("pathways are short names such as 12-step, SMART, MOUD-supportive")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Certification(Strict):
    kind: str = Field(..., min_length=1, max_length=32)
    number: str = Field(..., min_length=1, max_length=64)
    state: str | None = Field(None, max_length=2)
    expires_on: date
    ce_due_on: date | None = Field(None, description="When the continuing-education hours for renewal fall due "
                                                     "(warned at 60 and 30 days, issue 14)")

    @model_serializer(mode="wrap")
    def _without_unset_ce(self, handler):
        # Left out when unknown, so a record stored before this field existed is still the same record (a repeat).
        data = handler(self)
        if data.get("ce_due_on") is None:
            data.pop("ce_due_on", None)
        return data


class SpecialistIn(Strict):
    name: str = Field(..., min_length=1, max_length=200)
    npi: str
    gender: Literal["male", "female", "nonbinary", "other"] | None = None
    birth_year: int | None = Field(None, ge=1900, le=2100)
    languages: list[str] = Field(["en"], min_length=1)
    certifications: list[Certification] = []
    recovery_since: date | None = None
    lived_experience: list[LIVED_EXPERIENCE] = []
    pathways: list[str] = []
    # Self-identified, in the code set intake sends for patients (CDC Race & Ethnicity); may stay empty.
    race: list[CdcRaceCode] = Field([], max_length=20)
    ethnicity: list[CdcRaceCode] = Field([], max_length=20)
    facilities: list[str] = []
    telehealth: bool = False
    caseload_cap: int = Field(8, ge=0, le=200)
    status: Literal["active", "on-leave", "inactive"] = "active"
    # Why the peer is on leave or inactive (e.g. recurrence-of-use); shown to supervisors only.
    status_reason: str | None = Field(None, max_length=64)

    @field_validator("npi")
    @classmethod
    def npi_check_digit(cls, value: str) -> str:
        if not is_valid_npi(value):
            raise ValueError("NPI must be 10 digits with a valid check digit")
        return value

    @field_validator("languages")
    @classmethod
    def bcp47(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not re.match(BCP47, tag):
                raise ValueError("languages must be BCP-47 tags such as en or es-MX")
        return value

    @field_validator("pathways")
    @classmethod
    def known_pathway(cls, value: list[str]) -> list[str]:
        return _pathways(value)


class ShiftIn(Strict):
    """An explicit shift, or a recurring pattern the service expands into shifts."""

    facility: str = Field(..., min_length=1, max_length=64)
    starts_at: AwareInstant | None = None
    ends_at: AwareInstant | None = None
    pattern: Literal[PATTERNS] | None = Field(None, validate_default=True)  # type: ignore[valid-type]
    start_time: time = time(0)
    days: list[Literal[WEEKDAYS]] = list(WEEKDAYS)  # type: ignore[valid-type]
    timezone: str = "UTC"
    start: date | None = None
    until: date | None = None

    @field_validator("ends_at")
    @classmethod
    def ends_after_start(cls, value, info):
        return _after(value, info.data.get("starts_at"))

    @field_validator("pattern")
    @classmethod
    def one_kind(cls, value, info):
        explicit = info.data.get("starts_at") or info.data.get("ends_at")
        if value is None and not (info.data.get("starts_at") and info.data.get("ends_at")):
            raise ValueError("give starts_at and ends_at (ISO 8601 with offset), or a pattern")
        if value is not None and explicit:
            raise ValueError("a pattern takes start/until dates, not starts_at/ends_at")
        return value


class RecusalIn(Strict):
    system: str = Field(..., min_length=1, max_length=200)
    value: str = Field(..., min_length=1, max_length=200)


class DeclineIn(Strict):
    reason: str = Field(..., min_length=1, max_length=64)


class ConsentIn(Strict):
    granted: bool
    scope: str = Field(..., min_length=1, max_length=64)
    accepts_support: bool = True
    contact_ok: bool = False
    # The patient's signature drawn on the peer's phone (42 CFR 2.31(a)(8)), a PNG data URL kept with the consent.
    signature: str | None = Field(None, max_length=200_000, pattern=r"^data:image/png;base64,[A-Za-z0-9+/=]+$")


class EncounterIn(Strict):
    assignment_id: str
    started_at: AwareInstant
    ended_at: AwareInstant
    modality: Literal["in-person", "telehealth-video", "telephone"]
    kind: Literal["individual", "group"] = "individual"
    patient_at_home: bool | None = None
    note: str | None = Field(None, max_length=10000)

    @field_validator("ended_at")
    @classmethod
    def ends_after_start(cls, value, info):
        return _after(value, info.data.get("started_at"))


class CloseIn(Strict):
    reason: Literal[CLOSE_REASONS]  # type: ignore[valid-type]


class AssignIn(Strict):
    specialist_id: uuid.UUID
    note: str | None = Field(None, max_length=2000)


class PreferencesIn(Strict):
    """What the patient asks of their peer, recorded at first contact; a PUT replaces the whole set."""

    pathways: list[str] = Field([], max_length=10, description="Recovery pathways the patient wants, most wanted "
                                                               "first (12-step, SMART, MOUD-supportive, ...)")
    same_gender_peer: bool = False
    language: str | None = Field(None, pattern=BCP47, description="BCP-47; the language the patient wants to be "
                                                                   "supported in, when not the one the ED recorded")

    @field_validator("pathways")
    @classmethod
    def known_pathway(cls, value: list[str]) -> list[str]:
        return _pathways(value)


# Responses: timestamps are sent as the ISO 8601 text the database's value gives (isoformat), nulls included.

class Created(BaseModel):
    """The id of what was recorded (201), or of what a repeat found recorded already (200)."""

    id: str


class IndicationSummary(BaseModel):
    """Why a peer, in words a peer reads: the rule's category and substance (no code, no free text)."""

    kind: str
    category: str | None = None
    substance: str | None = None


class AssignmentVisit(BaseModel):
    """What a peer needs to find and prepare for the patient: where, why (in words), language and time in the ED."""

    location: str | None = None
    bed: str | None = None
    language: str | None = None
    arrived_at: str | None = None
    indications: list[IndicationSummary] = []


class ConsentSummary(BaseModel):
    granted: bool
    accepts_support: bool
    contact_ok: bool
    recorded_at: str


class AssignmentRead(BaseModel):
    id: str
    case_id: str
    specialist_id: str
    facility: str
    visit_number: str
    status: str
    attempt: int
    offered_at: str | None
    expires_at: str | None
    accepted_at: str | None
    declined_at: str | None
    arrived_at: str | None
    closed_at: str | None
    transfer_note: str | None
    explanation: Any
    visit: AssignmentVisit | None = None
    # On GET /assignments/{id} only: the latest consent recorded and how many encounters.
    consent: ConsentSummary | None = None
    encounters: int | None = None
    crisis: bool | None = Field(None, description="The case is on the crisis path (issue 14): the app says so")


class AssignmentState(BaseModel):
    """An assignment's state after the peer's answer."""

    id: str
    status: str


class Arrival(AssignmentState):
    arrived_at: str


class CaseRead(BaseModel):
    id: str
    facility: str
    visit_number: str
    status: str
    specialist_id: str | None
    opened_at: str | None
    closed_at: str | None
    close_reason: str | None
    crisis: bool = Field(False, description="On the crisis path (issue 14): see GET /crisis-handoffs?case_id=")


class CaseDetail(CaseRead):
    """A case with the patient's preferences (null until recorded), its follow-up plan and contacts."""

    preferences: dict[str, Any] | None
    plan: list[TouchpointRead]
    contacts: list[ContactRead]


class PreferencesRead(BaseModel):
    id: str
    preferences: PreferencesIn


class CaseClose(BaseModel):
    id: str
    status: str
    reason: str


class SpecialistRead(BaseModel):
    """The specialist's record as stored (the fields of SpecialistIn but status_reason) with its id and status.

    The record is open: it carries whatever the roster stored for this specialist; `status_reason` is present for
    supervisors only, and an update that takes the peer off duty adds `rematch` (what was offered again)."""

    model_config = ConfigDict(extra="allow")

    id: str
    status: str


class MyDay(BaseModel):
    """A peer's own view of themselves: caseload against the cap and their shifts from now on."""

    id: str
    name: str
    caseload_cap: int
    open_cases: int
    pending_offers: int
    shifts: list["ShiftRead"]


class ShiftsSet(BaseModel):
    id: str
    shifts: int


class ShiftRead(BaseModel):
    facility: str
    starts_at: str
    ends_at: str


class RecusalsSet(BaseModel):
    id: str
    recusals: int
