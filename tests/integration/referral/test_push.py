"""Push to a real HAPI FHIR JPA server: held without consent, sent with it, delayed (not lost) by an outage."""
from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid

import httpx
import pytest

from services.referral.domain.disclosure import REDISCLOSURE_NOTICE
from services.referral.push import Pusher
from services.runtime import topics
from tests.support.fixtures import read_topic, wait_for

from tests.support.hospital import Hapi, Relay

from .conftest import Recording, at, visit

pytestmark = pytest.mark.integration


def ids(facility: str, number: str) -> dict:
    return {"facility": facility, "visit_number": number, "assignment_id": str(uuid.uuid4()),
            "specialist_id": str(uuid.uuid4())}


async def _disclosures(svc, outcome: str, facility: str) -> list:
    """This facility's disclosures with this outcome (the session's tests share one referral schema and its audit)."""
    r = await svc.client.get("/audit", params={"action": "disclosure"}, headers=svc.headers("supervisor"))
    return [rec for rec in r.json()["records"] if rec["outcome"] == outcome and rec["destination"] == facility]


async def test_nothing_reaches_the_hospital_before_consent_then_one_conditional_transaction_per_change(
        referral_app, hapi, infra, assert_valid_fhir):
    facility, number = f"H{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    identifier = f"urn:peerbridge:ed-visit|{facility}:{number}"
    a = ids(facility, number)
    wire = Recording()
    async with referral_app({facility: hapi.url}, push_transport=wire) as svc:
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentAccepted", {**a, "accepted_at": at(2)})
        await wait_for(lambda: _disclosures(svc, "held", facility), timeout=60)
        assert hapi.find("Task", identifier) == [] and hapi.find("ServiceRequest", identifier) == []

        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded",
                          {**{k: a[k] for k in ("facility", "visit_number", "assignment_id")}, "granted": True,
                           "scope": "hospital-care-team", "recorded_at": at(30),
                           "expires_at": at(30, days=365)})
        tasks = await wait_for(lambda: _found(hapi, "Task", identifier), timeout=60)
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerArrived", {**a, "arrived_at": at(40)})
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


async def test_an_outage_of_the_hospital_server_only_delays_the_push(referral_app, hapi):
    facility, number = f"O{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    identifier = f"urn:peerbridge:ed-visit|{facility}:{number}"
    # the hospital's server behind a relay that does not listen yet: connection refused, as in an outage
    down = Relay(hapi.port)
    async with referral_app({facility: f"http://127.0.0.1:{down.port}/fhir"}) as svc:
        # consent published before the visit's referral exists: parked, then applied once the referral is created
        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {
            "facility": facility, "visit_number": number, "granted": True, "recorded_at": at(30)})
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
        await wait_for(lambda: _disclosures(svc, "failed", facility), timeout=60)
        assert hapi.find("ServiceRequest", identifier) == []
        await down.start()
        try:
            await wait_for(lambda: _found(hapi, "ServiceRequest", identifier), timeout=60)
        finally:
            await down.stop()
        # Audited with the push's own commit, just after the hospital's server answered.
        await wait_for(lambda: _disclosures(svc, "success", facility), timeout=30)


async def _found(server: Hapi, rtype: str, identifier: str):
    try:
        return server.find(rtype, identifier)
    except httpx.HTTPError:
        return []


async def _status(server: Hapi, identifier: str, status: str) -> bool:
    return any(t["status"] == status for t in await _found(server, "Task", identifier))


async def _queue(svc, facility: str) -> tuple[int, int]:
    """The facility's queued pushes: (all, still pending)."""
    async with svc.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT count(*) AS n, count(*) FILTER (WHERE state = 'pending') AS pending"
                                  " FROM push_queue WHERE facility = $1", facility)
    return row["n"], row["pending"]


async def _settled(svc, facility: str, rows: int) -> bool:
    n, pending = await _queue(svc, facility)
    return n >= rows and pending == 0


async def test_changes_queued_together_reach_the_hospital_as_one_transaction(referral_app, hapi):
    facility, number = f"C{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    identifier = f"urn:peerbridge:ed-visit|{facility}:{number}"
    a = ids(facility, number)
    wire = Recording()
    async with referral_app({facility: hapi.url}, push_transport=wire) as svc:
        # Pairing's events overtake the visit: the referral's creation applies all three in one transaction,
        # which queues four pushes of one state.
        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {
            "facility": facility, "visit_number": number, "granted": True, "recorded_at": at(30)})
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentOffered",
                          {**a, "offered_at": at(1), "expires_at": at(11)})
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentAccepted", {**a, "accepted_at": at(2)})

        async def parked():
            async with svc.pool.acquire() as conn:
                return await conn.fetchval("SELECT count(*) FROM parked_events WHERE facility = $1", facility) == 3
        await wait_for(parked, timeout=60)
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
        await wait_for(lambda: _settled(svc, facility, 4), timeout=60)
        # one transaction on the wire (HAPI would keep one version for identical repeats too, so count them)
        assert len(_mine(wire, number)) == 1
        [task] = hapi.find("Task", identifier)
        assert task["status"] == "accepted" and hapi.versions("Task", task["id"]) == 1

        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerArrived", {**a, "arrived_at": at(40)})
        await wait_for(lambda: _settled(svc, facility, 5), timeout=60)
        assert len(_mine(wire, number)) == 2
        [task] = hapi.find("Task", identifier)
        # HAPI's conditional update matched the Task by identifier and made it version 2
        assert task["status"] == "in-progress" and hapi.versions("Task", task["id"]) == 2


