"""FHIR R4 referral resources (ServiceRequest, Task, Consent) built from a referral, validated by R4B models."""
from __future__ import annotations

from datetime import datetime, timezone

from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

from services.contracts import Visit

from .consent import FACILITY_SYSTEM, PROGRAM_SYSTEM, expiry, narrative, recipients
from .lifecycle import Referral
from .shapes import ShapeCheck

VISIT_SYSTEM = "urn:peerbridge:ed-visit"
STEP_SYSTEM = "urn:peerbridge:referral-step"
REASON_SYSTEM = "urn:peerbridge:task-status-reason"
INDICATION_SYSTEM = "urn:peerbridge:indication-rule"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PROGRAM = {"type": "Organization", "identifier": {"system": PROGRAM_SYSTEM, "value": "peer-recovery"},
           "display": "PeerBridge peer recovery support program"}

# Security labels (HL7 Healthcare Privacy and Security Classification System): restricted confidentiality,
# SUD information sensitivity, the 42 CFR Part 2 privacy law and its refrain policy "no redisclosure without
# consent". Every referral resource carries them: a referral to a peer recovery program identifies the
# patient as having a substance use disorder, which is itself Part 2 information.
PART2_SECURITY = [
    {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R", "display": "restricted"},
    {"system": ACT_CODE, "code": "SUD", "display": "substance use disorder information sensitivity"},
    {"system": ACT_CODE, "code": "42CFRPart2", "display": "42 CFR Part2"},
    {"system": ACT_CODE, "code": "NORDSCLCD", "display": "no redisclosure without consent directive"},
]
CATEGORY = {"coding": [{"system": "http://snomed.info/sct", "code": "410606002",
                        "display": "Social service procedure"}], "text": "Peer recovery support"}
CODE = {"coding": [{"system": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "H0038",
                    "display": "Self-help/peer services, per 15 minutes"}],
        "text": "Peer recovery support services"}
STEP_TEXT = {"awaiting-offer": "Waiting for a peer", "offered": "Offered to a peer",
             "escalated": "Escalated: no peer available",
             "accepted": "Peer accepted", "rematching": "Finding another peer", "arrived": "Peer at the bedside",
             "follow-up": "Peer follow-up", "closed": "Case closed", "cancelled": "Cancelled"}
REASON_TEXT = {"visit-cancelled": "ED visit cancelled", "visit-merged": "ED visit merged into another",
               "left-before-contact": "Patient left the ED before the peer made contact"}


def instant(value: datetime | str) -> str:
    """A FHIR instant in UTC with a Z, as the R4B models write it."""
    when = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def dotted(code: str) -> str:
    """An ICD-10-CM code as FHIR carries it (T401X1A -> T40.1X1A)."""
    code = code.replace(".", "")
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def visit_identifier(ref: Referral) -> dict:
    return {"system": VISIT_SYSTEM, "value": ref.identifier}


def subject(ref: Referral) -> dict:
    """The Patient, referenced by the feed's patient identifier (we hold no Patient resource)."""
    patient = ref.visit.patient_ref
    if patient:
        return {"type": "Patient", "identifier": {"system": patient.system, "value": patient.value}}
    return {"type": "Patient", "display": "ED patient (no identifier in the feed)"}


def requester(ref: Referral) -> dict:
    return {"type": "Organization", "identifier": {"system": FACILITY_SYSTEM, "value": ref.facility}}


def reason_codes(visit: Visit) -> list[dict]:
    """The indications: ICD-10-CM for diagnoses, the program rule for keyword and clinician requests."""
    reasons = []
    for ind in visit.indications:
        if ind.kind == "diagnosis":
            reasons.append({"coding": [{"system": ICD10CM, "code": dotted(ind.code)}]})
        else:
            reasons.append({"coding": [{"system": INDICATION_SYSTEM, "code": ind.rule or ind.kind}]})
    return reasons


# The models validate each shape of body once per process; later bodies of that shape only their text values.
CHECK = ShapeCheck({"ServiceRequest": ServiceRequest, "Task": Task, "Consent": Consent})


def validate(body: dict) -> dict:
    """The body as built, once it is valid for its R4B model (a dump would only re-create the same JSON)."""
    CHECK.validate(body)
    return body


def _meta() -> dict:
    return {"security": [dict(label) for label in PART2_SECURITY]}


def service_request(ref: Referral) -> dict:
    status = {"completed": "completed", "cancelled": "revoked"}.get(ref.status, "active")
    body = {"resourceType": "ServiceRequest", "id": ref.id, "meta": _meta(), "identifier": [visit_identifier(ref)],
            "status": status, "intent": "order", "category": [CATEGORY], "code": CODE, "subject": subject(ref),
            "encounter": {"type": "Encounter", "identifier": visit_identifier(ref)},
            "authoredOn": instant(ref.authored_on), "requester": requester(ref), "performer": [PROGRAM]}
    reasons = reason_codes(ref.visit)
    if reasons:
        body["reasonCode"] = reasons
    if ref.consent:
        body["supportingInfo"] = [{"reference": f"Consent/{ref.id}"}]
    return body


def task(ref: Referral) -> dict:
    body = {"resourceType": "Task", "id": ref.id, "meta": _meta(), "identifier": [visit_identifier(ref)],
            "status": ref.status, "intent": "order",
            "businessStatus": {"coding": [{"system": STEP_SYSTEM, "code": ref.business_status}],
                               "text": STEP_TEXT.get(ref.business_status, ref.business_status)},
            "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]},
            "focus": {"reference": f"ServiceRequest/{ref.id}"}, "for": subject(ref),
            "authoredOn": instant(ref.authored_on), "requester": requester(ref)}
    if ref.status_reason:
        body["statusReason"] = {"coding": [{"system": REASON_SYSTEM, "code": ref.status_reason}],
                                "text": REASON_TEXT.get(ref.status_reason, ref.status_reason)}
    if ref.owner:
        body["owner"] = {"reference": f"PractitionerRole/{ref.owner}"}
    if ref.encounter_id:
        body["output"] = [{"type": {"coding": [{"system": STEP_SYSTEM, "code": "peer-encounter"}]},
                           "valueReference": {"reference": f"Encounter/{ref.encounter_id}"}}]
    return body


def consent(ref: Referral) -> dict | None:
    """The patient's disclosure consent (IDSCL, patient-privacy) with the 42 CFR 2.31 elements: who discloses
    (organization), to whom (IRCP actors), purpose, what (class and labels), expiry (period.end), when given
    (dateTime) by whom (performer), the right to revoke (narrative); None before the bedside conversation."""
    if not ref.consent:
        return None
    c = dict(ref.consent)
    c["expires_at"] = c.get("expires_at") or expiry(datetime.fromisoformat(c["recorded_at"]), None).isoformat()
    period = {"start": instant(c["recorded_at"]), "end": instant(c.get("ended_at") or c["expires_at"])}
    to = [PROGRAM] + [{"type": "Organization", "identifier": {"system": r["system"], "value": r["value"]},
                       "display": "Referring facility" if r["system"] == FACILITY_SYSTEM else r["name"]}
                      for r in recipients(c, ref.facility)[1:]]
    signature = c.get("signature")
    body = {"resourceType": "Consent", "id": ref.id, "meta": _meta(), "text": narrative(c, ref.facility, c["status"]),
            "identifier": [visit_identifier(ref)], "status": c["status"],
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                  "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": ACT_CODE, "code": "IDSCL", "display": "information disclosure"}]}],
            "patient": subject(ref), "dateTime": instant((signature or {}).get("signed_at") or c["recorded_at"]),
            "performer": [_signer(ref, signature)],
            "organization": [PROGRAM],
            "policy": [{"authority": "https://www.ecfr.gov",
                        "uri": "https://www.ecfr.gov/current/title-42/chapter-I/subchapter-A/part-2"}],
            "provision": {"type": "permit", "period": period,
                          "actor": [{"role": {"coding": [{
                              "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                              "code": "IRCP"}]}, "reference": r} for r in to],
                          "action": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentaction",
                                                  "code": "disclose"}]}],
                          "securityLabel": [dict(label) for label in PART2_SECURITY[1:3]],
                          "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                                       "code": "TREAT"}],
                          "class": [{"system": "http://hl7.org/fhir/resource-types", "code": t}
                                    for t in ("ServiceRequest", "Task", "Consent")]}}
    if signature:
        body["sourceAttachment"] = _signature(signature)
    return body


