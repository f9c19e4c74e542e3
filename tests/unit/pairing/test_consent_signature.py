"""What ConsentRecorded says of the bedside signature and the named recipients: facts and a hash, never the image."""
from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest

from services.contracts import ConsentRecorded
from services.pairing.models import ConsentIn
from services.pairing.service import Recorded, Refused

pytestmark = pytest.mark.unit
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
SIGNATURE = "data:image/png;base64," + base64.b64encode(PNG).decode()
HIE = {"name": "Garden State HIE", "system": "urn:oid:2.16.840.1.113883.3.9999", "value": "gshie"}
MERCY = {"name": "Mercy Hospital", "system": "urn:peerbridge:facility", "value": "MERCY"}


async def test_the_event_carries_who_signed_when_and_the_images_hash_and_where_to_read_it(pairing):
    pairing.add_peer("a")
    accepted = await pairing.assigned()
    pairing.clock.advance(minutes=30)
    signed_at = pairing.clock.now() - timedelta(minutes=4)   # signed offline, sent when the phone was back
    recorded = await pairing.service.consent(
        pairing.uow, await pairing.store.get_assignment(accepted["id"]),
        {"granted": True, "scope": "treatment-team", "accepts_support": True, "contact_ok": False,
         "signature": SIGNATURE, "signer": "representative", "signed_at": signed_at, "recipients": [MERCY, HIE]},
        public_url="https://pairing.example")
    [event] = pairing.uow.take()
    assert isinstance(event, ConsentRecorded) and event.consent_id == recorded.id
    assert (event.signed_at, event.signer, event.signature_size) == (signed_at, "representative", len(PNG))
    assert event.signature_sha1 == base64.b64encode(hashlib.sha1(PNG).digest()).decode()
    assert event.signature_url == f"https://pairing.example/consents/{recorded.id}/signature"
    assert [r.value for r in event.recipients] == ["MERCY", "gshie"]
    assert SIGNATURE[30:80] not in event.model_dump_json()             # no piece of the image is on Kafka


async def test_a_signature_defaults_to_the_patient_now_and_other_recipients_are_another_consent(pairing):
    pairing.add_peer("a")
    accepted = await pairing.assigned()
    first = await pairing.consent(accepted["id"], signature=SIGNATURE, recipients=[MERCY])
    [event] = pairing.uow.take()
    assert (event.signer, event.signed_at) == ("patient", pairing.clock.now())
    pairing.clock.advance(minutes=1)
    assert await pairing.consent(accepted["id"], signature=SIGNATURE, recipients=[MERCY]) == Recorded(first.id, False)
    pairing.clock.advance(minutes=1)
    narrower = await pairing.consent(accepted["id"], signature=SIGNATURE, recipients=[HIE])
    assert narrower.new and [r.value for r in pairing.uow.take()[0].recipients] == ["gshie"]
    with pytest.raises(Refused):
        await pairing.consent(accepted["id"], signature=SIGNATURE, signed_at=pairing.clock.now() + timedelta(hours=1))


def test_the_api_refuses_a_signer_without_a_signature_and_a_recipient_without_an_identifier():
    with pytest.raises(ValueError):
        ConsentIn(granted=True, scope="s", signer="patient")
    with pytest.raises(ValueError):
        ConsentIn(granted=True, scope="s", recipients=[{"name": "HIE", "system": "", "value": "x"}])
    assert ConsentIn(granted=True, scope="s", signature=SIGNATURE, signer="patient", recipients=[HIE]).recipients
