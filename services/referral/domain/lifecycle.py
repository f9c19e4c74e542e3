"""The referral's state and how pairing's and intake's events move it (pure: values in, values out)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from services.contracts import (CaseClosed, ConsentRecorded, EdVisitCancelled, EdVisitDischarged, NoPeerAvailable,
                                PeerArrived, PeerAssignmentAccepted, PeerAssignmentDeclined, PeerAssignmentExpired,
                                PeerAssignmentOffered, PeerAssignmentWithdrawn, PeerEncounterCompleted, Visit)

from .consent import expiry

TERMINAL = frozenset({"completed", "cancelled"})
BEFORE_CONTACT = frozenset({"requested", "accepted"})

# What moves a referral once it exists: pairing's events and the end of the ED visit.
PairingEvent = (PeerAssignmentOffered | PeerAssignmentAccepted | PeerAssignmentDeclined | PeerAssignmentExpired
                | PeerAssignmentWithdrawn | NoPeerAvailable | PeerArrived | ConsentRecorded | PeerEncounterCompleted
                | CaseClosed)
VisitEnded = EdVisitDischarged | EdVisitCancelled
Move = PairingEvent | VisitEnded


@dataclass(frozen=True)
class Referral:
    """Everything the FHIR resources of one referral are built from."""

    id: str
    facility: str
    visit_number: str
    visit: Visit
    authored_on: datetime
    status: str = "requested"
    business_status: str = "awaiting-offer"
    status_reason: str | None = None
    owner: str | None = None
    owner_npi: str | None = None       # the owner's NPI and name when pairing named them (for the hospital's copy)
    owner_name: str | None = None
    encounter_id: str | None = None
    # The referral's own stored state (JSONB, also read by SQL in store.DISCLOSABLE), not an event.
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


def _record_consent(ref: Referral, event: ConsentRecorded) -> Referral:
    previous = ref.consent or {}
    consent = {"scope": event.scope, "recorded_at": event.recorded_at.isoformat(),
               "expires_at": expiry(event.recorded_at, event.expires_at).isoformat()}
    if event.recipients is not None:  # the recipients the patient named; absent, the scope decides
        consent["recipients"] = [r.model_dump() for r in event.recipients]
    if event.signed_at is not None:
        consent["signature"] = {"signed_at": event.signed_at.isoformat(), "signer": event.signer or "patient",
                                "sha1": event.signature_sha1, "size": event.signature_size,
                                "url": event.signature_url}
    if event.granted:
        consent["status"] = "active"
    elif previous.get("status") == "active":
        # A revocation ends the consent it revokes: what it covered and when it was given stay as they were.
        consent = {**previous, "status": "inactive", "ended": "revoked", "ended_at": event.recorded_at.isoformat()}
    else:
        consent["status"] = "rejected"
    return replace(ref, consent=consent)


def expire_consent(ref: Referral, now: datetime) -> Referral:
    """The referral with its consent ended once its expiry has passed (unchanged otherwise)."""
    c = ref.consent
    if not c or c.get("status") != "active" or consent_active(c, now):
        return ref
    return replace(ref, consent={**c, "status": "inactive", "ended": "expired", "ended_at": c["expires_at"]})


def _same_owner(ref: Referral, specialist_id: str) -> Referral:
    """The referral owned by `specialist_id`, keeping the NPI and name only when they are that peer's."""
    if ref.owner == specialist_id:
        return ref
    return replace(ref, owner=specialist_id, owner_npi=None, owner_name=None)


def transition(ref: Referral, event: Move) -> Referral:
    """The referral after `event`; unchanged when the event does not apply (re-delivery, late, out of step)."""
    match event:
        case ConsentRecorded():
            return _record_consent(ref, event)
        case PeerEncounterCompleted():
            ref = replace(ref, encounter_id=event.encounter_id)
            if ref.status in TERMINAL:
                return ref
            return replace(ref, status="in-progress", business_status="follow-up", owner=event.specialist_id,
                           owner_npi=event.specialist_npi,
                           owner_name=event.specialist_name or _same_owner(ref, event.specialist_id).owner_name)
    if ref.status in TERMINAL:
        return ref
    match event:
        case PeerAssignmentOffered() if ref.status == "requested":
            return replace(ref, business_status="offered")
        case PeerAssignmentDeclined() | PeerAssignmentExpired() if ref.status == "requested":
            return replace(ref, business_status="awaiting-offer")
        case NoPeerAvailable() if ref.status == "requested":
            return replace(ref, business_status="escalated")
        case PeerAssignmentAccepted() if ref.status in BEFORE_CONTACT:
            return replace(ref, status="accepted", business_status="accepted", owner=event.specialist_id,
                           owner_npi=event.specialist_npi, owner_name=event.specialist_name)
        case PeerAssignmentWithdrawn() if ref.owner in (None, event.specialist_id):
            return replace(ref, status="requested", business_status="rematching", owner=None, owner_npi=None,
                           owner_name=None)
        case PeerArrived() if ref.status in BEFORE_CONTACT:
            return replace(_same_owner(ref, event.specialist_id), status="in-progress", business_status="arrived")
        case CaseClosed():
            return replace(ref, status="completed", business_status="closed")
        case EdVisitCancelled():
            reason = "visit-merged" if event.reason == "merged" else "visit-cancelled"
            return replace(ref, status="cancelled", business_status="cancelled", status_reason=reason)
        case EdVisitDischarged() if not event.cancelled:
            if ref.status in BEFORE_CONTACT:
                return replace(ref, status="cancelled", business_status="cancelled",
                               status_reason="left-before-contact")
            return replace(ref, business_status="follow-up")
    return ref
