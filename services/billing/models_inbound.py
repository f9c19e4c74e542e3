"""Billing's HTTP responses for what comes back: inbound files, remittances, the denial work queue."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel


class InboundRead(BaseModel):
    """A stored inbound file: its kind (999, 277CA, 835), SHA-256 and what applying it did."""

    id: str
    kind: str
    sha256: str
    summary: dict[str, Any]
    duplicate: bool = False
    source: str | None = None
    filename: str | None = None
    received_at: datetime | None = None


class RemittanceSummary(BaseModel):
    """An 835 payment: BPR02 and how it reconciles (claims paid less provider-level adjustments)."""

    id: str
    file_id: str
    payer_name: str | None
    payment_amount: str
    payment_method: str | None
    payment_date: date | None
    trace_number: str | None
    claims_paid: str
    provider_adjustments: str
    reconciled: bool
    claim_count: int
    received_at: datetime


class RemittanceClaim(BaseModel):
    claim_id: str | None
    claim_number: str
    status_code: str
    outcome: str
    charge: str
    paid: str
    payer_claim_number: str | None
    reasons: list[str]
    detail: dict[str, Any]


class RemittanceRead(RemittanceSummary):
    claims: list[RemittanceClaim]


class DenialRead(BaseModel):
    """A claim in the work queue: why (in words) and what to do."""

    claim_id: str
    claim_number: str
    status: str
    payer: str | None
    facility: str
    visit_number: str
    service_date: str | None
    charge: str
    payer_claim_number: str | None
    reasons: list[str]
    action: str


class RefusalRead(BaseModel):
    """A refused inbound file kept for reprocessing: why it was refused, how often, and whether it applied since."""

    id: str
    sha256: str
    source: str
    filename: str | None = None
    problems: list[dict[str, Any]]
    attempts: int
    first_refused_at: datetime
    last_refused_at: datetime
    applied_file_id: str | None = None


def refusal_read(row) -> RefusalRead:
    return RefusalRead(id=str(row["id"]), sha256=row["sha256"], source=row["source"], filename=row["filename"],
                       problems=row["problems"], attempts=row["attempts"], first_refused_at=row["first_refused_at"],
                       last_refused_at=row["last_refused_at"],
                       applied_file_id=str(row["applied_file_id"]) if row["applied_file_id"] else None)


def inbound_read(row) -> InboundRead:
    return InboundRead(id=str(row["id"]), kind=row["kind"], sha256=row["sha256"], summary=row["summary"],
                       source=row["source"], filename=row["filename"], received_at=row["received_at"])


def remittance_summary(row) -> RemittanceSummary:
    return RemittanceSummary(
        id=str(row["id"]), file_id=str(row["file_id"]), payer_name=row["payer_name"],
        payment_amount=f"{row['payment_amount']:.2f}", payment_method=row["payment_method"],
        payment_date=row["payment_date"], trace_number=row["trace_number"], claims_paid=f"{row['claims_paid']:.2f}",
        provider_adjustments=f"{row['provider_adjustments']:.2f}",
        reconciled=row["claims_paid"] - row["provider_adjustments"] == row["payment_amount"],
        claim_count=row["claim_count"], received_at=row["received_at"])


def remittance_read(head, claims) -> RemittanceRead:
    from .domain.codes import explain

    return RemittanceRead(**remittance_summary(head).model_dump(), claims=[RemittanceClaim(
        claim_id=str(c["claim_id"]) if c["claim_id"] else None, claim_number=c["claim_number"],
        status_code=c["status_code"], outcome=c["outcome"], charge=f"{c['charge']:.2f}", paid=f"{c['paid']:.2f}",
        payer_claim_number=c["payer_claim_number"], reasons=explain(c["detail"]), detail=c["detail"])
        for c in claims])


def denial(row, explain) -> DenialRead:
    if row["status"] == "denied" and row["remittance_detail"]:
        reasons = explain(row["remittance_detail"])
        action = "correct the claim and send a replacement: POST /claims/{id}/replace with the edits"
    else:
        ack = row["acknowledgement"] or {}
        reasons = [f"{s['category']}:{s['code']} {s['meaning']}" for s in ack.get("statuses", [])] or \
            [f"the clearinghouse rejected the file (999 {ack.get('code', 'R')})"]
        action = "fix the cause, then approve the claim again (POST /claims/{id}/approve) for the next batch"
    return DenialRead(claim_id=str(row["id"]), claim_number=row["claim_number"], status=row["status"],
                      payer=row["payer"], facility=row["facility"], visit_number=row["visit_number"],
                      service_date=row["service_date"].isoformat() if row["service_date"] else None,
                      charge=f"{row['charge']:.2f}", payer_claim_number=row["payer_claim_number"],
                      reasons=reasons, action=action)
