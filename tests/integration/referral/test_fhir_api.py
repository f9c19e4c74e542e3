"""The FHIR API on real PostgreSQL and Kafka: events in, versioned resources, search, errors, roles and audit out."""
from __future__ import annotations

import uuid

import pytest

from services.runtime import topics
from tests.support.fixtures import wait_for

from .conftest import at, visit

pytestmark = pytest.mark.integration
PEER = str(uuid.uuid4())


async def test_referral_follows_pairing_and_is_read_searched_and_audited(referral_app, assert_valid_fhir):
    facility, number = f"F{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    async with referral_app() as svc:
        sup = svc.headers("supervisor")
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
        assignment = {"facility": facility, "visit_number": number, "assignment_id": str(uuid.uuid4()),
                      "specialist_id": PEER}
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentOffered",
                          {**assignment, "offered_at": at(1), "expires_at": at(11)})
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentAccepted",
                          {**assignment, "accepted_at": at(2)})

        identifier = f"urn:peerbridge:ed-visit|{facility}:{number}"

        async def accepted_task():
            r = await svc.client.get("/fhir/Task", params={"identifier": identifier}, headers=sup)
            entries = r.json().get("entry", [])
            return entries and entries[0]["resource"]["status"] == "accepted" and entries[0]["resource"]
        task = await wait_for(accepted_task, timeout=30)
        sr_ref = task["focus"]["reference"]
        assert task["owner"] == {"reference": f"PractitionerRole/{PEER}"}

        r = await svc.client.get("/fhir/Task", params={"focus": sr_ref}, headers=sup)
        assert r.headers["content-type"].startswith("application/fhir+json")
        bundle = r.json()
        assert (bundle["type"], bundle["total"]) == ("searchset", 1)
        assert_valid_fhir(bundle)

        r = await svc.client.get(f"/fhir/Task/{task['id']}", headers=sup)
        assert r.headers["etag"] == f'W/"{task["meta"]["versionId"]}"' and r.headers["last-modified"].endswith("GMT")
        assert_valid_fhir(r.json())
        history = (await svc.client.get(f"/fhir/Task/{task['id']}/_history", headers=sup)).json()
        assert_valid_fhir(history)
        assert [e["resource"]["status"] for e in history["entry"]][-1] == "requested"
        assert history["total"] == int(task["meta"]["versionId"]) >= 2
        v1 = await svc.client.get(f"/fhir/Task/{task['id']}/_history/1", headers=sup)
        assert v1.json()["businessStatus"]["coding"][0]["code"] == "awaiting-offer" and v1.headers["etag"] == 'W/"1"'
        assert_valid_fhir(v1.json())

        sr = await svc.client.get("/fhir/ServiceRequest", params={"identifier": identifier}, headers=sup)
        assert sr.json()["total"] == 1
        assert sr.json()["entry"][0]["resource"]["reasonCode"][0]["coding"][0]["code"] == "T40.1X1A"
        assert_valid_fhir(sr.json())

        # the peer sees its own Task, nothing else
        peer = svc.headers("peer", PEER)
        mine = await svc.client.get("/fhir/Task", params={"status": "accepted"}, headers=peer)
        assert {e["resource"]["id"] for e in mine.json()["entry"]} == {task["id"]}
        stranger = svc.headers("peer", str(uuid.uuid4()))
        other = await svc.client.get("/fhir/Task", params={"focus": sr_ref}, headers=stranger)
        assert other.json()["total"] == 0 and "entry" not in other.json()
        assert_valid_fhir(other.json())
        assert (await svc.client.get(f"/fhir/Task/{task['id']}", headers=stranger)).status_code == 403
        assert (await svc.client.get(f"/fhir/{sr_ref}", headers=peer)).status_code == 403

        # the walking skeleton's status view still answers
        legacy = (await svc.client.get(f"/referrals/{facility}/{number}", headers=sup)).json()
        assert (legacy["status"], legacy["owner_specialist_id"]) == ("accepted", PEER)

        # every read above was audited, and the trail is readable as AuditEvent
        trail = (await svc.client.get("/audit", params={"referral_id": task["id"]}, headers=sup)).json()
        actions = {(r["action"], r["outcome"]) for r in trail["records"]}
        assert {("read", "success"), ("vread", "success"), ("history", "success"), ("read", "denied")} <= actions
        events = (await svc.client.get("/fhir/AuditEvent", params={"entity": f"Task/{task['id']}"}, headers=sup)).json()
        assert events["total"] >= 4 and events["entry"][0]["resource"]["resourceType"] == "AuditEvent"
        assert_valid_fhir(events)
        nothing = (await svc.client.get("/fhir/AuditEvent", params={"entity": f"Task/{uuid.uuid4()}"},
                                        headers=sup)).json()
        assert nothing["total"] == 0 and "entry" not in nothing
        assert_valid_fhir(nothing)


