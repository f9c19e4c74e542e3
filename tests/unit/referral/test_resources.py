"""Referral resources: built from the referral's state, valid R4 (round-tripped through the R4B models)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

from services.contracts import (CaseClosed, ConsentRecorded, EdVisitCancelled, EdVisitDischarged, NoPeerAvailable,
                                PeerArrived, PeerAssignmentAccepted, PeerAssignmentOffered, PeerAssignmentWithdrawn,
                                PeerEncounterCompleted, Visit)
from services.referral.domain import fhir
from services.referral.domain.disclosure import REDISCLOSURE_NOTICE, hold_reason, transaction
from services.referral.domain.lifecycle import Referral, transition

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
PEER = "6f1c2d3e-0000-4000-8000-000000000001"
VISIT = Visit(facility="MERCY", visit_number="V100", arrived_at=NOW - timedelta(hours=1), peer_indicated=True,
              indications=[{"kind": "diagnosis", "code": "T401X1A", "reason": "opioid poisoning"},
                           {"kind": "keyword", "code": "narcan", "rule": "kw-naloxone", "reason": "keyword"}],
              diagnoses=["T401X1A"], patient_ref={"system": "urn:mercy:mrn", "value": "MRN1"})
VISIT_KEY = {"facility": "MERCY", "visit_number": "V100"}
ASSIGNMENT = {**VISIT_KEY, "assignment_id": "5e5e5e5e-0000-4000-8000-000000000005", "specialist_id": PEER}


def offered() -> PeerAssignmentOffered:
    return PeerAssignmentOffered(**ASSIGNMENT, offered_at=NOW, expires_at=NOW + timedelta(minutes=10))


def accepted() -> PeerAssignmentAccepted:
    return PeerAssignmentAccepted(**ASSIGNMENT, accepted_at=NOW)


def arrived() -> PeerArrived:
    return PeerArrived(**ASSIGNMENT, arrived_at=NOW)


def withdrawn() -> PeerAssignmentWithdrawn:
    return PeerAssignmentWithdrawn(**ASSIGNMENT, withdrawn_at=NOW, reason="rematch")


def encounter() -> PeerEncounterCompleted:
    return PeerEncounterCompleted(**VISIT_KEY, encounter_id="9a9a9a9a-0000-4000-8000-000000000009",
                                  specialist_id=PEER, specialist_npi="1234567893", started_at=NOW,
                                  ended_at=NOW + timedelta(minutes=30), modality="in-person", kind="individual")


def closed() -> CaseClosed:
    return CaseClosed(**VISIT_KEY, case_id="7c7c7c7c-0000-4000-8000-000000000007", closed_at=NOW, reason="done")


def cancelled(reason: str = "cancelled") -> EdVisitCancelled:
    return EdVisitCancelled(**VISIT_KEY, cancelled_at=NOW, reason=reason)


def discharged() -> EdVisitDischarged:
    return EdVisitDischarged(**VISIT_KEY, discharged_at=NOW)


def no_peer() -> NoPeerAvailable:
    return NoPeerAvailable(**VISIT_KEY, escalated_at=NOW)


def consent_recorded(granted: bool, expires_in: timedelta | None = None) -> ConsentRecorded:
    return ConsentRecorded(**VISIT_KEY, granted=granted, recorded_at=NOW,
                           expires_at=NOW + expires_in if expires_in else None)


def referral(**changes) -> Referral:
    base = Referral(id="0b9a8e8e-1111-4222-8333-444455556666", facility="MERCY", visit_number="V100",
                    visit=VISIT, authored_on=NOW)
    return base.__class__(**{**base.__dict__, **changes})


def roundtrip(model, body: dict) -> dict:
    return model.model_validate(body).model_dump(mode="json", exclude_none=True, by_alias=True)


def test_service_request_carries_the_deterministic_identifier_reasons_and_part2_labels():
    sr = fhir.service_request(referral())
    assert roundtrip(ServiceRequest, sr) == sr
    assert sr["identifier"] == [{"system": "urn:peerbridge:ed-visit", "value": "MERCY:V100"}]
    assert (sr["status"], sr["intent"]) == ("active", "order")
    assert sr["reasonCode"][0]["coding"] == [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "T40.1X1A"}]
    assert sr["subject"]["identifier"] == {"system": "urn:mercy:mrn", "value": "MRN1"}
    assert sr["encounter"]["identifier"]["value"] == "MERCY:V100"
    assert sr["requester"]["identifier"] == {"system": "urn:peerbridge:facility", "value": "MERCY"}
    codes = {(s["system"].rsplit("/", 1)[-1], s["code"]) for s in sr["meta"]["security"]}
    assert {("v3-ActCode", "42CFRPart2"), ("v3-ActCode", "SUD"), ("v3-Confidentiality", "R")} <= codes
    assert "supportingInfo" not in sr


def test_task_follows_the_peer_from_offer_to_completion():
    ref = transition(referral(), offered())
    task = fhir.task(ref)
    assert (task["status"], task["businessStatus"]["coding"][0]["code"]) == ("requested", "offered")
    assert "owner" not in task
    ref = transition(ref, accepted())
    task = fhir.task(ref)
    assert roundtrip(Task, task) == task
    assert task["status"] == "accepted" and task["owner"] == {"reference": f"PractitionerRole/{PEER}"}
    assert task["focus"] == {"reference": f"ServiceRequest/{ref.id}"} and task["for"]["identifier"]["value"] == "MRN1"
    assert task["code"]["coding"][0]["code"] == "fulfill" and task["intent"] == "order"
    ref = transition(ref, arrived())
    assert fhir.task(ref)["status"] == "in-progress"
    ref = transition(ref, encounter())
    assert fhir.task(ref)["output"][0]["valueReference"]["reference"].startswith("Encounter/9a9a")
    ref = transition(ref, closed())
    assert fhir.task(ref)["status"] == "completed" and fhir.service_request(ref)["status"] == "completed"
    assert transition(ref, cancelled()) == ref


@pytest.mark.parametrize("event,reason", [
    (cancelled("cancelled"), "visit-cancelled"),
    (cancelled("merged"), "visit-merged"),
    (discharged(), "left-before-contact"),
])
def test_cancelled_task_says_why(event, reason):
    ref = transition(referral(), event)
    task = fhir.task(ref)
    assert task["status"] == "cancelled" and task["statusReason"]["coding"][0]["code"] == reason
    assert fhir.service_request(ref)["status"] == "revoked"


def test_discharge_after_the_peer_arrived_keeps_the_task_for_follow_up():
    ref = transition(referral(), arrived())
    ref = transition(ref, discharged())
    assert (ref.status, ref.business_status) == ("in-progress", "follow-up")


def test_withdrawn_assignment_clears_the_owner_and_no_peer_escalates():
    ref = transition(referral(), accepted())
    ref = transition(ref, withdrawn())
    assert (ref.status, ref.owner) == ("requested", None)
    assert transition(ref, no_peer()).business_status == "escalated"


def test_consent_is_idscl_patient_privacy_and_linked_from_the_service_request():
    ref = transition(referral(), consent_recorded(True, timedelta(days=365)))
    consent = fhir.consent(ref)
    assert roundtrip(Consent, consent) == consent
    assert consent["status"] == "active"
    assert consent["scope"]["coding"][0]["code"] == "patient-privacy"
    assert consent["category"][0]["coding"][0]["code"] == "IDSCL"
    assert consent["provision"]["period"]["end"].startswith(str((NOW + timedelta(days=365)).date()))
    assert consent["provision"]["actor"][0]["reference"]["identifier"]["value"] == "peer-recovery"
    assert fhir.service_request(ref)["supportingInfo"] == [{"reference": f"Consent/{ref.id}"}]


def test_nothing_leaves_without_an_active_consent():
    ref = referral()
    assert hold_reason(ref, NOW) == "no-consent"
    refused = transition(ref, consent_recorded(False))
    assert hold_reason(refused, NOW) == "consent-refused"
    granted = transition(ref, consent_recorded(True, timedelta(hours=1)))
    assert hold_reason(granted, NOW) is None
    assert hold_reason(granted, NOW + timedelta(hours=2)) == "consent-expired"
    revoked = transition(granted, consent_recorded(False))
    assert hold_reason(revoked, NOW) == "consent-revoked"


def test_disclosure_bundle_is_a_conditional_transaction_with_notice_and_consent_reference():
    ref = transition(referral(), consent_recorded(True))
    ref = transition(ref, accepted())
    bundle = transaction(ref)
    Bundle.model_validate(bundle)
    by_type = {e["resource"]["resourceType"]: e for e in bundle["entry"]}
    sr, task, consent = by_type["ServiceRequest"], by_type["Task"], by_type["Consent"]
    # updated by identifier, not only created: its status (completed, revoked) follows ours at the hospital
    assert sr["request"] == {"method": "PUT", "url": "ServiceRequest?identifier=urn:peerbridge:ed-visit|MERCY:V100"}
    assert task["request"] == {"method": "PUT", "url": "Task?identifier=urn:peerbridge:ed-visit|MERCY:V100"}
    assert task["resource"]["focus"]["reference"] == sr["fullUrl"]
    assert sr["resource"]["supportingInfo"][0]["reference"] == consent["fullUrl"]
    assert sr["resource"]["note"][0]["text"] == REDISCLOSURE_NOTICE and "42 CFR part 2" in REDISCLOSURE_NOTICE
    assert all("id" not in e["resource"] for e in bundle["entry"])
    assert transaction(ref) == bundle


def _lifecycle() -> list[Referral]:
    """A referral at every step: awaiting, offered, accepted with consent, at the bedside, done; cancelled ones."""
    steps = [referral()]
    for event in [offered(), consent_recorded(True, timedelta(days=365)), accepted(), arrived(), encounter(), closed()]:
        steps.append(transition(steps[-1], event))
    steps.append(transition(referral(), cancelled("merged")))
    steps.append(transition(referral(), consent_recorded(False)))
    return steps


def test_every_resource_at_every_step_passes_hl7s_validator(assert_valid_fhir):
    for ref in _lifecycle():
        for body in fhir.resources(ref).values():
            assert_valid_fhir(body)


def test_the_pushed_transaction_passes_hl7s_validator(assert_valid_fhir):
    for ref in _lifecycle()[2:-2]:
        assert_valid_fhir(transaction(ref))


def _literal_references(value) -> list[str]:
    if isinstance(value, dict):
        own = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return own + [r for v in value.values() for r in _literal_references(v)]
    if isinstance(value, list):
        return [r for v in value for r in _literal_references(v)]
    return []


def test_every_literal_reference_pushed_points_into_the_bundle():
    for ref in _lifecycle():
        bundle = transaction(ref)
        inside = {e["fullUrl"] for e in bundle["entry"]}
        for entry in bundle["entry"]:
            assert set(_literal_references(entry["resource"])) <= inside, entry["resource"]["resourceType"]


def test_the_owner_is_a_practitioner_role_created_once_per_npi_or_a_display_only_reference():
    ref = transition(transition(referral(), consent_recorded(True)), accepted())
    task = next(e for e in transaction(ref)["entry"] if e["resource"]["resourceType"] == "Task")
    assert task["resource"]["owner"] == {"type": "PractitionerRole", "display": "PeerBridge peer recovery specialist"}
    named = transition(ref, encounter())  # the encounter names the peer's NPI
    entries = {e["resource"]["resourceType"]: e for e in transaction(named)["entry"]}
    role = entries["PractitionerRole"]
    assert role["request"] == {"method": "POST", "url": "PractitionerRole",
                               "ifNoneExist": "identifier=http://hl7.org/fhir/sid/us-npi|1234567893"}
    assert entries["Task"]["resource"]["owner"] == {"reference": role["fullUrl"]}
    output = entries["Task"]["resource"]["output"][0]["valueReference"]
    assert output["identifier"] == {"system": "urn:peerbridge:peer-encounter",
                                    "value": "9a9a9a9a-0000-4000-8000-000000000009"}
