"""835 Health Care Claim Payment/Advice (005010X221A1): per claim paid, adjusted (CAS), remarked (RARC), per line;
each claim and the whole payment balance as the guide requires."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .x12read import Document, RefusedFile, Seg, transactions

ZERO = Decimal("0")
GROUPS = {"CO", "CR", "OA", "PI", "PR"}
METHODS = {"ACH", "BOP", "CHK", "FWT", "NON"}
DENIED, REVERSAL = "4", "22"


@dataclass
class RemitClaim:
    """One CLP and what follows it: amounts, adjustments (claim level), remarks (MOA/MIA), service lines."""

    seq: int
    claim_number: str
    status_code: str
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal | None
    payer_claim_number: str | None
    frequency: str | None
    adjustments: list[dict] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    lines: list[dict] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """reversed (CLP02 22), denied (CLP02 4, or nothing paid and nothing left to the patient), else paid."""
        if self.status_code == REVERSAL:
            return "reversed"
        owed = sum((Decimal(a["amount"]) for a in self.all_adjustments() if a["group"] == "PR"), ZERO)
        return "denied" if self.status_code == DENIED or (self.paid == 0 and owed == 0) else "paid"

    def all_adjustments(self) -> list[dict]:
        return self.adjustments + [a for line in self.lines for a in line["adjustments"]]

    def detail(self) -> dict:
        """What is stored with the claim and served: JSON-ready."""
        return {"claim_number": self.claim_number, "status_code": self.status_code, "outcome": self.outcome,
                "charge": str(self.charge), "paid": str(self.paid),
                "patient_responsibility": None if self.patient_responsibility is None
                else str(self.patient_responsibility),
                "payer_claim_number": self.payer_claim_number, "frequency": self.frequency,
                "adjustments": self.adjustments, "remarks": self.remarks, "lines": self.lines}


@dataclass
class Remittance:
    """One 835 transaction: the payment (BPR, TRN), the payer, its claims and provider-level adjustments (PLB)."""

    payment_amount: Decimal
    method: str
    payment_date: date | None
    trace_number: str | None
    payer_name: str | None
    claims: list[RemitClaim] = field(default_factory=list)
    provider_adjustments: list[dict] = field(default_factory=list)

    @property
    def claims_paid(self) -> Decimal:
        return sum((c.paid for c in self.claims), ZERO)

    @property
    def plb_total(self) -> Decimal:
        return sum((Decimal(a["amount"]) for a in self.provider_adjustments), ZERO)


def parse_835(doc: Document) -> list[Remittance]:
    """Every remittance in the file, each balanced (RefusedFile naming the segment that does not balance)."""
    return [_transaction(tx, doc.component) for tx in transactions(doc)]


def _transaction(tx: list[Seg], comp: str) -> Remittance:
    bpr = next((s for s in tx if s.id == "BPR"), None)
    if bpr is None or tx[1].id != "BPR":
        raise tx[0].refuse("an 835 starts with BPR after ST")
    if bpr.get(4) not in METHODS:
        raise bpr.refuse("BPR04 is not a payment method code (ACH, BOP, CHK, FWT, NON)")
    remit = Remittance(bpr.amount(2), bpr.get(4), _date(bpr, 16, required=False), None, None)
    claim, line, claim_seg, line_seg = None, None, None, None
    for seg in tx[2:]:
        sid = seg.elements[0]
        if sid == "TRN" and remit.trace_number is None:
            remit.trace_number = seg.get(2) or None
        elif sid == "N1" and seg.get(1) == "PR":
            remit.payer_name = seg.get(2) or None
        elif sid == "CLP":
            _balance_claim(claim, claim_seg, line_seg)
            claim, line, claim_seg, line_seg = _clp(seg, len(remit.claims) + 1), None, seg, None
            remit.claims.append(claim)
        elif sid == "SVC" and claim is not None:
            _balance_line(line, line_seg)
            line, line_seg = _svc(seg, comp), seg
            claim.lines.append(line)
        elif sid == "CAS" and claim is not None:
            (line or {"adjustments": claim.adjustments})["adjustments"].extend(_cas(seg))
        elif sid == "LQ" and line is not None and seg.get(1) == "HE":
            line["remarks"].append(seg.get(2))
        elif sid == "MOA" and claim is not None:
            claim.remarks += [seg.get(i) for i in range(3, 8) if seg.get(i)]
        elif sid == "MIA" and claim is not None:
            claim.remarks += [seg.get(i) for i in (5, 20, 21, 22, 23) if seg.get(i)]
        elif sid == "DTM" and line is not None and seg.get(1) in ("472", "150"):
            line["service_date"] = _date(seg, 2).isoformat()
        elif sid == "REF" and line is not None and seg.get(1) == "6R":
            line["control_number"] = seg.get(2)
        elif sid == "PLB":
            _balance_claim(claim, claim_seg, line_seg)
            claim = line = None
            remit.provider_adjustments += _plb(seg, comp)
        elif sid == "SE":
            _balance_claim(claim, claim_seg, line_seg)
    if remit.claims_paid - remit.plb_total != remit.payment_amount:
        raise bpr.refuse("BPR02 is not the sum of CLP04 less the PLB adjustments")
    return remit


def _date(seg: Seg, i: int, *, required: bool = True) -> date | None:
    raw = seg.get(i)
    if not raw and not required:
        return None
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:8])) if len(raw) == 8 and raw.isdigit() else _bad()
    except ValueError:
        raise seg.refuse(f"{seg.id}{i:02d} is not a date (CCYYMMDD)") from None


def _bad():
    raise ValueError


def _clp(seg: Seg, seq: int) -> RemitClaim:
    return RemitClaim(seq, seg.identifier(1, 38), seg.identifier(2, 2), seg.amount(3), seg.amount(4),
                      seg.amount(5, required=False), seg.identifier(7, 50, required=False),
                      seg.identifier(9, 1, required=False))


def _svc(seg: Seg, comp: str) -> dict:
    procedure = seg.get(1).split(comp)
    if len(procedure) < 2 or not procedure[1]:
        raise seg.refuse("SVC01 needs a qualifier and a procedure code")
    units = seg.get(5) or "1"
    return {"procedure": procedure[1], "modifiers": [m for m in procedure[2:6] if m], "charge": str(seg.amount(2)),
            "paid": str(seg.amount(3)), "units": units, "adjustments": [], "remarks": []}


def _cas(seg: Seg) -> list[dict]:
    if seg.get(1) not in GROUPS:
        raise seg.refuse("CAS01 is not a claim adjustment group code (CO, CR, OA, PI, PR)")
    out = []
    for i in range(2, 20, 3):
        if not seg.get(i):
            continue
        out.append({"group": seg.get(1), "reason": seg.get(i), "amount": str(seg.amount(i + 1)),
                    "quantity": seg.get(i + 2) or None})
    if not out:
        raise seg.refuse("CAS02/CAS03 (reason and amount) are required")
    return out


def _plb(seg: Seg, comp: str) -> list[dict]:
    out = []
    for i in range(3, 15, 2):
        if seg.get(i):
            reason = seg.get(i).split(comp)
            out.append({"reason": reason[0], "reference": reason[1] if len(reason) > 1 else None,
                        "amount": str(seg.amount(i + 1))})
    return out


def _sum(adjustments: list[dict]) -> Decimal:
    return sum((Decimal(a["amount"]) for a in adjustments), ZERO)


def _balance_line(line: dict | None, seg: Seg | None) -> None:
    if line is not None and Decimal(line["charge"]) - Decimal(line["paid"]) != _sum(line["adjustments"]):
        raise seg.refuse("SVC02 less SVC03 is not the sum of the line's CAS amounts")


def _balance_claim(claim: RemitClaim | None, seg: Seg | None, line_seg: Seg | None) -> None:
    """The guide's balancing: lines on their own, then the claim's charge and payment against lines and CAS."""
    if claim is None:
        return
    if claim.lines:
        _balance_line(claim.lines[-1], line_seg)
        if sum((Decimal(line["charge"]) for line in claim.lines), ZERO) != claim.charge:
            raise seg.refuse("CLP03 is not the sum of the lines' SVC02")
        if sum((Decimal(line["paid"]) for line in claim.lines), ZERO) - _sum(claim.adjustments) != claim.paid:
            raise seg.refuse("CLP04 is not the lines' SVC03 less the claim's CAS amounts")
    elif claim.charge - claim.paid != _sum(claim.adjustments):
        raise seg.refuse("CLP03 less CLP04 is not the sum of the claim's CAS amounts")


__all__ = ["Remittance", "RemitClaim", "parse_835", "RefusedFile"]
