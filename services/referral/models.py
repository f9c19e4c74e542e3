"""Referral's plain HTTP responses: a visit's referral status and the audit trail as JSON."""
from __future__ import annotations

from pydantic import BaseModel


class ReferralRead(BaseModel):
    """A visit's referral: the Task's status and owner, the resources it is known by, the consent's status."""

    id: str
    status: str
    business_status: str | None
    status_reason: str | None
    owner_specialist_id: str | None
    service_request: str
    task: str
    consent: str | None


class AuditRecord(BaseModel):
    id: int
    recorded_at: str
    action: str
    actor: str
    actor_role: str | None
    purpose: str | None
    resource_type: str | None
    resource_ids: list[str]
    referral_id: str | None
    destination: str | None
    outcome: str
    status_code: int | None


class AuditPage(BaseModel):
    """Audit records, newest first, and how many match in all."""

    total: int
    records: list[AuditRecord]