def _signer(ref: Referral, signature: dict | None) -> dict:
    """Consent.performer: who gave it, the patient, or their representative (we hold no RelatedPerson)."""
    if signature and signature["signer"] == "representative":
        return {"type": "RelatedPerson", "display": "The patient's authorised representative"}
    return subject(ref)


def _signature(signature: dict) -> dict:
    """The signed consent's image as the source of the Consent: where a recipient reads it (pairing, with its
    token), its size and SHA-1 (R4 Attachment.hash), when it was signed. The image itself never travels."""
    attachment = {"contentType": "image/png", "title": "Signature on the 42 CFR 2.31 consent",
                  "creation": instant(signature["signed_at"])}
    if signature.get("url"):
        attachment["url"] = signature["url"]
    if signature.get("size"):
        attachment["size"] = signature["size"]
    if signature.get("sha1"):
        attachment["hash"] = signature["sha1"]
    return attachment


def build(ref: Referral) -> dict[str, dict]:
    """Every resource of the referral, by type, as built: the writer validates only what becomes a new version (the
    model's validation is most of the CPU of a write; what is already stored was validated when it was written)."""
    built = {"ServiceRequest": service_request(ref), "Task": task(ref)}
    c = consent(ref)
    if c:
        built["Consent"] = c
    return built


def resources(ref: Referral) -> dict[str, dict]:
    """Every resource of the referral, by type, validated by the R4B models."""
    return {rtype: validate(body) for rtype, body in build(ref).items()}
