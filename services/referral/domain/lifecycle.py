"""The referral's state and how pairing's and intake's events move it (pure: values in, values out)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

TERMINAL = frozenset({"completed", "cancelled"})
BEFORE_CONTACT = frozenset({"requested", "accepted"})


@dataclass(frozen=True)
class Referral:
    """Everything the FHIR resources of one referral are built from."""

    id: str
    facility: str
    visit_number: str
    visit: dict[str, Any]
    authored_on: datetime
    status: str = "requested"
    business_status: str = "awaiting-offer"
    status_reason: str | None = None
    owner: str | None = None
    encounter_id: str | None = None
    consent: dict[str, Any] | None = field(default=None)

    @property
    def identifier(self) -> str:
        return f"{self.facility}:{self.visit_number}"


def consent_active(consent: dict | None, now: datetime) -> bool:
    """True when a granted consent is in force at `now` (not revoked, not expired)."""
    if not consent or consent.get("status") != "active":
        return False
    expires = consent.get("expires_at")
    return expires is None or datetime.fromisoformat(expires) > now


def _record_consent(ref: Referral, data: dict) -> Referral:
    previous = (ref.consent or {}).get("status")
    if data["granted"]:
        status = "active"
    else:
        status = "inactive" if previous == "active" else "rejected"
    consent = {"status": status, "scope": data.get("scope"), "recorded_at": data["recorded_at"],
               "expires_at": data.get("expires_at")}
    return replace(ref, consent=consent)


def transition(ref: Referral, name: str, data: dict) -> Referral:
    """The referral after event `name`; unchanged when the event does not apply (re-delivery, late, out of step)."""
    if name == "ConsentRecorded":
        return _record_consent(ref, data)
    if name == "PeerEncounterCompleted":
        ref = replace(ref, encounter_id=data["encounter_id"])
        if ref.status in TERMINAL:
            return ref
        return replace(ref, status="in-progress", business_status="follow-up", owner=data["specialist_id"])
    if ref.status in TERMINAL:
        return ref
    if name == "PeerAssignmentOffered" and ref.status == "requested":
        return replace(ref, business_status="offered")
    if name in ("PeerAssignmentDeclined", "PeerAssignmentExpired") and ref.status == "requested":
        return replace(ref, business_status="awaiting-offer")
    if name == "NoPeerAvailable" and ref.status == "requested":
        return replace(ref, business_status="escalated")
    if name == "PeerAssignmentAccepted" and ref.status in BEFORE_CONTACT:
        return replace(ref, status="accepted", business_status="accepted", owner=data["specialist_id"])
    if name == "PeerAssignmentWithdrawn" and ref.owner in (None, data["specialist_id"]):
        return replace(ref, status="requested", business_status="rematching", owner=None)
    if name == "PeerArrived" and ref.status in BEFORE_CONTACT:
        return replace(ref, status="in-progress", business_status="arrived", owner=data["specialist_id"])
    if name == "CaseClosed":
        return replace(ref, status="completed", business_status="closed")
    if name == "EdVisitCancelled":
        reason = "visit-merged" if data.get("reason") == "merged" else "visit-cancelled"
        return replace(ref, status="cancelled", business_status="cancelled", status_reason=reason)
    if name == "EdVisitDischarged" and not data.get("cancelled"):
        if ref.status in BEFORE_CONTACT:
            return replace(ref, status="cancelled", business_status="cancelled",
                           status_reason="left-before-contact")
        return replace(ref, business_status="follow-up")
    return ref
