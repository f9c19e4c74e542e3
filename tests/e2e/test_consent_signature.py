"""The bedside signature and named recipients on the running stack: pairing keeps the image, ConsentRecorded carries
its hash, referral's Consent points to it, and only a named recipient's systems read the referral or the signature."""
from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from services.runtime.auth import issue_token
from tests.e2e.test_pairing_flow import poll
from tests.unit.pairing.builders import npi, peer

pytestmark = pytest.mark.e2e
PNG = b"\x89PNG\r\n\x1a\n" + uuid.uuid4().bytes * 64
HIE = {"name": "Garden State HIE", "system": "urn:oid:2.16.840.1.113883.3.9999", "value": "gshie"}


def _ehr(stack, facility: str) -> dict:
    token = issue_token(stack.secret, role="ehr", issuer="peerbridge-local", audience="peerbridge",
                        facilities=[facility])
    return {"Authorization": f"Bearer {token}"}


def _accepted_assignment(stack) -> tuple[str, dict, dict]:
    pairing, admin = stack.urls["pairing"], stack.headers("admin")
    facility, now = f"S{uuid.uuid4().hex[:6].upper()}", datetime.now(timezone.utc)
    r = httpx.post(f"{pairing}/specialists", json=peer("signer", facility, npi=npi()), headers=admin)
    assert r.status_code == 201, r.text
    specialist = r.json()["id"]
    shift = [{"facility": facility, "starts_at": (now - timedelta(hours=1)).isoformat(),
              "ends_at": (now + timedelta(hours=8)).isoformat()}]
    assert httpx.put(f"{pairing}/specialists/{specialist}/shifts", json=shift, headers=admin).status_code == 200
    visit = {"facility": facility, "visit_number": "V" + uuid.uuid4().hex[:8], "arrived_at": now.isoformat(),
             "diagnoses": ["T40.1X1A"], "patient_ref": {"system": "urn:test:mrn", "value": "MRN-SIGNED-1"}}
    assert httpx.post(f"{stack.urls['intake']}/visits", json=visit, headers=stack.headers("ehr")).status_code == 202
    query = {"facility": facility, "visit_number": visit["visit_number"]}
    [offer] = poll(lambda: httpx.get(f"{pairing}/assignments", params=query,
                                     headers=stack.headers("supervisor")).json())
    mine = stack.headers("peer", specialist)
    assert httpx.post(f"{pairing}/assignments/{offer['id']}/accept", headers=mine).status_code == 200
    return facility, offer, mine


def _consent(stack, facility: str, visit_number: str, status: str | None = None) -> dict | None:
    r = httpx.get(f"{stack.urls['referral']}/fhir/Consent",
                  params={"identifier": f"urn:peerbridge:ed-visit|{facility}:{visit_number}"},
                  headers=stack.headers("supervisor"))
    entries = r.json().get("entry", [])
    found = entries[0]["resource"] if entries else None
    return found if found and (status is None or found["status"] == status) else None


def _tasks_seen(stack, facility: str, visit_number: str) -> int:
    r = httpx.get(f"{stack.urls['referral']}/fhir/Task",
                  params={"identifier": f"urn:peerbridge:ed-visit|{facility}:{visit_number}"},
                  headers=_ehr(stack, facility))
    return r.json()["total"]


def test_the_signature_reaches_the_consent_by_hash_and_only_named_recipients_read_it(stack):
    facility, offer, mine = _accepted_assignment(stack)
    pairing, number = stack.urls["pairing"], offer["visit_number"]
    signed_at = datetime.now(timezone.utc) - timedelta(minutes=3)
    mercy = {"name": "Mercy Hospital", "system": "urn:peerbridge:facility", "value": facility}
    body = {"granted": True, "scope": "treatment-referral", "signer": "patient", "signed_at": signed_at.isoformat(),
            "signature": "data:image/png;base64," + base64.b64encode(PNG).decode(), "recipients": [mercy, HIE]}
    r = httpx.post(f"{pairing}/assignments/{offer['id']}/consent", json=body, headers=mine)
    assert r.status_code == 201, r.text
    consent = poll(lambda: _consent(stack, facility, number), timeout=60)
    attachment = consent["sourceAttachment"]
    assert attachment["hash"] == base64.b64encode(hashlib.sha1(PNG).digest()).decode()
    assert attachment["size"] == len(PNG) and "data" not in attachment
    assert attachment["url"] == f"{pairing}/consents/{r.json()['id']}/signature"
    given = datetime.fromisoformat(consent["dateTime"].replace("Z", "+00:00"))
    assert abs((given - signed_at).total_seconds()) < 1            # when it was signed, not when it was sent
    assert [a["reference"]["identifier"]["value"] for a in consent["provision"]["actor"]] == [
        "peer-recovery", facility, "gshie"]
    # The named facility's systems read the signature where the Consent says; another facility's do not.
    image = httpx.get(attachment["url"], headers=_ehr(stack, facility))
    assert image.status_code == 200 and image.headers["content-type"] == "image/png" and image.content == PNG
    assert httpx.get(attachment["url"], headers=_ehr(stack, "ELSEWHERE")).status_code == 404
    assert httpx.get(attachment["url"], headers=stack.headers("privacy")).content == PNG
    assert httpx.get(attachment["url"], headers=mine).status_code == 403
    assert poll(lambda: _tasks_seen(stack, facility, number), timeout=30) == 1

    # The patient narrows the consent to the HIE alone: the facility no longer sees the referral or the signature.
    narrower = {**body, "recipients": [HIE], "signed_at": datetime.now(timezone.utc).isoformat()}
    r2 = httpx.post(f"{pairing}/assignments/{offer['id']}/consent", json=narrower, headers=mine)
    assert r2.status_code == 201
    poll(lambda: _tasks_seen(stack, facility, number) == 0, timeout=60)
    consent = _consent(stack, facility, number)
    assert [a["reference"]["identifier"]["value"] for a in consent["provision"]["actor"]] == [
        "peer-recovery", "gshie"]
    assert httpx.get(f"{pairing}/consents/{r2.json()['id']}/signature",
                     headers=_ehr(stack, facility)).status_code == 404
