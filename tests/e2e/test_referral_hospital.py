"""On a running stack of its own (intake, pairing, referral as processes) with a hospital whose HAPI FHIR server
takes only tokens of its SMART authorization server: consent given -> pushed with a valid token, resolvable at the
hospital and valid FHIR; the hospital's system subscribes with a token bought by its own signed assertion and hears
`accepted` and `completed`; consent revoked -> Consent inactive at the hospital, nothing more leaves."""
from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

from services.referral.smart import SmartAuth, SmartClientConfig
from services.runtime.clock import SystemClock
from tests.e2e.test_walking_skeleton import add_specialist, poll
from tests.support.hook_receiver import HookReceiver
from tests.support.services import start_services, stop_services
from tests.support.smart import client_key
from tests.support.stack import fresh_database
from tests.support.when import iso_minutes_ago

pytestmark = pytest.mark.e2e
FACILITY = f"M{uuid.uuid4().hex[:6].upper()}"


@pytest.fixture(scope="module")
async def hospital_stack(infra, hospital, tmp_path_factory):
    """Its own database: another referral on the same schema would settle this facility's pushes as no-endpoint."""
    system_key = client_key(hospital.authz.dir, "mercy-system", "ES384")
    env = {"REFERRAL_FHIR_ENDPOINTS": json.dumps({FACILITY: hospital.hapi.url}),
           "REFERRAL_SMART_CLIENTS": json.dumps({FACILITY: hospital.client("peerbridge-v2", hospital.ec,
                                                                            smart_version="v2")}),
           "REFERRAL_SMART_INBOUND_CLIENTS": json.dumps({"mercy-system": {
               "facilities": [FACILITY], "jwks": {"keys": [system_key.jwk]}}}),
           "REFERRAL_SUBSCRIPTION_ALLOW_HTTP": "true", "REFERRAL_SUBSCRIPTION_BACKOFF_SECONDS": "0.2",
           "REFERRAL_PUSH_POLL_SECONDS": "0.2"}
    async with fresh_database(infra.admin_dsn, "pb_e2e_hospital") as url:
        stack = start_services(infra.kafka_bootstrap, url, tmp_path_factory.mktemp("hospital-logs"), env,
                               names=("intake", "pairing", "referral"))
        stack.system_key = system_key
        yield stack
        stop_services(stack)


def _system_token(stack) -> str:
    """The hospital's system buys an ehr token from us with its signed assertion (no shared secret)."""
    token_url = f"{stack.urls['referral']}/oauth/token"
    cfg = SmartClientConfig(token_url=token_url, client_id="mercy-system", kid=stack.system_key.kid,
                            private_key_file=stack.system_key.pem_file, alg="ES384", scopes=["system/Task.rs"])
    async def get() -> str:
        async with httpx.AsyncClient() as http:
            return await SmartAuth({"x": cfg}, SystemClock(), http).token("x")
    return asyncio.run(get())


def _references(value) -> list[str]:
    if isinstance(value, dict):
        own = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return own + [r for v in value.values() for r in _references(v)]
    if isinstance(value, list):
        return [r for v in value for r in _references(v)]
    return []


def _visit_accepted_with_consent(stack, specialist_id: str) -> tuple[str, str, dict]:
    """A peer-indicated visit whose offer the peer accepted and whose patient consented at the bedside."""
    number = "V" + uuid.uuid4().hex[:8]
    visit = {"facility": FACILITY, "visit_number": number, "arrived_at": iso_minutes_ago(20), "language": "en",
             "diagnoses": ["T40.1X1A"], "patient_ref": {"system": "urn:test:mrn", "value": f"MRN-{number}"}}
    assert httpx.post(f"{stack.urls['intake']}/visits", json=visit, headers=stack.headers("ehr")).status_code == 202
    offers = poll(lambda: httpx.get(f"{stack.urls['pairing']}/assignments",
                                    params={"facility": FACILITY, "visit_number": number},
                                    headers=stack.headers("supervisor")).json(), timeout=60)
    peer = stack.headers("peer", specialist_id)
    assignment = f"{stack.urls['pairing']}/assignments/{offers[0]['id']}"
    assert httpx.post(f"{assignment}/accept", headers=peer).status_code == 200
    consent = {"granted": True, "scope": "hospital-care-team"}
    assert httpx.post(f"{assignment}/consent", json=consent, headers=peer).status_code == 201
    return number, assignment, peer


