"""What leaves for the hospital: a FHIR transaction Bundle, only under an active consent (pure)."""
from __future__ import annotations

import uuid
from datetime import datetime
from urllib.parse import quote

from .fhir import VISIT_SYSTEM, resources
from .lifecycle import Referral, consent_active

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
    """Why nothing may leave now (no, refused, revoked or expired consent), or None when it may."""
    if consent_active(ref.consent, now):
        return None
    if not ref.consent:
        return "no-consent"
    return {"rejected": "consent-refused", "inactive": "consent-revoked"}.get(ref.consent["status"], "consent-expired")


def _local(ref: Referral, rtype: str) -> str:
    """A stable urn:uuid for a resource inside the bundle (the server assigns its own ids)."""
    return f"urn:uuid:{uuid.uuid5(uuid.UUID(ref.id), rtype)}"


def _outgoing(body: dict, ref: Referral) -> dict:
    """Our resource without our id and version, its references rewritten to the bundle's entries."""
    out = {k: v for k, v in body.items() if k != "id"}
    out["meta"] = {"security": body["meta"]["security"]}
    if "focus" in out:
        out["focus"] = {"reference": _local(ref, "ServiceRequest")}
    if "supportingInfo" in out:
        out["supportingInfo"] = [{"reference": _local(ref, "Consent")}]
    if out["resourceType"] in ("ServiceRequest", "Task"):
        out["note"] = [{"text": REDISCLOSURE_NOTICE}]
    return out


def transaction(ref: Referral) -> dict:
    """One transaction: ServiceRequest created once (ifNoneExist), Task and Consent updated by identifier."""
    query = "identifier=" + quote(f"{VISIT_SYSTEM}|{ref.identifier}", safe=":|")
    entries = []
    for rtype, body in resources(ref).items():
        if rtype == "ServiceRequest":
            request = {"method": "POST", "url": "ServiceRequest", "ifNoneExist": query}
        else:
            request = {"method": "PUT", "url": f"{rtype}?{query}"}
        entries.append({"fullUrl": _local(ref, rtype), "resource": _outgoing(body, ref), "request": request})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
