"""One ED visit through all four services on the real broker and database; redelivery changes nothing."""
from __future__ import annotations

import time
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from tests.support.fixtures import read_topic, wait_until_caught_up
from tests.support.ids import random_npi
from tests.support.when import days_ahead, iso, minutes_ago

pytestmark = pytest.mark.e2e


def poll(fn, timeout: float = 30.0, interval: float = 0.2):
    """Call fn until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout}s: {result!r}")
        time.sleep(interval)


def add_specialist(stack, facility: str, npi: str | None = None) -> str:
    body = {"name": "Test Peer", "npi": npi or random_npi(), "languages": ["en", "es"], "facilities": [facility],
            "certifications": [{"kind": "CPRS", "number": "X1", "state": "NJ", "expires_on": days_ahead(730)}],
            "recovery_since": "2015-01-01", "pathways": ["MOUD-supportive"], "status": "active"}
    r = httpx.post(f"{stack.urls['pairing']}/specialists", json=body, headers=stack.headers("admin"))
    assert r.status_code == 201, r.text
    shifts = [{"facility": facility, "pattern": "24/7"}]  # matching needs a peer on shift now
    s = httpx.put(f"{stack.urls['pairing']}/specialists/{r.json()['id']}/shifts", json=shifts,
                  headers=stack.headers("admin"))
    assert s.status_code == 200, s.text
    return r.json()["id"]


async def test_ed_visit_flows_through_all_four_services_and_redelivery_changes_nothing(stack, infra):
    facility = f"F{uuid.uuid4().hex[:6].upper()}"
    visit_number = "V" + uuid.uuid4().hex[:8]
    specialist_id = add_specialist(stack, facility)
    visit = {"facility": facility, "visit_number": visit_number, "arrived_at": iso(minutes_ago(70)),
             "language": "es", "gender": "male", "age_years": 34, "diagnoses": ["T40.1X1A", "F11.20"],
             "chief_complaint": "found down, narcan given", "payer": {"plan_id": "NJMCD", "member_id": "M1"},
             "patient_ref": {"system": "urn:test:mrn", "value": "MRN-SECRET-77"}}
    r = httpx.post(f"{stack.urls['intake']}/visits", json=visit, headers=stack.headers("ehr"))
    assert r.status_code == 202, r.text
    assert r.json()["peer_indicated"] is True

    # pairing offers the visit to the peer
    query = {"facility": facility, "visit_number": visit_number}
    offers = poll(lambda: httpx.get(f"{stack.urls['pairing']}/assignments", params=query,
                                    headers=stack.headers("supervisor")).json())
    assert [(a["specialist_id"], a["status"]) for a in offers] == [(specialist_id, "offered")]
    assignment_id = offers[0]["id"]

    # referral records it
    referral_url = f"{stack.urls['referral']}/referrals/{facility}/{visit_number}"
    poll(lambda: httpx.get(referral_url, headers=stack.headers("supervisor")).status_code == 200)

    # the peer accepts and records a 50-minute encounter; billing drafts one claim
    peer = stack.headers("peer", specialist_id)
    assert httpx.post(f"{stack.urls['pairing']}/assignments/{assignment_id}/accept", headers=peer).status_code == 200
    poll(lambda: httpx.get(referral_url, headers=stack.headers("supervisor")).json()["status"] == "accepted")
    encounter = {"assignment_id": assignment_id, "started_at": iso(minutes_ago(60)),
                 "ended_at": iso(minutes_ago(10)), "modality": "in-person", "kind": "individual"}
    r = httpx.post(f"{stack.urls['pairing']}/encounters", json=encounter, headers=peer)
    assert r.status_code == 201, r.text
    claims_url = f"{stack.urls['billing']}/claims"
    claims = poll(lambda: httpx.get(claims_url, params=query, headers=stack.headers("billing")).json())
    assert len(claims) == 1 and claims[0]["plan_id"] == "NJMCD" and claims[0]["payer"] == "NJ-MEDICAID"

    # redeliver every event of this run's topics: nothing changes downstream
    before = {name: snapshot(stack, name, query) for name in ("pairing", "referral", "billing")}
    handled = {name: handled_counts(stack, name) for name in ("pairing", "referral", "billing")}
    prefix = stack.env["PEERBRIDGE_TOPIC_PREFIX"]
    redelivered = {}
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    await producer.start()
    try:
        for topic in ("intake.visit.v1", "pairing.assignment.v1"):
            records = await read_topic(infra.kafka_bootstrap, prefix + topic, expect=1, timeout=5)
            for record in records:
                await producer.send_and_wait(record.topic, record.value, key=record.key, headers=list(record.headers))
            redelivered[topic] = len(records)
    finally:
        await producer.stop()
    subscribed = {"pairing": ["intake.visit.v1"], "referral": list(redelivered), "billing": list(redelivered)}
    for name, topics in subscribed.items():
        expected = sum(redelivered[t] for t in topics)
        # Once the service's group has committed every record on its topics, each redelivered one has been seen
        # again and found to be a duplicate (or of no interest): none applied.
        await wait_until_caught_up(infra.kafka_bootstrap, prefix + name, [prefix + t for t in topics])
        counts = handled_counts(stack, name)
        assert counts["seen"] - handled[name]["seen"] >= expected, name
        assert counts["applied"] == handled[name]["applied"], name
        assert snapshot(stack, name, query) == before[name], name
    assert "MRN-SECRET-77" not in stack.logs()


def handled_counts(stack, name: str) -> dict[str, float]:
    """The consumer's outcome counters from the service's /metrics."""
    counts = {"seen": 0.0, "applied": 0.0}
    for line in httpx.get(f"{stack.urls[name]}/metrics").text.splitlines():
        if line.startswith("peerbridge_events_handled_total{"):
            value = float(line.rsplit(" ", 1)[1])
            counts["seen"] += value
            if 'outcome="applied"' in line:
                counts["applied"] += value
    return counts


def snapshot(stack, name: str, query: dict):
    """What a user of each service sees of the visit."""
    path = {"pairing": ("/assignments", "supervisor"), "billing": ("/claims", "billing")}
    if name == "referral":
        url = f"{stack.urls['referral']}/referrals/{query['facility']}/{query['visit_number']}"
        return httpx.get(url, headers=stack.headers("supervisor")).json()
    route, role = path[name]
    return httpx.get(f"{stack.urls[name]}{route}", params=query, headers=stack.headers(role)).json()


def test_every_endpoint_but_health_docs_and_metrics_needs_a_token(stack):
    for name, url in stack.urls.items():
        for path in ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"):
            assert httpx.get(url + path).status_code == 200, (name, path)
    assert httpx.get(f"{stack.urls['pairing']}/assignments").status_code == 401
    assert httpx.get(f"{stack.urls['billing']}/claims", headers=stack.headers("peer")).status_code == 403
    r = httpx.post(f"{stack.urls['intake']}/visits", json={}, headers=stack.headers("billing"))
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
