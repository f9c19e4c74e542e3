"""FHIR Subscriptions: a hospital hears of its Tasks' `accepted` and `completed` by rest-hook, through outages
(retried, status shown on the Subscription), with heartbeats; other facilities' Tasks never reach it."""
from __future__ import annotations

import uuid

import pytest

from services.runtime import topics
from tests.support.fixtures import wait_for
from tests.support.hook_receiver import HookReceiver

from .conftest import at, visit

pytestmark = pytest.mark.integration
HEARTBEAT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-heartbeat-period"


def subscription(endpoint: str, criteria: str = "Task?status=accepted,completed", **channel) -> dict:
    return {"resourceType": "Subscription", "status": "requested", "reason": "follow our referrals",
            "criteria": criteria, "channel": {"type": "rest-hook", "endpoint": endpoint, **channel}}


async def test_a_subscriber_hears_of_accepted_and_completed_through_an_outage(referral_app, assert_valid_fhir):
    facility, other = f"U{uuid.uuid4().hex[:6].upper()}", f"W{uuid.uuid4().hex[:6].upper()}"
    numbers = {f: "V" + uuid.uuid4().hex[:8] for f in (facility, other)}
    with HookReceiver() as hook, HookReceiver() as quiet:
        async with referral_app({}, subscription_allow_http=True, subscription_backoff_seconds=0.2,
                                subscription_max_backoff_seconds=0.5) as svc:
            ehr = svc.headers("ehr", facilities=[facility])
            r = await svc.client.post("/fhir/Subscription", headers=ehr, json=subscription(
                hook.url, payload="application/fhir+json", header=["Authorization: Bearer hospital-secret"]))
            assert r.status_code == 201 and r.json()["status"] == "active"
            sid = r.json()["id"]
            again = await svc.client.post("/fhir/Subscription", headers=ehr, json=subscription(
                hook.url, payload="application/fhir+json", header=["Authorization: Bearer hospital-secret"]))
            assert again.status_code == 200 and again.json()["id"] == sid      # the natural key: no second one
            assert_valid_fhir(r.json())
            beat = await svc.client.post("/fhir/Subscription", headers=svc.headers("supervisor"), json=subscription(
                quiet.url, "Task?status=entered-in-error", extension=[{"url": HEARTBEAT, "valueUnsignedInt": 1}]))
            assert beat.status_code == 201

            for f, number in numbers.items():
                a = {"facility": f, "visit_number": number, "assignment_id": str(uuid.uuid4()),
                     "specialist_id": str(uuid.uuid4())}
                await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(f, number))
                await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {
                    "facility": f, "visit_number": number, "granted": True, "recorded_at": at(30)})
                await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentAccepted", {**a, "accepted_at": at(31)})
            await wait_for(lambda: _statuses(hook, ["accepted"]), timeout=60)
            [accepted] = hook.events()
            assert accepted["task"]["identifier"][0]["value"] == f"{facility}:{numbers[facility]}"
            assert hook.headers[0]["Authorization"] == "Bearer hospital-secret"
            assert_valid_fhir(accepted["bundle"])

            hook.refuse = True  # the hospital's endpoint is down when the case closes
            await svc.publish(topics.PAIRING_ASSIGNMENT, "CaseClosed", {
                "facility": facility, "visit_number": numbers[facility], "case_id": str(uuid.uuid4()),
                "closed_at": at(90), "reason": "engaged"})
            failing = await wait_for(lambda: _subscription(svc, ehr, sid, "error"), timeout=60)
            assert "HTTP 503" in failing["error"]
            hook.refuse = False
            await wait_for(lambda: _statuses(hook, ["accepted", "completed"]), timeout=60)
            assert "error" not in await wait_for(lambda: _subscription(svc, ehr, sid, "active"), timeout=60)
            completed = hook.events()[-1]
            assert completed["params"]["notification-event"]["part"][0]["valueString"] == "2"

            # heartbeats keep a quiet subscription's endpoint sure it is alive
            await wait_for(lambda: _count(quiet.events("heartbeat"), 2), timeout=60)
            assert quiet.events() == []
            assert_valid_fhir(quiet.events("heartbeat")[0]["bundle"])

            # not another subscriber's, and not with bad criteria
            assert (await svc.client.get(f"/fhir/Subscription/{sid}",
                                         headers=svc.headers("ehr", facilities=[other]))).status_code == 404
            for bad in (subscription(hook.url, "Consent?status=active"), subscription(hook.url, "Task?x=1"),
                        subscription(hook.url, "Task?status=bogus"), {**subscription(hook.url), "channel": {
                            "type": "email", "endpoint": "mailto:a@b"}}):
                assert (await svc.client.post("/fhir/Subscription", headers=ehr, json=bad)).status_code == 400
            assert (await svc.client.post("/fhir/Subscription", headers=svc.headers("peer", str(uuid.uuid4())),
                                          json=subscription(hook.url))).status_code == 403
            off = await svc.client.delete(f"/fhir/Subscription/{sid}", headers=ehr)
            assert off.json()["status"] == "off"
    # only its own facility's Tasks reached the ehr subscriber
    assert all(e["task"]["identifier"][0]["value"].startswith(facility) for e in hook.events())


async def _statuses(hook: HookReceiver, expected: list[str]) -> bool:
    return [e["task"]["status"] for e in hook.events()] == expected


async def _count(items: list, n: int) -> bool:
    return len(items) >= n


async def _subscription(svc, headers: dict, sid: str, status: str):
    body = (await svc.client.get(f"/fhir/Subscription/{sid}", headers=headers)).json()
    return body if body["status"] == status else None


async def test_a_notification_waiting_when_the_consent_ends_never_leaves_and_sent_ones_are_accounted(referral_app):
    facility, number = f"Y{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    a = {"facility": facility, "visit_number": number, "assignment_id": str(uuid.uuid4()),
         "specialist_id": str(uuid.uuid4())}
    with HookReceiver() as hook:
        async with referral_app({}, subscription_allow_http=True, subscription_backoff_seconds=0.2,
                                subscription_max_backoff_seconds=0.5) as svc:
            ehr = svc.headers("ehr", facilities=[facility])
            r = await svc.client.post("/fhir/Subscription", headers=ehr, json=subscription(
                hook.url, "Task?status=requested,accepted"))
            sid = r.json()["id"]
            await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
            await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {
                **{k: a[k] for k in ("facility", "visit_number", "assignment_id")}, "granted": True,
                "recorded_at": at(30)})
            await wait_for(lambda: _count(hook.events(), 1), timeout=60)   # requested, once consent let it see
            assert "notification-event" in hook.events()[0]["params"] and hook.events()[0]["task"] is None  # id only

            hook.refuse = True
            await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentAccepted", {**a, "accepted_at": at(31)})
            await wait_for(lambda: _subscription(svc, ehr, sid, "error"), timeout=60)
            await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {
                **{k: a[k] for k in ("facility", "visit_number", "assignment_id")}, "granted": False,
                "recorded_at": at(40)})
            await wait_for(lambda: _withheld(svc, sid), timeout=60)
            hook.refuse = False
            assert len(hook.events()) == 1

            accounting = await svc.client.get("/disclosures", params={"patient": f"urn:test:mrn|MRN-{number}"},
                                              headers=svc.headers("privacy"))
            [notified] = [d for d in accounting.json()["disclosures"] if d["kind"] == "notification"]
            assert notified["recipient"] == "local-ehr" and notified["resources"][0].startswith("Task/")


async def _withheld(svc, sid: str) -> bool:
    async with svc.pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM subscription_deliveries WHERE subscription_id = $1"
                                   " AND state = 'withheld'", sid) == 1
