"""An 835 claim payment as a FHIR R4 ClaimResponse (fhir.resources.R4B), for the claim it answers."""
from __future__ import annotations

from datetime import datetime

from fhir.resources.R4B.claimresponse import ClaimResponse

from .codes import adjustment_in_words, remark_in_words
from .fhir import CLAIM_NUMBER, MEMBER, _drop_none

ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
CAS_GROUP = "https://x12.org/codes/claim-adjustment-group-codes"
CARC = "https://x12.org/codes/claim-adjustment-reason-codes"
RARC = "https://x12.org/codes/remittance-advice-remark-codes"
PAYER_NUMBER = "urn:peerbridge:payer-claim-control-number"
PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/ex-paymenttype"
OUTCOME = {"paid": "complete", "denied": "complete", "reversed": "complete"}


def _money(value: str) -> dict:
    return {"value": float(value), "currency": "USD"}


def _adjudication(adjustments: list[dict], charge: str, paid: str) -> list[dict]:
    """Submitted and paid (benefit) amounts, then each CAS group and CARC with its amount."""
    out = [{"category": {"coding": [{"system": ADJUDICATION, "code": "submitted"}]}, "amount": _money(charge)},
           {"category": {"coding": [{"system": ADJUDICATION, "code": "benefit"}]}, "amount": _money(paid)}]
    for a in adjustments:
        out.append({"category": {"coding": [{"system": CAS_GROUP, "code": a["group"]}]},
                    "reason": {"coding": [{"system": CARC, "code": a["reason"]}], "text": adjustment_in_words(a)},
                    "amount": _money(a["amount"])})
    return out


def build_claim_response(claim: dict, remittance: dict, created: datetime, payment: dict | None = None
                         ) -> ClaimResponse:
    """The ClaimResponse for one stored claim row (id, number, document) and its 835 detail."""
    doc = claim["document"]
    remarks = remittance["remarks"] + [r for line in remittance["lines"] for r in line["remarks"]]
    notes = [{"number": n, "type": "print", "text": remark_in_words(r)} for n, r in enumerate(remarks, start=1)]
    items = []
    for n, line in enumerate(remittance["lines"], start=1):
        note_numbers = [notes[remarks.index(r)]["number"] for r in line["remarks"]]
        items.append({"itemSequence": n, "noteNumber": note_numbers or None,
                      "adjudication": _adjudication(line["adjustments"], line["charge"], line["paid"])})
    if not items:  # a claim paid without service lines: the claim-level figures on its one item
        items.append({"itemSequence": 1, "adjudication": _adjudication([], remittance["charge"],
                                                                       remittance["paid"])})
    resource = {
        "resourceType": "ClaimResponse",
        "id": claim["id"],
        "identifier": [{"system": PAYER_NUMBER, "value": remittance["payer_claim_number"]}]
        if remittance.get("payer_claim_number") else None,
        "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
        "use": "claim",
        "patient": {"identifier": {"system": MEMBER + (doc.get("payer") or "unknown"),
                                   "value": doc.get("member_id") or "unknown"}},
        "created": created.isoformat(),
        "insurer": {"display": remittance.get("payer_name") or doc.get("payer") or "unknown"},
        "request": {"identifier": {"system": CLAIM_NUMBER, "value": claim["claim_number"]}},
        "outcome": OUTCOME.get(remittance["outcome"], "complete"),
        "disposition": {"paid": "paid", "denied": "denied", "reversed": "payment reversed"}[remittance["outcome"]],
        "item": items,
        "adjudication": _adjudication(remittance["adjustments"], remittance["charge"], remittance["paid"])[2:] or None,
        "total": [{"category": {"coding": [{"system": ADJUDICATION, "code": "submitted"}]},
                   "amount": _money(remittance["charge"])},
                  {"category": {"coding": [{"system": ADJUDICATION, "code": "benefit"}]},
                   "amount": _money(remittance["paid"])}],
        "processNote": notes or None,
    }
    if payment:
        resource["payment"] = {"type": {"coding": [{"system": PAYMENT_TYPE, "code": "complete"}]},
                               "date": payment.get("date"), "amount": _money(remittance["paid"]),
                               "identifier": {"value": payment["trace_number"]} if payment.get("trace_number")
                               else None}
    return ClaimResponse.model_validate(_drop_none(resource))
