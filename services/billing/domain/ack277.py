"""277CA Claim Acknowledgment (005010X214): each claim accepted into adjudication or rejected, and the payer's
claim control number."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .x12read import Document, transactions

# STC01-1, the claim status category (X12 code list 507).
ACCEPTED = {"A0": "forwarded", "A1": "received", "A2": "accepted into adjudication", "A5": "split"}
REJECTED = {"A3": "returned as unprocessable", "A4": "not found", "A6": "rejected for missing information",
            "A7": "rejected for invalid information", "A8": "rejected for relational field errors"}


@dataclass
class ClaimAck:
    """One claim's acknowledgment (loop 2200D): our claim number (TRN02 = CLM01), statuses, the payer's number."""

    claim_number: str
    accepted: bool
    statuses: list[dict] = field(default_factory=list)
    payer_claim_number: str | None = None
    clearinghouse_trace: str | None = None
    amount: str | None = None

    def summary(self) -> dict:
        return asdict(self)


def parse_277ca(doc: Document) -> list[ClaimAck]:
    """Every claim acknowledged in the file (patient-level HL with TRN and STC)."""
    acks: list[ClaimAck] = []
    for tx in transactions(doc):
        if tx[0].get(1) == "277" and not any(s.id == "BHT" and s.get(1) == "0085" for s in tx):
            raise tx[0].refuse("a 277CA needs BHT01 0085")
        current: ClaimAck | None = None
        level, trn = "", None
        for seg in tx:
            if seg.id == "HL":
                _finish(current, acks, trn)
                current, level = None, seg.get(3)
            elif seg.id == "TRN" and level == "PT":
                if seg.get(1) != "2":
                    raise seg.refuse("TRN of a claim needs TRN01 2 and our claim number in TRN02")
                current = ClaimAck(seg.identifier(2, 50), accepted=False)
                trn = seg
            elif seg.id == "STC" and level == "PT":
                if current is None:
                    raise seg.refuse("STC of a claim must follow its TRN")
                current.statuses += _statuses(seg, doc.component)
                current.amount = current.amount or (str(seg.amount(4)) if seg.get(4) else None)
            elif seg.id == "REF" and current is not None:
                if seg.get(1) == "1K":
                    current.payer_claim_number = seg.identifier(2, 50)
                elif seg.get(1) == "D9":
                    current.clearinghouse_trace = seg.identifier(2, 50)
            elif seg.id == "SE":
                _finish(current, acks, trn)
                current = None
    return acks


def _statuses(seg, component: str) -> list[dict]:
    """STC01, STC10 and STC11: category, status code, entity; refused when the category is not one we know."""
    out = []
    for i in (1, 10, 11):
        if not seg.get(i):
            continue
        parts = (seg.get(i).split(component) + ["", "", ""])[:3]
        if parts[0] not in ACCEPTED and parts[0] not in REJECTED:
            raise seg.refuse(f"STC{i:02d}-1 is not a claim acknowledgment category (A0-A8)")
        out.append({"category": parts[0], "code": parts[1], "entity": parts[2],
                    "meaning": ACCEPTED.get(parts[0]) or REJECTED[parts[0]]})
    if not out:
        raise seg.refuse("STC01 is required")
    return out


def _finish(ack: ClaimAck | None, acks: list[ClaimAck], trn) -> None:
    if ack is None:
        return
    if not ack.statuses:
        raise trn.refuse("a claim's TRN needs an STC (its status)")
    ack.accepted = not any(s["category"] in REJECTED for s in ack.statuses)
    acks.append(ack)
