"""Billing's HTTP responses: claims as listed and in full, and the 837P batch an export made."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ClaimSummary(BaseModel):
    """A claim as listed: ids, status, payer (rule set id) and plan id, units and charge (two decimals, as text)."""

    id: str
    claim_number: str
    encounter_id: str
    facility: str
    visit_number: str
    status: str
    frequency: str
    payer: str | None
    plan_id: str | None
    service_date: str | None
    units: int
    charge: str
    batch_id: str | None


class ClaimLine(BaseModel):
    code: str
    modifiers: list[str]
    units: int
    service_date: str
    place_of_service: str
    charge: str
    diagnosis_pointers: list[int]
    minutes: int


class HoldReason(BaseModel):
    code: str
    detail: str


class ClaimRead(ClaimSummary):
    """A claim with its lines, diagnoses, rendering provider and hold reasons; a replacement or void names its
    original."""

    member_id: str | None
    diagnoses: list[str]
    rendering: dict[str, Any] | None
    lines: list[ClaimLine]
    hold_reasons: list[HoldReason]
    original_claim_id: str | None
    original_claim_number: str | None
    payer_claim_number: str | None = None
    acknowledgement: dict[str, Any] | None = None
    remittance: dict[str, Any] | None = None
    paid_amount: str | None = None


class BatchRead(BaseModel):
    """An exported 837P batch: its id, the payer, the claims in it and the claims held for missing demographics."""

    id: str
    payer: str
    claim_count: int
    held: int


class BatchSummary(BaseModel):
    """An exported batch, what the clearinghouse's 999 said of it (status exported until one arrives), and how many
    of its claims are in each status now (accepted or rejected by the 277CA, paid or denied by the 835)."""

    id: str
    payer: str
    interchange_control_number: str
    claim_count: int
    status: str
    created_at: datetime
    acknowledgement: dict[str, Any] | None = None
    claims_by_status: dict[str, int] = {}
