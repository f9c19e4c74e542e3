"""Inbound SMART where an external identity provider signs the services' tokens: referral signs its own tokens with
its own key (JWKS at /oauth/jwks) and accepts them beside the provider's; a hospital's keys come from its jwks_url,
a real HTTP server process, fetched with a timeout, cached, and fetched again when an assertion names a new kid."""
from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import jwt
import pytest

from services.referral.smart import SmartAuth, SmartClientConfig, TokenError
from services.runtime import topics
from services.runtime.clock import SystemClock
from tests.support import when
from tests.support.fixtures import wait_for
from tests.support.jwks_server import JwksHost
from tests.support.smart import client_key

from .conftest import at, visit

pytestmark = pytest.mark.integration
TOKEN_URL = "http://referral/oauth/token"
IDP = "https://idp.example.org"


def _idp_token(key, role: str) -> str:
    now = int(when.now().timestamp())
    private = key.pem_file.read_bytes()
    return jwt.encode({"sub": f"idp-{role}", "roles": [role], "iss": IDP, "aud": "peerbridge", "iat": now,
                       "exp": now + 600}, private, algorithm=key.alg, headers={"kid": key.kid})


async def test_the_token_endpoint_signs_its_own_tokens_beside_an_identity_provider_and_follows_jwks_rotation(
        referral_app):
    keys = Path(tempfile.mkdtemp(prefix="idp-keys-"))
    idp, ours = client_key(keys, "idp-1", "ES384"), client_key(keys, "referral-smart-1", "ES384")
    k1, k2, k3 = (client_key(keys, f"mercy-{n}", "ES384") for n in (1, 2, 3))
    facility, number = f"X{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    with JwksHost(Path(tempfile.mkdtemp(prefix="jwks-host-"))) as host:
        inbound = {"mercy-ehr": {"facilities": [facility], "jwks_url": host.publish("mercy", {"keys": [k1.jwk]})},
                   "hung-ehr": {"facilities": [facility], "jwks_url": f"{host.url}/slow/hung.json"}}
        host.publish("hung", {"keys": [k1.jwk]})
        async with referral_app({}, smart_inbound_clients=inbound, jwt_jwks_url=host.publish("idp", {"keys": [
                idp.jwk]}), jwt_issuer=IDP, smart_signing_key_file=ours.pem_file,
                smart_jwks_timeout_seconds=2.0, smart_jwks_refresh_seconds=1.0) as svc:
            supervisor = {"Authorization": f"Bearer {_idp_token(idp, 'supervisor')}"}
            await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
            await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {
                "facility": facility, "visit_number": number, "granted": True, "recorded_at": at(30)})

            def client(key, client_id="mercy-ehr") -> SmartAuth:
                return SmartAuth({"x": SmartClientConfig(token_url=TOKEN_URL, client_id=client_id, kid=key.kid,
                                                         private_key_file=key.pem_file, alg=key.alg,
                                                         scopes=["system/Task.rs"])}, SystemClock(), svc.client)

            token = await client(k1).token("x")          # no longer 503 with an external identity provider
            published = (await svc.client.get("/oauth/jwks")).json()
            assert [k["kid"] for k in published["keys"]] == ["referral-smart-1"] and "d" not in published["keys"][0]
            claims = jwt.decode(token, jwt.PyJWK(published["keys"][0]).key, algorithms=["ES384"],
                                audience="peerbridge")
            assert claims["iss"] == "urn:peerbridge:referral:smart" and claims["facility"] == facility
            config = (await svc.client.get("/fhir/.well-known/smart-configuration")).json()
            assert config["jwks_uri"].endswith("/oauth/jwks")

            async def tasks(headers: dict) -> int:
                r = await svc.client.get("/fhir/Task", headers=headers, params={
                    "identifier": f"urn:peerbridge:ed-visit|{facility}:{number}"})
                assert r.status_code == 200, r.text
                return r.json()["total"]
            assert await wait_for(lambda: tasks({"Authorization": f"Bearer {token}"}), timeout=60) == 1
            assert await tasks(supervisor) == 1                         # the provider's tokens still work
            local = svc.headers("supervisor")                           # the local secret signs nothing here
            assert (await svc.client.get("/fhir/Task", headers=local)).status_code == 401
            forged = jwt.encode({**claims, "roles": ["ehr"]}, k1.pem_file.read_bytes(), algorithm="ES384",
                                headers={"kid": "referral-smart-1"})    # our issuer, another key
            assert (await svc.client.get("/fhir/Task", headers={"Authorization": f"Bearer {forged}"})
                    ).status_code == 401

            # The hospital rotates its key: an assertion with the new kid makes us fetch its JWKS again.
            before = host.fetches("mercy")
            host.publish("mercy", {"keys": [k2.jwk]})
            await asyncio.sleep(1.1)                                    # past the refresh limit (1 s)
            assert await client(k2).token("x")
            assert host.fetches("mercy") == before + 1
            await asyncio.sleep(1.1)
            with pytest.raises(TokenError):                             # the withdrawn key, after the refetch
                await client(k1).token("x")
            with pytest.raises(TokenError):                             # a key it never published
                await client(k3).token("x")

            # A JWKS host that hangs costs one timeout, not a hung token request.
            started = time.monotonic()
            with pytest.raises(TokenError):
                await client(k1, "hung-ehr").token("x")
            assert time.monotonic() - started < 30
