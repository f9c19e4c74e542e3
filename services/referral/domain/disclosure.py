"""What leaves for the hospital: a FHIR transaction Bundle, only under an active consent (pure)."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from urllib.parse import quote

from .fhir import PROGRAM, VISIT_SYSTEM, resources
from .consent import for_facility
from .lifecycle import Referral, consent_active

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
ENCOUNTER_SYSTEM = "urn:peerbridge:peer-encounter"
PEER_SPECIALIST = {"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": "175T00000X",
                               "display": "Peer Specialist"}], "text": "Peer recovery specialist"}

# The notice 42 CFR 2.32(a)(1) requires with each disclosure made with the patient's consent (2024 final rule).
REDISCLOSURE_NOTICE = (
    "This record which has been disclosed to you is protected by Federal confidentiality rules (42 CFR part 2). "
    "These rules prohibit you from using or disclosing this record, or testimony that describes the information "
    "contained in this record, in any civil, criminal, administrative, or legislative proceedings by any Federal, "
    "State, or local authority, against the patient, unless authorized by the consent of the patient, except as "
    "provided at 42 CFR 2.12(c)(5) or as authorized by a court in accordance with 42 CFR 2.64 or 2.65. In addition, "
    "the Federal rules prohibit you from making any further disclosure of this record unless authorized by the "
    "patient, or as otherwise permitted by 42 CFR part 2. A general authorization for the release of medical or "
    "other information is NOT sufficient for this purpose (see 42 CFR 2.31).")


def hold_reason(ref: Referral, now: datetime) -> str | None:
    """Why nothing may leave now (no, refused, revoked or expired consent, or one that does not name the referring
    facility as a recipient), or None when it may."""
    if consent_active(ref.consent, now):
        return None if for_facility(ref.consent, ref.facility) else "consent-not-for-recipient"
    if not ref.consent:
        return "no-consent"
    if ref.consent["status"] == "inactive":
        return "consent-expired" if ref.consent.get("ended") == "expired" else "consent-revoked"
    return {"rejected": "consent-refused"}.get(ref.consent["status"], "consent-expired")


def revocation(ref: Referral) -> dict:
    """What a recipient that holds the consent is sent once it ended (revoked or expired): the Consent alone,
    inactive, updated by identifier. It discloses nothing the recipient does not hold already."""
    query = _query(VISIT_SYSTEM, ref.identifier)
    if ref.consent and ref.consent.get("status") == "active":
        # In force, but no longer for this recipient (a new consent names others): for it, the consent has ended.
        ref = replace(ref, consent={**ref.consent, "status": "inactive", "ended": "replaced",
                                    "ended_at": ref.consent["recorded_at"]})
    body = {k: v for k, v in resources(ref)["Consent"].items() if k not in ("id", "meta")}
    body["meta"] = {"security": resources(ref)["Consent"]["meta"]["security"]}
    return {"resourceType": "Bundle", "type": "transaction",
            "entry": [{"fullUrl": _local(ref, "Consent"), "resource": body,
                       "request": {"method": "PUT", "url": f"Consent?{query}"}}]}


def _local(ref: Referral, rtype: str) -> str:
    """A stable urn:uuid for a resource inside the bundle (the server assigns its own ids)."""
    return f"urn:uuid:{uuid.uuid5(uuid.UUID(ref.id), rtype)}"


def _query(system: str, value: str) -> str:
    return "identifier=" + quote(f"{system}|{value}", safe=":|/")


def peer_role(ref: Referral) -> dict | None:
    """The owner as a PractitionerRole the hospital creates once per NPI; None when pairing named no NPI."""
    if not (ref.owner and ref.owner_npi):
        return None
    npi = {"system": NPI_SYSTEM, "value": ref.owner_npi}
    practitioner = {"type": "Practitioner", "identifier": npi}
    if ref.owner_name:
        practitioner["display"] = ref.owner_name
    return {"resourceType": "PractitionerRole", "identifier": [npi], "active": True, "practitioner": practitioner,
            "organization": PROGRAM, "code": [PEER_SPECIALIST]}


def _owner(ref: Referral) -> dict:
    """Task.owner as the hospital can resolve it: the bundle's PractitionerRole, else a display-only reference."""
    if peer_role(ref):
        return {"reference": _local(ref, "PractitionerRole")}
    return {"type": "PractitionerRole", "display": ref.owner_name or "PeerBridge peer recovery specialist"}


def _outgoing(body: dict, ref: Referral) -> dict:
    """Our resource without our id and version, its references rewritten to the bundle's entries or, for what the
    hospital does not hold (our peer's encounter), to a logical reference by identifier: nothing dangles."""
    out = {k: v for k, v in body.items() if k != "id"}
    out["meta"] = {"security": body["meta"]["security"]}
    if "focus" in out:
        out["focus"] = {"reference": _local(ref, "ServiceRequest")}
    if "supportingInfo" in out:
        out["supportingInfo"] = [{"reference": _local(ref, "Consent")}]
    if "owner" in out:
        out["owner"] = _owner(ref)
    if "output" in out:
        out["output"] = [{**o, "valueReference": {
            "type": "Encounter", "identifier": {"system": ENCOUNTER_SYSTEM, "value": ref.encounter_id},
            "display": "Peer recovery support encounter (PeerBridge)"}} for o in out["output"]]
    if out["resourceType"] in ("ServiceRequest", "Task"):
        out["note"] = [{"text": REDISCLOSURE_NOTICE}]
    return out


def transaction(ref: Referral) -> dict:
    """One transaction: ServiceRequest, Task and Consent updated by identifier (so their status follows ours), the
    peer's PractitionerRole created once per NPI."""
    query = _query(VISIT_SYSTEM, ref.identifier)
    entries = []
    role = peer_role(ref)
    if role:
        entries.append({"fullUrl": _local(ref, "PractitionerRole"), "resource": role,
                        "request": {"method": "POST", "url": "PractitionerRole",
                                    "ifNoneExist": _query(NPI_SYSTEM, ref.owner_npi)}})
    for rtype, body in resources(ref).items():
        entries.append({"fullUrl": _local(ref, rtype), "resource": _outgoing(body, ref),
                        "request": {"method": "PUT", "url": f"{rtype}?{query}"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
