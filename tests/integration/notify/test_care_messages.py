"""Crisis hand-offs and renewal warnings (issue 14) through notify on real Kafka and PostgreSQL: the crisis route's
responder, the on-call supervisor and the case's peer are texted once each, a renewal reaches the peer's supervisor,
and no text says anything about the patient."""
from __future__ import annotations

import uuid

import pytest

from services.runtime import topics
from services.runtime.envelope import new_event, partition_key
from tests.support.fixtures import wait_for
from tests.support.when import iso, now

from .conftest import facility, phone

pytestmark = pytest.mark.integration


def texts_to(sms, number: str) -> list[str]:
    return [r.form.get("Body") for r in sms.received if r.form.get("To") == number and not r.refused]


async def test_a_crisis_texts_the_route_the_on_call_supervisor_and_the_peer_once_each(notify_app, sms):
    fac, peer, supervisor, responder = facility(), str(uuid.uuid4()), f"sup-{uuid.uuid4().hex[:6]}", "mobile-team"
    numbers = {who: phone() for who in ("peer", "supervisor", "responder")}
    async with notify_app() as svc:
        await svc.contacts("specialist", peer, [{"channel": "sms", "address": numbers["peer"]}])
        await svc.contacts("supervisor", supervisor, [{"channel": "sms", "address": numbers["supervisor"]}])
        await svc.contacts("responder", responder + fac, [{"channel": "sms", "address": numbers["responder"]}])
        visit = "V" + uuid.uuid4().hex[:8]
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", {
            "facility": fac, "visit_number": visit, "arrived_at": iso(now()), "location": "ED-EAST", "bed": "12",
            "diagnoses": ["T401X2A"], "peer_indicated": True, "crisis": True, "crisis_rules": ["self-harm"],
            "indications": [{"kind": "diagnosis", "code": "T401X2A", "reason": "intentional opioid overdose"}]})
        data = {"handoff_id": str(uuid.uuid4()), "case_id": str(uuid.uuid4()), "facility": fac,
                "visit_number": visit, "raised_at": iso(now()), "raised_by": "intake", "route": "mobile-crisis",
                "contact": responder + fac, "specialist_id": peer, "supervisor": supervisor}
        event = new_event("pairing", "CrisisRaised", data)
        for _ in range(2):  # redelivered: nobody is texted twice
            await svc.publish(topics.PAIRING_ASSIGNMENT, "CrisisRaised", data, event=event)

        async def all_sent():
            found = {who: texts_to(sms, n) for who, n in numbers.items()}
            return found if all(found.values()) else None
        found = await wait_for(all_sent, timeout=30)
        rows = await svc.pool.fetch("SELECT recipient_kind, kind FROM messages WHERE facility = $1", fac)
        assert sorted((r["recipient_kind"], r["kind"]) for r in rows) == [
            ("responder", "crisis"), ("specialist", "crisis"), ("supervisor", "crisis")]
        for texts in found.values():
            [text] = texts
            assert text.startswith(f"PeerBridge: CRISIS at {fac}, ED-EAST, bay 12. Hand-off to the mobile crisis team.")
            assert not any(word in text.lower() for word in ("overdose", "opioid", "intentional", "t401x2a"))


async def test_a_renewal_warning_reaches_the_peers_supervisor(notify_app, sms):
    supervisor, number, specialist = f"sup-{uuid.uuid4().hex[:6]}", phone(), str(uuid.uuid4())
    async with notify_app() as svc:
        await svc.contacts("supervisor", supervisor, [{"channel": "sms", "address": number}])
        data = {"specialist_id": specialist, "credential": "continuing-education", "kind": "CPRS",
                "due_on": "2031-07-01", "days_left": 30, "threshold_days": 30, "supervisor": supervisor}
        await svc.producer.send_and_wait(svc.prefix + topics.PAIRING_ASSIGNMENT,
                                         new_event("pairing", "CredentialRenewalDue", data).to_bytes(),
                                         key=partition_key("specialist", specialist))
        [text] = await wait_for(lambda: _texts(sms, number), timeout=30)
        assert text.startswith("PeerBridge: a peer's continuing education is due for renewal on 2031-07-01.")
        assert specialist not in text


async def _texts(sms, number):
    return texts_to(sms, number) or None
