"""A prepared claim as a FHIR R4 Claim (professional), built and validated with fhir.resources.R4B."""
from __future__ import annotations

from datetime import datetime

from fhir.resources.R4B.claim import Claim

from services.contracts import PeerEncounterCompleted

HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
NPI = "http://hl7.org/fhir/sid/us-npi"
NUCC = "http://nucc.org/provider-taxonomy"
MEMBER = "urn:peerbridge:payer-member-id:"
CLAIM_NUMBER = "urn:peerbridge:claim-number"
DIAGNOSIS_TYPE = "http://terminology.hl7.org/CodeSystem/ex-diagnosistype"
RELATED = "http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship"
STATUS = {"voided": "cancelled"}


def _icd(code: str) -> str:
    """FHIR writes ICD-10-CM with its dot (after the third character)."""
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def build_claim(claim: dict, encounter: PeerEncounterCompleted, provider_npi: str, provider_name: str,
                created: datetime) -> Claim:
    """The FHIR Claim for one stored claim row (document plus id, number, status) and the encounter it bills."""
    doc = claim["document"]
    member = {"identifier": {"system": MEMBER + (doc.get("payer") or "unknown"),
                             "value": doc.get("member_id") or "unknown"}}
    rendering = doc["rendering"]
    items = []
    for n, line in enumerate(doc["lines"], start=1):
        items.append({
            "sequence": n,
            "careTeamSequence": [1],
            "diagnosisSequence": line["diagnosis_pointers"] or None,
            "productOrService": {"coding": [{"system": HCPCS, "code": line["code"]}]},
            "modifier": [{"coding": [{"system": HCPCS, "code": m}]} for m in line["modifiers"]] or None,
            "quantity": {"value": line["units"], "unit": "15 min"},
            "unitPrice": {"value": _rate(line), "currency": "USD"},
            "net": {"value": float(line["charge"]), "currency": "USD"},
            "servicedPeriod": {"start": encounter.started_at, "end": encounter.ended_at},
            "locationCodeableConcept": {"coding": [{"system": POS, "code": line["place_of_service"]}]},
        })
    resource = {
        "resourceType": "Claim",
        "id": claim["id"],
        "identifier": [{"system": CLAIM_NUMBER, "value": claim["claim_number"]}],
        "status": STATUS.get(claim["status"], "active"),
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
        "use": "claim",
        "patient": member,
        "created": created.isoformat(),
        "provider": {"identifier": {"system": NPI, "value": provider_npi}, "display": provider_name},
        "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
        "insurer": {"display": doc.get("payer") or "unknown"},
        "careTeam": [{
            "sequence": 1,
            "provider": {"identifier": {"system": NPI, "value": rendering["npi"]}},
            "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claimcareteamrole",
                                 "code": "primary"}]},
            "qualification": {"coding": [{"system": NUCC, "code": rendering["taxonomy"]}]},
        }],
        "diagnosis": [_diagnosis(n, d) for n, d in enumerate(doc["diagnoses"], start=1)] or None,
        "insurance": [{"sequence": 1, "focal": True,
                       "coverage": {"display": f"{doc.get('payer') or 'unknown'} plan "
                                                f"{doc.get('plan_id') or 'unknown'}"},
                       "identifier": {"system": MEMBER + (doc.get("payer") or "unknown"),
                                      "value": doc.get("member_id") or "unknown"}}],
        "item": items or None,
        "total": {"value": float(sum(float(line["charge"]) for line in doc["lines"])), "currency": "USD"},
    }
    if claim.get("original_claim_number"):
        resource["related"] = [{"claim": {"identifier": {"system": CLAIM_NUMBER,
                                                         "value": claim["original_claim_number"]}},
                                "relationship": {"coding": [{"system": RELATED, "code": "prior"}]}}]
    return Claim.model_validate(_drop_none(resource))


def _diagnosis(n: int, code: str) -> dict:
    """The first diagnosis is the principal one (837P ABK); the others (ABF) have no code in ex-diagnosistype."""
    diagnosis = {"sequence": n, "diagnosisCodeableConcept": {"coding": [{"system": ICD10CM, "code": _icd(code)}]}}
    if n == 1:
        diagnosis["type"] = [{"coding": [{"system": DIAGNOSIS_TYPE, "code": "principal"}]}]
    return diagnosis


def _rate(line: dict) -> float:
    return float(line["charge"]) / line["units"] if line["units"] else 0.0


def _drop_none(value):
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
