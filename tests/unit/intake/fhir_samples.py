"""FHIR R4 test resources (synthetic patient)."""
from __future__ import annotations


def encounter(facility: str = "GENHOSP", visit_number: str = "V1", *, klass: str = "EMER", status: str = "arrived",
              icd10: tuple[str, ...] = ("T40.2X1A",), text: str | None = None, subject: str | None = None) -> dict:
    reason = [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": c}]} for c in icd10]
    if text:
        reason.append({"text": text})
    enc = {"resourceType": "Encounter", "status": status,
           "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": klass},
           "identifier": [{"system": "urn:test:vn", "value": visit_number}],
           "period": {"start": "2026-11-27T09:30:00Z"}, "serviceProvider": {"identifier": {"value": facility}},
           "reasonCode": reason}
    if subject:
        enc["subject"] = {"reference": subject}
    return enc


def bundle(facility: str, visit_number: str, kind: str = "transaction", *, extra: list[dict] = (),
           condition_code: str | None = "F11.20") -> dict:
    patient = {"resourceType": "Patient", "name": [{"family": "ZZFHIRNAME"}], "gender": "female",
               "birthDate": "1990-06-01", "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.999",
                                                           "value": "MRN-FHIR-991"}],
               "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "spa"}]},
                                  "preferred": True}]}
    condition = {"resourceType": "Condition", "encounter": {"reference": "urn:uuid:enc-1"},
                 "subject": {"reference": "urn:uuid:pat-1"},
                 "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": condition_code}]}}
    entries = [
        {"fullUrl": "urn:uuid:pat-1", "resource": patient, "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:enc-1", "resource": encounter(facility, visit_number, icd10=(), subject="urn:uuid:pat-1"),
         "request": {"method": "POST", "url": "Encounter"}}]
    if condition_code:
        entries.append({"fullUrl": "urn:uuid:cond-1", "resource": condition,
                        "request": {"method": "POST", "url": "Condition"}})
    entries += [{"fullUrl": f"urn:uuid:extra-{n}", "resource": r,
                 "request": {"method": "POST", "url": r["resourceType"]}} for n, r in enumerate(extra, start=1)]
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def coverage(*, plan: str | None = "NJMCD", member_type: str | None = "MB", status: str = "active",
             beneficiary: str = "urn:uuid:pat-1") -> dict:
    """A Coverage for the bundle's patient: plan class, payor, member number and subscriber id as given."""
    cov = {"resourceType": "Coverage", "status": status, "beneficiary": {"reference": beneficiary},
           "payor": [{"identifier": {"value": "PAYER-9"}}], "subscriberId": "SUB-1"}
    if plan:
        cov["class"] = [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class",
                                              "code": "plan"}]}, "value": plan}]
    if member_type:
        cov["identifier"] = [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                   "code": member_type}]}, "value": "MEM-FHIR-77"}]
    return cov


def service_request(facility: str | None = "GENHOSP", visit_number: str = "V1", *, code: str = "PEERCONSULT",
                    system: str = "urn:oid:2.16.840.1.113883.3.999.5", status: str = "active") -> dict:
    """A ServiceRequest for a peer consult, naming its Encounter by identifier (and the facility as its assigner)."""
    ident = {"system": "urn:test:vn", "value": visit_number}
    if facility:
        ident["assigner"] = {"identifier": {"value": facility}}
    return {"resourceType": "ServiceRequest", "status": status, "intent": "order",
            "code": {"coding": [{"system": system, "code": code}]},
            "subject": {"identifier": {"system": "urn:oid:2.16.840.1.113883.3.999", "value": "MRN-FHIR-991"}},
            "encounter": {"identifier": ident}}