def _mine(wire: Recording, number: str) -> list[dict]:
    """The transactions sent about one visit."""
    return [b for b in wire.sent if any(number in json.dumps(e["resource"]) for e in b["entry"])]


class LoseTheFirstAnswer(httpx.AsyncHTTPTransport):
    """Delivers every request; the first one's answer is lost on the way back (a timeout after the server wrote)."""

    def __init__(self):
        super().__init__()
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        response = await super().handle_async_request(request)
        if self.sent == 1:
            await response.aread()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


async def test_a_push_whose_answer_was_lost_is_sent_again_and_the_hospital_holds_one_copy(referral_app, hapi):
    """The retry meets what the first attempt wrote: HAPI's conditional create (If-None-Exist on the
    PractitionerRole) and conditional updates (by identifier) match it, so nothing is doubled."""
    facility, number = f"L{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    identifier = f"urn:peerbridge:ed-visit|{facility}:{number}"
    a = ids(facility, number)
    npi = "".join(random.choices("0123456789", k=10))
    lossy = LoseTheFirstAnswer()
    async with referral_app({facility: hapi.url}, push_transport=lossy) as svc:
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentAccepted",
                          {**a, "accepted_at": at(2), "specialist_npi": npi, "specialist_name": "Robin Peer"})
        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {
            "facility": facility, "visit_number": number, "granted": True, "recorded_at": at(30)})
        await wait_for(lambda: _found(hapi, "Task", identifier), timeout=60)
        await wait_for(lambda: _settled(svc, facility, 1), timeout=60)
        assert lossy.sent >= 2
        [task] = hapi.find("Task", identifier)
        [sr] = hapi.find("ServiceRequest", identifier)
        [consent] = hapi.find("Consent", identifier)
        for rtype, resource in (("Task", task), ("ServiceRequest", sr), ("Consent", consent)):
            assert hapi.versions(rtype, resource["id"]) == 1, rtype
        [role] = hapi.find("PractitionerRole", f"http://hl7.org/fhir/sid/us-npi|{npi}")
        assert task["owner"]["reference"].split("/_history")[0] == f"PractitionerRole/{role['id']}"
        assert hapi.versions("PractitionerRole", role["id"]) == 1


class HeldUntilTheOtherWaits(httpx.AsyncBaseTransport):
    """Holds a push until the other pusher is blocked on a lock or has finished, so two pushes overlap if they can."""

    def __init__(self, pool, other_done: asyncio.Event):
        self.pool, self.other_done, self.inner = pool, other_done, httpx.AsyncHTTPTransport()
        self.sent = 0

    async def handle_async_request(self, request):
        async def other_waits():
            if self.other_done.is_set():
                return True
            async with self.pool.acquire() as conn:
                return await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                           " AND wait_event_type = 'Lock'")
        with contextlib.suppress(AssertionError):  # neither gives way: both push, and the count below says so
            await wait_for(other_waits, timeout=10, interval=0.05)
        self.sent += 1
        return await self.inner.handle_async_request(request)


async def test_two_pushers_never_push_the_same_change_twice(referral_app, hapi):
    facility, number = f"W{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    identifier = f"urn:peerbridge:ed-visit|{facility}:{number}"
    async with referral_app({facility: hapi.url}, push_enabled=False) as svc:
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {
            "facility": facility, "visit_number": number, "granted": True, "recorded_at": at(30)})
        await wait_for(lambda: _pending(svc, facility, 2), timeout=60)

        done = [asyncio.Event(), asyncio.Event()]
        runtime = svc.app.state.runtime
        wires = [HeldUntilTheOtherWaits(svc.pool, done[1 - i]) for i in range(2)]
        pushers = [Pusher(runtime, svc.settings, transport=wires[i]) for i in range(2)]

        async def work(i: int) -> None:
            try:
                while await pushers[i].push_one():
                    pass
            finally:
                done[i].set()
                await pushers[i].client.aclose()
        await asyncio.gather(work(0), work(1))

        assert await _settled(svc, facility, 2)
        # counted on the wire: HAPI keeps one version for an identical repeat, so its history cannot tell
        assert sum(w.sent for w in wires) == 1
        [task] = hapi.find("Task", identifier)
        assert hapi.versions("Task", task["id"]) == 1


async def _pending(svc, facility: str, rows: int) -> bool:
    return (await _queue(svc, facility))[1] >= rows
