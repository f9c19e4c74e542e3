"""The audit trail as FHIR AuditEvent and the referral CapabilityStatement pass HL7's validator."""
from datetime import datetime, timezone

import pytest

from services.referral import audit
from services.referral.domain import capability

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 27, 10, tzinfo=timezone.utc)
TASK = "0b9a8e8e-1111-4222-8333-444455556666"


def row(**changes) -> dict:
    return {"seq": 7, "recorded_at": NOW, "action": "read", "actor": "sup-1", "actor_role": "supervisor",
            "purpose": "HOPERAT", "resource_type": "Task", "resource_ids": [TASK], "referral_id": TASK,
            "destination": None, "outcome": "success", "status_code": 200, **changes}


@pytest.mark.parametrize("changes", [
    {},
    {"action": "vread"},
    {"action": "history"},
    {"action": "search", "resource_ids": [], "actor_role": "peer", "purpose": "TREAT"},
    {"outcome": "denied", "status_code": 403, "actor_role": "peer"},
    {"outcome": "not-found", "status_code": 404},
    {"action": "disclosure", "actor": "referral-push", "actor_role": None, "purpose": "TREAT",
     "resource_type": "ServiceRequest", "destination": "MERCY"},
    {"action": "disclosure", "actor": "referral-push", "actor_role": None, "purpose": "TREAT", "outcome": "held",
     "resource_type": "ServiceRequest", "destination": "MERCY", "status_code": None},
    {"action": "disclosure", "actor": "referral-push", "actor_role": None, "purpose": "TREAT", "outcome": "failed",
     "resource_type": "ServiceRequest", "destination": "MERCY", "status_code": 503},
])
def test_audit_events_pass_hl7s_validator(assert_valid_fhir, changes):
    assert_valid_fhir(audit.audit_event(row(**changes)))


def test_the_capability_statement_passes_hl7s_validator_and_is_dated_when_the_instance_started(assert_valid_fhir):
    started = datetime(2031, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    body = capability.statement("http://referral.example/fhir", started)
    assert_valid_fhir(body)
    assert body["date"] == "2031-02-03T04:05:06Z"
    [subscription] = [r for r in body["rest"][0]["resource"] if r["type"] == "Subscription"]
    assert "Task?status=&owner=&focus= and ServiceRequest?status=" in subscription["documentation"]
