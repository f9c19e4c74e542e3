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


def bundle(facility: str, visit_number: str, kind: str = "transaction") -> dict:
    patient = {"resourceType": "Patient", "name": [{"family": "ZZFHIRNAME"}], "gender": "female",
               "birthDate": "1990-06-01", "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.999",
                                                           "value": "MRN-FHIR-991"}],
               "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "spa"}]},
                                  "preferred": True}]}
    condition = {"resourceType": "Condition", "encounter": {"reference": "urn:uuid:enc-1"},
                 "subject": {"reference": "urn:uuid:pat-1"},
                 "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "F11.20"}]}}
    return {"resourceType": "Bundle", "type": kind, "entry": [
        {"fullUrl": "urn:uuid:pat-1", "resource": patient, "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:enc-1", "resource": encounter(facility, visit_number, icd10=(), subject="urn:uuid:pat-1"),
         "request": {"method": "POST", "url": "Encounter"}},
        {"fullUrl": "urn:uuid:cond-1", "resource": condition, "request": {"method": "POST", "url": "Condition"}}]}
