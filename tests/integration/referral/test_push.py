"""Push to a real HAPI FHIR server: held without consent, sent with it, delayed (not lost) by an outage."""
from __future__ import annotations

import json
import uuid

import httpx
import pytest

from services.referral.domain.disclosure import REDISCLOSURE_NOTICE
from services.runtime import topics
from tests.support.fixtures import read_topic, wait_for

from .conftest import Hapi, Recording, visit

pytestmark = pytest.mark.integration


def ids(facility: str, number: str) -> dict:
    return {"facility": facility, "visit_number": number, "assignment_id": str(uuid.uuid4()),
            "specialist_id": str(uuid.uuid4())}


async def _disclosures(svc, outcome: str) -> list:
    r = await svc.client.get("/audit", params={"action": "disclosure"}, headers=svc.headers("supervisor"))
    return [rec for rec in r.json()["records"] if rec["outcome"] == outcome]


async def test_nothing_reaches_the_hospital_before_consent_then_one_conditional_transaction_per_change(
        referral_app, hapi, infra, assert_valid_fhir):
    facility, number = f"H{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    identifier = f"urn:peerbridge:ed-visit|{facility}:{number}"
    a = ids(facility, number)
    wire = Recording()
    async with referral_app({facility: hapi.url}, push_transport=wire) as svc:
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentAccepted", {**a, "accepted_at": "2026-11-27T09:02:00Z"})
        await wait_for(lambda: _disclosures(svc, "held"), timeout=60)
        assert hapi.find("Task", identifier) == [] and hapi.find("ServiceRequest", identifier) == []

        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded",
                          {**{k: a[k] for k in ("facility", "visit_number", "assignment_id")}, "granted": True,
                           "scope": "hospital-care-team", "recorded_at": "2026-11-27T09:30:00Z",
                           "expires_at": "2027-11-27T09:30:00Z"})
        tasks = await wait_for(lambda: _found(hapi, "Task", identifier), timeout=60)
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerArrived", {**a, "arrived_at": "2026-11-27T09:40:00Z"})
        await wait_for(lambda: _status(hapi, identifier, "in-progress"), timeout=60)

        [sr] = hapi.find("ServiceRequest", identifier)
        [task] = hapi.find("Task", identifier)
        [consent] = hapi.find("Consent", identifier)
        assert tasks[0]["status"] == "accepted"
        assert task["focus"]["reference"] == f"ServiceRequest/{sr['id']}"
        assert int(task["meta"]["versionId"]) >= 2
        assert sr["supportingInfo"][0]["reference"] == f"Consent/{consent['id']}"
        assert consent["status"] == "active" and consent["category"][0]["coding"][0]["code"] == "IDSCL"
        assert task["note"][0]["text"] == REDISCLOSURE_NOTICE
        assert {"42CFRPart2", "SUD"} <= {s["code"] for s in sr["meta"]["security"]}
        # what went over the wire, checked by HL7's validator: transactions of ServiceRequest, Task and Consent
        pushed = [b for b in wire.sent if any(number in json.dumps(e["resource"]) for e in b["entry"])]
        assert len(pushed) >= 2 and {b["type"] for b in pushed} == {"transaction"}
        for bundle in pushed:
            assert_valid_fhir(bundle)
        served = (await svc.client.get("/fhir/Consent", params={"identifier": identifier},
                                       headers=svc.headers("supervisor"))).json()
        assert served["total"] == 1 and served["entry"][0]["resource"]["status"] == "active"
        assert_valid_fhir(served)

    records = await read_topic(infra.kafka_bootstrap, svc.prefix + topics.REFERRAL_REFERRAL, expect=5, timeout=20)
    mine = [json.loads(r.value) for r in records if json.loads(r.value)["data"]["visit_number"] == number]
    names = [e["type"].rsplit(".", 1)[-1] for e in mine]
    assert "DisclosureHeld" in names and "DisclosureSent" in names
    sent = next(e["data"] for e in mine if e["type"].endswith("DisclosureSent"))
    assert sent["consent_id"].startswith("Consent/") and sent["status_code"] == 200


async def test_an_outage_of_the_hospital_server_only_delays_the_push(referral_app):
    facility, number = f"O{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    identifier = f"urn:peerbridge:ed-visit|{facility}:{number}"
    later = Hapi()  # nothing listens on its port yet
    async with referral_app({facility: later.url}) as svc:
        # consent published before the visit's referral exists: parked, then applied once the referral is created
        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {
            "facility": facility, "visit_number": number, "granted": True, "recorded_at": "2026-11-27T09:30:00Z"})
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
        await wait_for(lambda: _disclosures(svc, "failed"), timeout=60)
        try:
            later.start()
            await wait_for(lambda: _found(later, "ServiceRequest", identifier), timeout=60)
        finally:
            later.stop()
        assert len(await _disclosures(svc, "success")) >= 1


async def _found(server: Hapi, rtype: str, identifier: str):
    try:
        return server.find(rtype, identifier)
    except httpx.HTTPError:
        return []


async def _status(server: Hapi, identifier: str, status: str) -> bool:
    return any(t["status"] == status for t in await _found(server, "Task", identifier))
