"""Subscriptions beyond Task?status=: by owner, by focus, on ServiceRequest status, combined with `&` (every part
must match); criteria the server does not evaluate are refused with an OperationOutcome saying what it does."""
from __future__ import annotations

import uuid

import pytest

from services.runtime import topics
from tests.support.fixtures import wait_for
from tests.support.hook_receiver import HookReceiver

from .conftest import at, visit
from .test_subscriptions import subscription

pytestmark = pytest.mark.integration


async def test_owner_focus_and_service_request_criteria_each_hear_exactly_their_changes(referral_app,
                                                                                     assert_valid_fhir):
    facility, number = f"Q{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    peer, stranger = str(uuid.uuid4()), str(uuid.uuid4())
    a = {"facility": facility, "visit_number": number, "assignment_id": str(uuid.uuid4()), "specialist_id": peer}
    hooks = {name: HookReceiver() for name in ("owner", "focus", "request", "other-owner", "owner-completed")}
    for hook in hooks.values():
        hook.__enter__()
    try:
        async with referral_app({}, subscription_allow_http=True) as svc:
            lead = svc.headers("supervisor")
            await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
            ref = await wait_for(lambda: _referral(svc, facility, number), timeout=60)
            criteria = {"owner": f"Task?owner=PractitionerRole/{peer}",
                        "focus": f"Task?focus=ServiceRequest/{ref['id']}",
                        "request": "ServiceRequest?status=completed",
                        "other-owner": f"Task?status=accepted&owner=PractitionerRole/{stranger}",
                        "owner-completed": f"Task?owner={peer}&status=completed"}
            for name, hook in hooks.items():
                r = await svc.client.post("/fhir/Subscription", headers=lead, json=subscription(
                    hook.url, criteria[name], payload="application/fhir+json"))
                assert r.status_code == 201, r.text
            # the same criteria spelled otherwise is the same Subscription (canonical natural key)
            again = await svc.client.post("/fhir/Subscription", headers=lead, json=subscription(
                hooks["owner-completed"].url, f"Task?status=completed&owner=PractitionerRole/{peer}",
                payload="application/fhir+json"))
            assert again.status_code == 200

            await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {
                **{k: a[k] for k in ("facility", "visit_number", "assignment_id")}, "granted": True,
                "recorded_at": at(30)})
            await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentAccepted", {**a, "accepted_at": at(31)})
            await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerArrived", {**a, "arrived_at": at(40)})
            await svc.publish(topics.PAIRING_ASSIGNMENT, "CaseClosed", {
                "facility": facility, "visit_number": number, "case_id": str(uuid.uuid4()), "closed_at": at(90),
                "reason": "engaged"})
            await wait_for(lambda: _heard(hooks["request"], 1), timeout=60)
            await wait_for(lambda: _heard(hooks["owner-completed"], 1), timeout=60)
            expected = ["accepted", "in-progress", "completed"]
            await wait_for(lambda: _statuses(hooks["owner"], expected), timeout=60)
            await wait_for(lambda: _statuses(hooks["focus"], expected), timeout=60)
            [completed] = hooks["request"].events()
            assert completed["task"]["resourceType"] == "ServiceRequest" and completed["task"]["status"] == "completed"
            focus = completed["params"]["notification-event"]["part"][2]["valueReference"]["reference"]
            assert focus.endswith(f"/ServiceRequest/{ref['id']}")
            assert_valid_fhir(completed["bundle"])
            assert [e["task"]["status"] for e in hooks["owner-completed"].events()] == ["completed"]
            assert hooks["other-owner"].events() == []        # & means every part: another peer's Task never

            for bad, says in (("Consent?status=active", "resource type not supported"),
                              ("Task?status:not=completed", "status:not not supported"),
                              ("Task?_lastUpdated=gt2030-01-01", "not supported")):
                r = await svc.client.post("/fhir/Subscription", headers=lead, json=subscription(hooks["owner"].url,
                                                                                                bad))
                assert r.status_code == 400 and r.headers["content-type"].startswith("application/fhir+json")
                outcome = r.json()
                assert outcome["resourceType"] == "OperationOutcome"
                text = outcome["issue"][0]["diagnostics"]
                assert says in text and "supported: Task?status=&owner=&focus= and ServiceRequest?status=" in text
    finally:
        for hook in hooks.values():
            hook.__exit__(None, None, None)


async def _referral(svc, facility: str, number: str):
    r = await svc.client.get(f"/referrals/{facility}/{number}", headers=svc.headers("supervisor"))
    return r.json() if r.status_code == 200 else None


async def _heard(hook: HookReceiver, n: int) -> bool:
    return len(hook.events()) >= n


async def _statuses(hook: HookReceiver, expected: list[str]) -> bool:
    return [e["task"]["status"] for e in hook.events()] == expected
