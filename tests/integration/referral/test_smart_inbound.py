"""Hospitals authenticate to our FHIR API with SMART Backend Services: an assertion signed by a key of their
registered JWKS buys a five-minute `ehr` token for their facility; nothing else does."""
from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import jwt
import pytest

from services.referral.smart import SmartAuth, SmartClientConfig, TokenError
from services.runtime import topics
from services.runtime.clock import SystemClock
from tests.support.fixtures import wait_for
from tests.support.smart import client_key

from .conftest import at, visit

pytestmark = pytest.mark.integration
TOKEN_URL = "http://referral/oauth/token"


def _form(assertion: str, **extra) -> dict:
    return {"grant_type": "client_credentials", "scope": "system/Task.rs",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion, **extra}


async def test_a_hospital_system_reads_its_facilitys_tasks_with_a_token_bought_by_a_signed_assertion(referral_app):
    keys = Path(tempfile.mkdtemp(prefix="inbound-keys-"))
    ec, rsa, stranger = client_key(keys, "mercy-ec", "ES384"), client_key(keys, "mercy-rs", "RS384"), \
        client_key(keys, "stranger", "ES384")
    facility, other = f"I{uuid.uuid4().hex[:6].upper()}", f"J{uuid.uuid4().hex[:6].upper()}"
    numbers = {facility: "V" + uuid.uuid4().hex[:8], other: "V" + uuid.uuid4().hex[:8]}
    inbound = {"mercy-ehr": {"facilities": [facility], "jwks": {"keys": [ec.jwk, rsa.jwk]}}}
    async with referral_app({}, smart_inbound_clients=inbound) as svc:
        for f, number in numbers.items():
            await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(f, number))
            await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {
                "facility": f, "visit_number": number, "granted": True, "recorded_at": at(30)})

        def client(key, scopes=("system/Task.rs",)) -> SmartAuth:
            cfg = SmartClientConfig(token_url=TOKEN_URL, client_id="mercy-ehr", kid=key.kid,
                                    private_key_file=key.pem_file, alg=key.alg, scopes=list(scopes))
            return SmartAuth({"x": cfg}, SystemClock(), svc.client)

        token = await client(ec).token("x")
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["roles"] == ["ehr"] and claims["facility"] == facility and claims["sub"] == "mercy-ehr"
        assert claims["exp"] - claims["iat"] <= 300
        assert await client(rsa).token("x")   # either registered key

        async def tasks(f: str) -> int:
            r = await svc.client.get("/fhir/Task", params={"identifier": f"urn:peerbridge:ed-visit|{f}:{numbers[f]}"},
                                     headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200
            return r.json()["total"]
        await wait_for(lambda: tasks(facility), timeout=60)
        assert await tasks(other) == 0     # another facility's referral stays unseen

        auth = client(ec)
        replayed = auth.assertion("x")
        assert (await svc.client.post("/oauth/token", data=_form(replayed))).status_code == 200
        again = await svc.client.post("/oauth/token", data=_form(replayed))
        assert again.status_code == 401 and again.json()["error"] == "invalid_client"
        refused = await svc.client.post("/oauth/token", data=_form(auth.assertion("x"), scope="system/Task.write"))
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
        with pytest.raises(TokenError):  # a key the hospital never registered
            await SmartAuth({"x": SmartClientConfig(token_url=TOKEN_URL, client_id="mercy-ehr", kid=stranger.kid,
                                                    private_key_file=stranger.pem_file, alg="ES384",
                                                    scopes=["system/Task.rs"])}, SystemClock(), svc.client).token("x")
        elsewhere = SmartAuth({"x": SmartClientConfig(token_url="https://elsewhere/token", client_id="mercy-ehr",
                                                      kid=ec.kid, private_key_file=ec.pem_file, alg="ES384")},
                              SystemClock(), svc.client)
        wrong_aud = await svc.client.post("/oauth/token", data=_form(elsewhere.assertion("x")))
        assert wrong_aud.status_code == 401
        bad = jwt.decode(auth.assertion("x"), options={"verify_signature": False})
        long_lived = jwt.encode({**bad, "exp": bad["iat"] + 900}, auth._key("x"), algorithm="ES384",
                                headers={"kid": ec.kid})
        assert (await svc.client.post("/oauth/token", data=_form(long_lived))).status_code == 401
        assert (await svc.client.post("/oauth/token", data=_form(auth.assertion("x"), grant_type="password"))
                ).status_code == 400
        config = (await svc.client.get("/fhir/.well-known/smart-configuration")).json()
        assert config["token_endpoint"] == TOKEN_URL and "private_key_jwt" in \
            config["token_endpoint_auth_methods_supported"]
