"""The push authenticates with SMART Backend Services to a hospital whose FHIR server takes only its own tokens."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import httpx
import jwt
import pytest

from services.referral.smart import SmartAuth, SmartClientConfig
from services.runtime import topics
from services.runtime.clock import FixedClock
from tests.support.fixtures import wait_for
from tests.support.when import now

from .conftest import at, visit

pytestmark = pytest.mark.integration


def consent(facility: str, number: str) -> dict:
    return {"facility": facility, "visit_number": number, "granted": True, "recorded_at": at(30)}


async def _tasks(hospital, identifier: str) -> list[dict]:
    try:
        return hospital.hapi.find("Task", identifier)
    except httpx.HTTPError:
        return []


async def _outcomes(svc, facility: str, number: str) -> list[str]:
    """The outcomes of the disclosure attempts of this visit's referral (the database is the session's)."""
    ref = await svc.client.get(f"/referrals/{facility}/{number}", headers=svc.headers("supervisor"))
    if ref.status_code != 200:
        return []
    r = await svc.client.get("/audit", params={"action": "disclosure", "referral_id": ref.json()["id"]},
                             headers=svc.headers("supervisor"))
    return [rec["outcome"] for rec in r.json()["records"]]


@pytest.mark.parametrize("client_id,key,version", [("peerbridge-v1", "rsa", "v1"), ("peerbridge-v2", "ec", "v2")])
async def test_each_push_carries_a_token_the_hospital_issued_reused_until_refused(
        referral_app, hospital, client_id, key, version):
    await hospital.read_as_auditor()
    facility, number = f"S{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    identifier = f"urn:peerbridge:ed-visit|{facility}:{number}"
    a = {"facility": facility, "visit_number": number, "assignment_id": str(uuid.uuid4()),
         "specialist_id": str(uuid.uuid4())}
    smart = {facility: hospital.client(client_id, getattr(hospital, key), smart_version=version)}
    issued = hospital.authz.stats()["issued"].get(client_id, 0)
    async with referral_app({facility: hospital.hapi.url}, smart_clients=smart) as svc:
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", consent(facility, number))
        await wait_for(lambda: _tasks(hospital, identifier), timeout=60)
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentAccepted", {**a, "accepted_at": at(31)})
        await wait_for(lambda: _status(hospital, identifier, "accepted"), timeout=60)
        # two transactions, one token: it is cached until shortly before it expires
        assert hospital.authz.stats()["issued"][client_id] == issued + 1

        hospital.authz.revoke_all()  # the hospital withdraws every token: the next push gets a 401
        await hospital.read_as_auditor()
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerArrived", {**a, "arrived_at": at(40)})
        await wait_for(lambda: _status(hospital, identifier, "in-progress"), timeout=60)
        assert hospital.authz.stats()["issued"][client_id] == issued + 2
        # the refused attempt was renewed and retried at once, never recorded as a failed disclosure
        assert set(await _outcomes(svc, facility, number)) <= {"success", "held"}


async def test_a_push_without_a_token_or_with_scopes_not_granted_never_reaches_the_record(referral_app, hospital):
    await hospital.read_as_auditor()
    facility, number = f"N{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    identifier = f"urn:peerbridge:ed-visit|{facility}:{number}"
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": []}
    assert httpx.post(hospital.hapi.url, json=bundle).status_code == 401
    smart = {facility: hospital.client("narrow", hospital.rsa, smart_version="v1")}  # asks for more than granted
    async with referral_app({facility: hospital.hapi.url}, smart_clients=smart) as svc:
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", consent(facility, number))
        await wait_for(lambda: _failed(svc, facility, number), timeout=60)
    assert "scope" in hospital.authz.stats()["refused"]
    assert hospital.hapi.find("Task", identifier) == []


async def _failed(svc, facility: str, number: str) -> bool:
    return "failed" in await _outcomes(svc, facility, number)


async def _status(hospital, identifier: str, status: str) -> bool:
    return any(t["status"] == status for t in await _tasks(hospital, identifier))


def _ask(hospital, assertion: str, **form) -> httpx.Response:
    data = {"grant_type": "client_credentials", "scope": "system/Task.write",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion, **form}
    return httpx.post(hospital.authz.token_url, data=data)


async def test_the_authorization_server_checks_what_the_spec_requires_of_an_assertion(hospital):
    cfg = SmartClientConfig(**hospital.client("narrow", hospital.rsa, scopes=["system/Task.write"]))
    async with httpx.AsyncClient() as http:
        auth = SmartAuth({"F": cfg}, FixedClock(now()), http)
        good = auth.assertion("F")
        claims = jwt.decode(good, options={"verify_signature": False})
        assert claims["iss"] == claims["sub"] == "narrow" and claims["aud"] == hospital.authz.token_url
        assert 0 < claims["exp"] - claims["iat"] <= 300 and claims["jti"] != jwt.decode(
            auth.assertion("F"), options={"verify_signature": False})["jti"]
        assert _ask(hospital, good).status_code == 200
        assert _ask(hospital, good).json()["error"] == "invalid_client"          # jti replayed
        assert _ask(hospital, auth.assertion("F"), grant_type="password").status_code == 400
        assert _ask(hospital, auth.assertion("F"), scope="system/Consent.write").json()["error"] == "invalid_scope"
        key = auth._key("F")

        def signed(**change) -> str:
            body = {**claims, "jti": uuid.uuid4().hex, **change}
            return jwt.encode(body, key, algorithm="RS384", headers={"kid": hospital.rsa.kid})
        assert _ask(hospital, signed()).status_code == 200
        assert _ask(hospital, signed(aud="https://elsewhere/token")).status_code == 401
        assert _ask(hospital, signed(exp=claims["iat"] + 600)).status_code == 401   # longer than five minutes
        assert _ask(hospital, signed(sub="someone-else")).status_code == 401
        other = SmartAuth({"F": SmartClientConfig(**hospital.client("narrow", hospital.ec, alg="ES384"))},
                          FixedClock(now()), http)
        assert _ask(hospital, other.assertion("F")).status_code == 401           # a key not registered for it
        assert json.loads(httpx.post(f"{hospital.authz.url}/introspect", data={"token": "made-up"}).text) == {
            "active": False}


async def test_a_token_is_renewed_shortly_before_it_expires(hospital):
    # Assertions are stamped by the injected clock; started in the past, its advanced time stays within the
    # authorization server's five minutes.
    clock = FixedClock(now() - timedelta(seconds=290))
    cfg = SmartClientConfig(**hospital.client("peerbridge-v2", hospital.ec, alg="ES384"))
    async with httpx.AsyncClient() as http:
        auth = SmartAuth({"F": cfg}, clock, http)
        before = hospital.authz.stats()["issued"].get("peerbridge-v2", 0)
        first = await auth.token("F")
        clock.advance(seconds=200)
        assert await auth.token("F") == first
        clock.advance(seconds=45)   # 245 s of a 300 s token: within the last minute, so a new one
        assert await auth.token("F") != first
        assert hospital.authz.stats()["issued"]["peerbridge-v2"] == before + 2