async def test_search_pages_with_next_links(referral_app):
    facility = f"P{uuid.uuid4().hex[:6].upper()}"
    async with referral_app() as svc:
        for i in range(3):
            await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, f"V{i}"))
        sup = svc.headers("supervisor")

        async def three():
            r = await svc.client.get("/fhir/ServiceRequest", params={"status": "active", "_count": "200"}, headers=sup)
            mine = [e for e in r.json().get("entry", [])
                    if e["resource"]["requester"]["identifier"]["value"] == facility]
            return len(mine) == 3
        await wait_for(three)
        seen, url = [], "/fhir/ServiceRequest?status=active&_count=2"
        while url:
            page = (await svc.client.get(url, headers=sup)).json()
            assert len(page["entry"]) <= 2
            seen += [e["resource"]["id"] for e in page["entry"]]
            url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
        assert len(seen) == len(set(seen)) == page["total"] >= 3


async def test_errors_are_operation_outcomes_with_the_right_status(referral_app, assert_valid_fhir):
    async with referral_app() as svc:
        sup = svc.headers("supervisor")
        metadata = await svc.client.get("/fhir/metadata")
        assert metadata.status_code == 200 and metadata.json()["fhirVersion"] == "4.0.1"
        assert_valid_fhir(metadata.json())
        cases = [
            ("/fhir/Task", {}, 401),
            ("/fhir/Task", svc.headers("billing"), 403),
            ("/fhir/Task?bogus=1", sup, 400),
            ("/fhir/Task?_lastUpdated=soon", sup, 400),
            (f"/fhir/Task/{uuid.uuid4()}", sup, 404),
            ("/fhir/Patient/1", sup, 404),
            ("/fhir/AuditEvent", svc.headers("peer", PEER), 403),
        ]
        for path, headers, status in cases:
            r = await svc.client.get(path, headers=headers)
            assert r.status_code == status, (path, r.text)
            assert r.headers["content-type"].startswith("application/fhir+json"), path
            assert r.json()["resourceType"] == "OperationOutcome"
            assert_valid_fhir(r.json())
        assert (await svc.client.get("/audit", headers=svc.headers("peer", PEER))).headers["content-type"].startswith(
            "application/problem+json")


async def test_a_pairing_event_that_overtakes_the_referral_is_applied_once_it_exists(referral_app):
    facility, number = f"K{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    async with referral_app() as svc:
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentAccepted", {
            "facility": facility, "visit_number": number, "assignment_id": str(uuid.uuid4()), "specialist_id": PEER,
            "accepted_at": at(2)})

        async def parked():
            async with svc.pool.acquire() as conn:
                return await conn.fetchval("SELECT count(*) FROM parked_events WHERE facility = $1", facility)
        await wait_for(parked, timeout=60)
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))

        async def task():
            r = await svc.client.get("/fhir/Task", headers=svc.headers("supervisor"),
                                     params={"identifier": f"urn:peerbridge:ed-visit|{facility}:{number}"})
            return r.json().get("entry") and r.json()["entry"][0]["resource"]
        found = await wait_for(task, timeout=60)
        assert found["status"] == "accepted" and found["owner"]["reference"] == f"PractitionerRole/{PEER}"
        assert await parked() == 0


async def test_conditional_reads_answer_304_and_searches_include_the_focus(referral_app, assert_valid_fhir):
    facility, number = f"G{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    identifier = f"urn:peerbridge:ed-visit|{facility}:{number}"
    async with referral_app() as svc:
        sup = svc.headers("supervisor")
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {
            "facility": facility, "visit_number": number, "granted": True, "recorded_at": at(30)})

        async def task_with_consent():
            r = await svc.client.get("/fhir/ServiceRequest", params={"identifier": identifier}, headers=sup)
            entries = r.json().get("entry", [])
            return entries and "supportingInfo" in entries[0]["resource"] and entries[0]["resource"]["id"]
        rid = await wait_for(task_with_consent, timeout=30)
        first = await svc.client.get(f"/fhir/Task/{rid}", headers=sup)
        etag = first.headers["etag"]
        same = await svc.client.get(f"/fhir/Task/{rid}", headers={**sup, "If-None-Match": etag})
        assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == etag
        stale = await svc.client.get(f"/fhir/Task/{rid}", headers={**sup, "If-None-Match": 'W/"999"'})
        assert stale.status_code == 200 and stale.json()["id"] == rid
        v1 = await svc.client.get(f"/fhir/Task/{rid}/_history/1", headers={**sup, "If-None-Match": 'W/"1"'})
        assert v1.status_code == 304

        bundle = (await svc.client.get("/fhir/Task", params={"identifier": identifier, "_include": "Task:focus"},
                                       headers=sup)).json()
        modes = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in bundle["entry"]]
        assert modes == [("Task", "match"), ("ServiceRequest", "include")] and bundle["total"] == 1
        assert_valid_fhir(bundle)
        ehr = (await svc.client.get("/fhir/Task", params={"identifier": identifier, "_include": "Task:focus"},
                                    headers=svc.headers("ehr", facilities=[facility]))).json()
        assert [e["resource"]["resourceType"] for e in ehr["entry"]] == ["Task", "OperationOutcome"]
        assert_valid_fhir(ehr)
        wrong = await svc.client.get("/fhir/Task", params={"_include": "Task:owner"}, headers=sup)
        assert wrong.status_code == 400
        meta = (await svc.client.get("/fhir/metadata")).json()
        task_caps = next(r for r in meta["rest"][0]["resource"] if r["type"] == "Task")
        assert task_caps["searchInclude"] == ["Task:focus"] and task_caps["conditionalRead"] == "full-support"