def _close(stack, number: str) -> None:
    cases = poll(lambda: httpx.get(f"{stack.urls['pairing']}/cases", params={"facility": FACILITY,
                                   "visit_number": number}, headers=stack.headers("supervisor")).json())
    closed = httpx.post(f"{stack.urls['pairing']}/cases/{cases[0]['id']}/close", json={"reason": "completed"},
                        headers=stack.headers("supervisor"))
    assert closed.status_code == 200, closed.text


def test_consent_push_subscription_and_revocation_reach_the_hospitals_own_record(hospital_stack, hospital,
                                                                                assert_valid_fhir):
    stack = hospital_stack
    token = _system_token(stack)
    hapi = hospital.hapi
    with HookReceiver() as hook:
        sub = httpx.post(f"{stack.urls['referral']}/fhir/Subscription", headers={"Authorization": f"Bearer {token}"},
                         json={"resourceType": "Subscription", "status": "requested", "reason": "our referrals",
                               "criteria": "Task?status=accepted,completed",
                               "channel": {"type": "rest-hook", "endpoint": hook.url,
                                           "payload": "application/fhir+json"}})
        assert sub.status_code == 201, sub.text
        specialist_id = add_specialist(stack, FACILITY, npi="1234567893")
        hapi.headers = {"Authorization": f"Bearer {_auditor(hospital)}"}

        # consent given: pushed with the hospital's token, everything resolvable there and valid FHIR
        kept, _, _ = _visit_accepted_with_consent(stack, specialist_id)
        identifier = f"urn:peerbridge:ed-visit|{FACILITY}:{kept}"
        task = poll(lambda: hapi.find("Task", identifier), timeout=60)[0]
        assert task["status"] == "accepted"
        for rtype in ("ServiceRequest", "Task", "Consent"):
            [resource] = hapi.find(rtype, identifier)
            assert_valid_fhir(resource)
            for ref in _references(resource):
                assert httpx.get(f"{hapi.url}/{ref}", headers=hapi.headers).status_code == 200
        assert hospital.authz.stats()["issued"]["peerbridge-v2"] >= 1
        _close(stack, kept)
        poll(lambda: [(e["task"]["identifier"][0]["value"], e["task"]["status"]) for e in hook.events()] == [
            (f"{FACILITY}:{kept}", "accepted"), (f"{FACILITY}:{kept}", "completed")], timeout=60)
        poll(lambda: hapi.find("ServiceRequest", identifier)[0]["status"] == "completed", timeout=60)

        # consent revoked: the hospital's Consent turns inactive and nothing more leaves
        revoked, assignment, peer = _visit_accepted_with_consent(stack, specialist_id)
        identifier = f"urn:peerbridge:ed-visit|{FACILITY}:{revoked}"
        poll(lambda: hapi.find("Consent", identifier), timeout=60)
        revoke = {"granted": False, "scope": "hospital-care-team"}
        assert httpx.post(f"{assignment}/consent", json=revoke, headers=peer).status_code == 201
        poll(lambda: hapi.find("Consent", identifier)[0]["status"] == "inactive", timeout=60)
        assert_valid_fhir(hapi.find("Consent", identifier)[0])
        _close(stack, revoked)
        referral = f"{stack.urls['referral']}/referrals/{FACILITY}/{revoked}"
        poll(lambda: httpx.get(referral, headers=stack.headers("supervisor")).json()["status"] == "completed")
        held = f"{stack.urls['referral']}/audit"
        rid = httpx.get(referral, headers=stack.headers("supervisor")).json()["id"]
        poll(lambda: httpx.get(held, params={"referral_id": rid, "action": "disclosure"},
                               headers=stack.headers("supervisor")).json()["records"][0]["outcome"] == "held")
        assert hapi.find("Task", identifier)[0]["status"] == "accepted"
        assert hapi.find("ServiceRequest", identifier)[0]["status"] == "active"
        assert [e for e in hook.events() if e["task"]["identifier"][0]["value"] == f"{FACILITY}:{revoked}"
                and e["task"]["status"] == "completed"] == []
    assert "MRN-V" not in stack.logs()


def _auditor(hospital) -> str:
    async def get() -> str:
        async with httpx.AsyncClient() as http:
            cfg = SmartClientConfig(**hospital.client("auditor", hospital.reader, scopes=["system/*.read"]))
            return await SmartAuth({"x": cfg}, SystemClock(), http).token("x")
    return asyncio.run(get())
