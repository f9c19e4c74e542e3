"""The CapabilityStatement of the referral FHIR API."""
from __future__ import annotations

from datetime import datetime

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from . import criteria
from .search import PARAMETERS

PARAM_TYPES = {"identifier": "token", "patient": "reference", "status": "token", "focus": "reference",
               "owner": "reference", "_lastUpdated": "date", "date": "date", "entity": "reference",
               "action": "token", "_count": "number"}
INTERACTIONS = [{"code": "read"}, {"code": "vread"}, {"code": "history-instance"}, {"code": "search-type"}]


def statement(base_url: str, date: datetime) -> dict:
    """What this instance serves; dated when it started, since that is when these capabilities took effect."""
    resources = []
    for rtype, params in sorted(PARAMETERS.items()):
        names = sorted({p.split(":")[0] for p in params} | {"_lastUpdated"})
        resource = {"type": rtype, "versioning": "versioned", "readHistory": True, "conditionalRead": "full-support",
                    "interaction": INTERACTIONS,
                    "searchParam": [{"name": n, "type": PARAM_TYPES[n]} for n in names]}
        if rtype == "Task":
            resource["searchInclude"] = ["Task:focus"]
        resources.append(resource)
    resources.append({"type": "AuditEvent", "interaction": [{"code": "search-type"}],
                      "searchParam": [{"name": n, "type": PARAM_TYPES[n]} for n in ("date", "entity", "action")]})
    resources.append({"type": "Subscription", "interaction": [{"code": "create"}, {"code": "read"}, {"code": "delete"}],
                      "documentation": f"rest-hook channel only; criteria {criteria.HELP}"})
    body = {"resourceType": "CapabilityStatement", "status": "active", "date": date.isoformat(), "kind": "instance",
            "software": {"name": "PeerBridge referral"},
            "implementation": {"description": "PeerBridge peer recovery referrals", "url": base_url},
            "fhirVersion": "4.0.1", "format": ["application/fhir+json", "json"],
            "rest": [{"mode": "server",
                      "security": {"service": [{"coding": [{
                          "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                          "code": "SMART-on-FHIR"}]}],
                          "description": "Bearer token required; peers see only the Tasks they own. Hospital systems "
                                         "get one with SMART Backend Services (see .well-known/smart-configuration)."},
                      "resource": resources}]}
    return CapabilityStatement.model_validate(body).model_dump(mode="json", exclude_none=True)
