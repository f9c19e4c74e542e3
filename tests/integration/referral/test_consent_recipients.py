"""Per-recipient consent with the recipients the patient named: each recipient's systems (the hospital's, an HIE's)
receive the referral (reads, Subscription notifications, the push) only under a consent that names them; the
signature travels to the hospital as the Consent's source."""
from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path

import pytest

from services.referral.smart import SmartAuth, SmartClientConfig
from services.runtime import topics
from services.runtime.clock import SystemClock
from tests.support.fixtures import wait_for
from tests.support.hook_receiver import HookReceiver
from tests.support.smart import client_key

from .conftest import Recording, at, visit
from .test_subscriptions import subscription

pytestmark = pytest.mark.integration
HIE = {"name": "Garden State HIE", "system": "urn:oid:2.16.840.1.113883.3.9999", "value": "gshie"}
SHA1 = "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="


async def test_each_recipient_receives_only_under_a_consent_that_names_it(referral_app, hapi, assert_valid_fhir):
    facility, number = f"N{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    identifier = f"urn:peerbridge:ed-visit|{facility}:{number}"
    mercy = {"name": "Mercy Hospital", "system": "urn:peerbridge:facility", "value": facility}
    a = {"facility": facility, "visit_number": number, "assignment_id": str(uuid.uuid4()),
         "specialist_id": str(uuid.uuid4())}
    keys = Path(tempfile.mkdtemp(prefix="recipient-keys-"))
    hie_key, mercy_key = client_key(keys, "hie-1", "ES384"), client_key(keys, "mercy-1", "ES384")
    inbound = {"gshie": {"facilities": [facility], "jwks": {"keys": [hie_key.jwk]},
                         "recipient": {"system": HIE["system"], "value": HIE["value"]}},
               "mercy-ehr": {"facilities": [facility], "jwks": {"keys": [mercy_key.jwk]}}}
    wire = Recording()
    with HookReceiver() as hie_hook, HookReceiver() as mercy_hook:
        async with referral_app({facility: hapi.url}, push_transport=wire, smart_inbound_clients=inbound,
                                subscription_allow_http=True) as svc:
            async def bearer(client_id: str, key) -> dict:
                auth = SmartAuth({"x": SmartClientConfig(
                    token_url="http://referral/oauth/token", client_id=client_id, kid=key.kid,
                    private_key_file=key.pem_file, alg=key.alg, scopes=["system/Task.rs"])}, SystemClock(),
                    svc.client)
                return {"Authorization": f"Bearer {await auth.token('x')}"}
            hie, hospital = await bearer("gshie", hie_key), await bearer("mercy-ehr", mercy_key)
            for headers, hook in ((hie, hie_hook), (hospital, mercy_hook)):
                r = await svc.client.post("/fhir/Subscription", headers=headers,
                                          json=subscription(hook.url, "Task?status=accepted"))
                assert r.status_code == 201, r.text

            async def seen(headers: dict) -> int:
                r = await svc.client.get("/fhir/Task", params={"identifier": identifier}, headers=headers)
                return r.json()["total"]

            # The patient names the HIE only: the HIE reads and hears; the hospital neither, and nothing is pushed.
            await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
            await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {
                **{k: a[k] for k in ("facility", "visit_number", "assignment_id")}, "granted": True,
                "scope": "treatment-referral", "recorded_at": at(30), "recipients": [HIE]})
            await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentAccepted", {**a, "accepted_at": at(31)})
            await wait_for(lambda: _heard(hie_hook, 1), timeout=60)
            assert await seen(hie) == 1 and await seen(hospital) == 0
            task_id = hie_hook.events()[0]["params"]["notification-event"]["part"][2]["valueReference"][
                "reference"].rsplit("/", 1)[1]
            assert (await svc.client.get(f"/fhir/Task/{task_id}", headers=hie)).status_code == 200
            assert (await svc.client.get(f"/fhir/Task/{task_id}", headers=hospital)).status_code == 404
            await wait_for(lambda: _held(svc, facility, number), timeout=60)
            assert hapi.find("Task", identifier) == [] and mercy_hook.events() == []

            # A new consent, signed, naming the hospital only: the hospital receives it all, the HIE nothing more.
            await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {
                **{k: a[k] for k in ("facility", "visit_number", "assignment_id")}, "granted": True,
                "scope": "treatment-referral", "recorded_at": at(40), "recipients": [mercy],
                "consent_id": str(uuid.uuid4()), "signed_at": at(39), "signer": "patient", "signature_sha1": SHA1,
                "signature_size": 2048, "signature_url": "https://pairing.example/consents/x/signature"})
            await wait_for(lambda: _at_hospital(hapi, identifier), timeout=60)
            [consent] = hapi.find("Consent", identifier)
            assert consent["sourceAttachment"]["hash"] == SHA1
            assert [x["reference"]["identifier"]["value"] for x in consent["provision"]["actor"]] == [
                "peer-recovery", facility]
            assert await seen(hospital) == 1 and await seen(hie) == 0
            await wait_for(lambda: _heard(mercy_hook, 1), timeout=60)   # the Task, as it stands, now visible
            for bundle in (b for b in wire.sent if facility in json.dumps(b)):
                assert_valid_fhir(bundle)


async def _heard(hook: HookReceiver, n: int) -> bool:
    return len(hook.events()) >= n


async def _at_hospital(hapi, identifier: str) -> bool:
    return bool(hapi.find("Consent", identifier)) and bool(hapi.find("Task", identifier))


async def _held(svc, facility: str, number: str) -> bool:
    async with svc.pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM push_queue WHERE facility = $1 AND state = 'held'",
                                   facility) > 0
