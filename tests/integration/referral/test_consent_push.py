"""A consent that ends reaches the hospital: revoked or expired, its Consent turns inactive there and nothing more
leaves; a consent that names only the peer program sends nothing to the hospital."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from services.runtime import topics
from tests.support.fixtures import wait_for

from .conftest import MovableClock, Recording, at, visit

pytestmark = pytest.mark.integration


def _case(prefix: str) -> tuple[str, str, str, dict]:
    facility, number = f"{prefix}{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    a = {"facility": facility, "visit_number": number, "assignment_id": str(uuid.uuid4()),
         "specialist_id": str(uuid.uuid4())}
    return facility, number, f"urn:peerbridge:ed-visit|{facility}:{number}", a


def _consent(a: dict, granted: bool, minutes: float, **extra) -> dict:
    return {**{k: a[k] for k in ("facility", "visit_number", "assignment_id")}, "granted": granted,
            "recorded_at": at(minutes), **extra}


async def _consent_status(hapi, identifier: str, status: str) -> bool:
    return any(c["status"] == status for c in hapi.find("Consent", identifier))


async def _trail(svc, facility: str, number: str) -> list[tuple[str, str]]:
    ref = await svc.client.get(f"/referrals/{facility}/{number}", headers=svc.headers("supervisor"))
    if ref.status_code != 200:
        return []
    r = await svc.client.get("/audit", params={"referral_id": ref.json()["id"]}, headers=svc.headers("supervisor"))
    return [(rec["action"], rec["outcome"]) for rec in r.json()["records"] if rec["actor"] == "referral-push"]


async def test_a_revoked_consent_turns_inactive_at_the_hospital_and_nothing_more_leaves(
        referral_app, hapi, assert_valid_fhir):
    facility, number, identifier, a = _case("K")
    wire = Recording()
    async with referral_app({facility: hapi.url}, push_transport=wire) as svc:
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded",
                          _consent(a, True, 30, scope="hospital-care-team", expires_at=at(30, days=90)))
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentAccepted", {**a, "accepted_at": at(31)})
        await wait_for(lambda: _task(hapi, identifier, "accepted"), timeout=60)
        [given] = hapi.find("Consent", identifier)
        text = given["text"]["div"]
        for element in ("Who discloses", "To whom", "Purpose", "What", "Expires", "Given", "Right to revoke"):
            assert element in text
        assert given["provision"]["period"]["end"].startswith(at(30, days=90)[:10])

        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", _consent(a, False, 50))
        await wait_for(lambda: _consent_status(hapi, identifier, "inactive"), timeout=60)
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerArrived", {**a, "arrived_at": at(55)})
        await wait_for(lambda: _held_after_revocation(svc, facility, number), timeout=60)
        [task] = hapi.find("Task", identifier)
        assert task["status"] == "accepted"  # the change after the revocation stayed with us
        [revoked] = hapi.find("Consent", identifier)
        assert "revoked by the patient" in revoked["text"]["div"]
        revocations = [b for b in wire.sent if facility in json.dumps(b) and len(b["entry"]) == 1]
        assert [e["resource"]["resourceType"] for b in revocations for e in b["entry"]] == ["Consent"]
        for bundle in revocations:
            assert_valid_fhir(bundle)


async def _held_after_revocation(svc, facility: str, number: str) -> bool:
    trail = await _trail(svc, facility, number)  # newest first
    return ("revocation", "success") in trail and trail[0] == ("disclosure", "held")


async def _task(hapi, identifier: str, status: str) -> bool:
    return any(t["status"] == status for t in hapi.find("Task", identifier))


async def test_an_expired_consent_is_ended_by_the_clock_and_the_hospital_told(referral_app, hapi):
    facility, number, identifier, a = _case("E")
    clock = MovableClock()
    async with referral_app({facility: hapi.url}, clock=clock) as svc:
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded",
                          _consent(a, True, 30, expires_at=at(30, days=30)))
        await wait_for(lambda: _consent_status(hapi, identifier, "active"), timeout=60)
        clock.offset = timedelta(days=31)
        await wait_for(lambda: _consent_status(hapi, identifier, "inactive"), timeout=60)
        [ended] = hapi.find("Consent", identifier)
        assert "expired" in ended["text"]["div"]
        # our own copy ended too, and the hospital's systems no longer see the Task through our API
        served = await svc.client.get("/fhir/Consent", params={"identifier": identifier},
                                      headers=svc.headers("supervisor"))
        assert served.json()["entry"][0]["resource"]["status"] == "inactive"
        tasks = await svc.client.get("/fhir/Task", params={"identifier": identifier},
                                     headers=svc.headers("ehr", facilities=[facility]))
        assert tasks.json()["total"] == 0
        assert ("revocation", "success") in await _trail(svc, facility, number)


async def test_a_consent_to_the_peer_program_only_sends_nothing_to_the_hospital(referral_app, hapi):
    facility, number, identifier, a = _case("P")
    async with referral_app({facility: hapi.url}) as svc:
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded",
                          _consent(a, True, 30, scope="peer-program-only"))
        await wait_for(lambda: _settled_with_consent(svc, facility, number), timeout=60)
        trail = await _trail(svc, facility, number)
        assert trail and set(trail) == {("disclosure", "held")}
        consent = (await svc.client.get("/fhir/Consent", params={"identifier": identifier},
                                        headers=svc.headers("supervisor"))).json()["entry"][0]["resource"]
        assert consent["status"] == "active"
        assert [r["reference"]["identifier"]["system"] for r in consent["provision"]["actor"]] == [
            "urn:peerbridge:program"]
    assert hapi.find("ServiceRequest", identifier) == [] and hapi.find("Consent", identifier) == []


async def _settled_with_consent(svc, facility: str, number: str) -> bool:
    """The consent is applied and every push it queued is settled."""
    ref = await svc.client.get(f"/referrals/{facility}/{number}", headers=svc.headers("supervisor"))
    if ref.status_code != 200 or ref.json()["consent"] != "active":
        return False
    async with svc.pool.acquire() as conn:
        return not await conn.fetchval("SELECT count(*) FROM push_queue WHERE facility = $1 AND state = 'pending'",
                                       facility)
