"""Follow-up bodies and views: a coded contact, a touchpoint with its window, a contact as the case view shows it."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.runtime.web import AwareInstant

from .domain.cases import CONTACT_OUTCOMES
from .domain.followup import LEARNED, TREATMENT_TYPES


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: AwareInstant
    outcome: Literal[CONTACT_OUTCOMES]  # type: ignore[valid-type]
    # What a call that reached the patient learned (codes only); the treatment entered; a BARC-10 (ten items, 1-6).
    learned: list[Literal[LEARNED]] = Field([], max_length=len(LEARNED))  # type: ignore[valid-type]
    treatment_type: Literal[TREATMENT_TYPES] | None = None  # type: ignore[valid-type]
    barc10: list[int] | None = Field(None, min_length=10, max_length=10)

    @field_validator("barc10")
    @classmethod
    def barc10_items(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(not 1 <= item <= 6 for item in value):
            raise ValueError("each BARC-10 item is scored from 1 to 6")
        return value


class TouchpointRead(BaseModel):
    kind: str
    due_at: str | None
    done_at: str | None
    outcome: str | None
    opens_at: str | None = None
    closes_at: str | None = None
    missed_at: str | None = None


class ContactRead(BaseModel):
    id: str
    at: str | None
    outcome: str | None
    window_due_at: str | None = None
    learned: list[str] = []
    treatment_type: str | None = None
    barc10_total: int | None = None
