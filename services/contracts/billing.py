"""What billing publishes on billing.claim.v1."""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from .base import Event, FacilityId, Id, VisitNumber

TOPIC = "billing.claim.v1"
PLAN_ID = "The feed's insurance plan id (IN1-2); payer is the rule set id"


class ClaimPrepared(Event):
    """A claim is ready for review"""

    topic: ClassVar[str] = TOPIC
    claim_id: Id
    facility: FacilityId
    visit_number: VisitNumber
    payer: str
    units: int | None = None
    charge: str | None = None
    plan_id: str | None = Field(None, description=PLAN_ID)


class ClaimHeld(Event):
    """A claim was held with reasons"""

    topic: ClassVar[str] = TOPIC
    claim_id: Id
    facility: FacilityId
    visit_number: VisitNumber
    payer: str | None = None
    reasons: list[str]
    plan_id: str | None = Field(None, description=PLAN_ID)


class BatchExported(Event):
    """An 837P batch was exported"""

    topic: ClassVar[str] = TOPIC
    batch_id: Id
    payer: str
    claim_count: int
    interchange_control_number: str | None = None
