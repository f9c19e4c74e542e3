"""Access to Part 2 records: every attempt audited, allowed or not; a hospital reads its own consented Tasks only."""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from services.runtime import topics
from tests.support.fixtures import wait_for

from .conftest import SECRET, visit

pytestmark = pytest.mark.integration


def _consent(facility: str, number: str) -> dict:
    recorded = datetime.now(timezone.utc) - timedelta(minutes=5)
    return {"facility": facility, "visit_number": number, "granted": True, "scope": "hospital-care-team",
            "recorded_at": recorded.isoformat()}


async def _referral(svc, facility: str, number: str, *, consent: bool = False) -> str:
    """Publish a peer-indicated visit (and a granted consent) and wait until its resources are stored."""
    identifier = f"urn:peerbridge:ed-visit|{facility}:{number}"
    await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
    if consent:
        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", _consent(facility, number))
    rtype = "Consent" if consent else "Task"

    async def stored():
        r = await svc.client.get(f"/fhir/{rtype}", params={"identifier": identifier},
                                 headers=svc.headers("supervisor"))
        return r.json().get("entry") and r.json()["entry"][0]["resource"]["id"]
    return await wait_for(stored, timeout=60)


async def _trail_after(svc, last_id: int) -> list[dict]:
    r = await svc.client.get("/audit", params={"limit": 1000}, headers=svc.headers("supervisor"))
    return sorted((rec for rec in r.json()["records"] if rec["id"] > last_id), key=lambda rec: rec["id"])


async def _last_audit_id(svc) -> int:
    r = await svc.client.get("/audit", params={"limit": 1}, headers=svc.headers("supervisor"))
    return r.json()["records"][0]["id"] if r.json()["records"] else 0


async def test_every_attempt_on_every_part2_route_leaves_exactly_one_audit_record(referral_app):
    facility, number = f"A{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    async with referral_app() as svc:
        rid = await _referral(svc, facility, number)
        sup, billing = svc.headers("supervisor"), svc.headers("billing")
        bad_purpose = svc.headers("supervisor", **{"X-Purpose-Of-Use": "not a code"})
        unknown = str(uuid.uuid4())
        requests = [  # path, headers, expected status, audited action and outcome
            (f"/referrals/{facility}/{number}", sup, 200, "status", "success"),
            (f"/referrals/{facility}/{number}", billing, 403, "status", "denied"),
            (f"/referrals/{facility}/{number}", bad_purpose, 400, "status", "bad-request"),
            (f"/referrals/{facility}/V-none", sup, 404, "status", "not-found"),
            (f"/referrals/{facility}/{number}", {}, 401, "status", "unauthenticated"),
            (f"/fhir/Task?identifier=urn:peerbridge:ed-visit|{facility}:{number}", sup, 200, "search", "success"),
            ("/fhir/Task", billing, 403, "search", "denied"),
            ("/fhir/Task?bogus=1", sup, 400, "search", "bad-request"),
            ("/fhir/Task?status=%00", sup, 400, "search", "bad-request"),  # refused by the runtime's shared check
            ("/fhir/Patient", sup, 404, "search", "not-found"),
            ("/fhir/ServiceRequest", {}, 401, "search", "unauthenticated"),
            (f"/fhir/ServiceRequest/{rid}", sup, 200, "read", "success"),
            (f"/fhir/ServiceRequest/{rid}", billing, 403, "read", "denied"),
            (f"/fhir/Task/{rid}", bad_purpose, 400, "read", "bad-request"),
            (f"/fhir/Task/{unknown}", sup, 404, "read", "not-found"),
            (f"/fhir/Task/{rid}", {}, 401, "read", "unauthenticated"),
            (f"/fhir/Task/{rid}/_history", sup, 200, "history", "success"),
            (f"/fhir/Task/{rid}/_history", billing, 403, "history", "denied"),
            (f"/fhir/Task/{rid}/_history", bad_purpose, 400, "history", "bad-request"),
            (f"/fhir/Task/{unknown}/_history", sup, 404, "history", "not-found"),
            (f"/fhir/Task/{rid}/_history", {}, 401, "history", "unauthenticated"),
            (f"/fhir/Task/{rid}/_history/1", sup, 200, "vread", "success"),
            (f"/fhir/Task/{rid}/_history/1", billing, 403, "vread", "denied"),
            (f"/fhir/Task/{rid}/_history/first", sup, 400, "vread", "bad-request"),
            (f"/fhir/Task/{rid}/_history/99", sup, 404, "vread", "not-found"),
            (f"/fhir/Task/{rid}/_history/1", {}, 401, "vread", "unauthenticated"),
        ]
        before = await _last_audit_id(svc)
        for path, headers, status, _action, _outcome in requests:
            r = await svc.client.get(path, headers=headers)
            assert r.status_code == status, (path, r.text)
        trail = await _trail_after(svc, before)

    assert [(rec["action"], rec["outcome"], rec["status_code"]) for rec in trail] == [
        (action, outcome, status) for _path, _headers, status, action, outcome in requests]
    allowed = [rec for rec in trail if rec["outcome"] == "success"]
    assert all(rec["resource_ids"] == [rid] for rec in allowed)
    assert {rec["referral_id"] for rec in allowed if rec["action"] != "search"} == {rid}
    assert {rec["actor"] for rec in trail if rec["outcome"] == "unauthenticated"} == {"anonymous"}
    assert {rec["actor_role"] for rec in trail if rec["outcome"] == "denied"} == {"billing"}
    # nothing beyond what the trail always held: the path's facility and visit number are not recorded
    assert number not in json.dumps(trail) and facility not in json.dumps(trail)


async def test_a_hospital_reads_the_consented_tasks_of_its_own_facility_and_nothing_else(referral_app):
    mine, other = f"M{uuid.uuid4().hex[:6].upper()}", f"O{uuid.uuid4().hex[:6].upper()}"
    async with referral_app() as svc:
        shared = await _referral(svc, mine, "V1", consent=True)
        unconsented = await _referral(svc, mine, "V2")
        elsewhere = await _referral(svc, other, "V1", consent=True)
        ehr = svc.headers("ehr", facilities=[mine])

        found = await svc.client.get("/fhir/Task", params={"_count": "200"}, headers=ehr)
        assert found.status_code == 200, found.text
        bundle = found.json()
        assert [e["resource"]["id"] for e in bundle["entry"]] == [shared] and bundle["total"] == 1
        assert bundle["entry"][0]["resource"]["requester"]["identifier"]["value"] == mine

        assert (await svc.client.get(f"/fhir/Task/{shared}", headers=ehr)).status_code == 200
        assert (await svc.client.get(f"/fhir/Task/{shared}/_history", headers=ehr)).status_code == 200
        for hidden in (elsewhere, unconsented):
            for path in (f"/fhir/Task/{hidden}", f"/fhir/Task/{hidden}/_history", f"/fhir/Task/{hidden}/_history/1"):
                r = await svc.client.get(path, headers=ehr)
                assert (r.status_code, r.json()["resourceType"]) == (404, "OperationOutcome"), path
        assert (await svc.client.get(f"/fhir/ServiceRequest/{shared}", headers=ehr)).status_code == 403
        nowhere = await svc.client.get("/fhir/Task", headers=svc.headers("ehr"))
        assert nowhere.json()["total"] == 0

        trail = (await svc.client.get("/audit", params={"referral_id": elsewhere},
                                      headers=svc.headers("supervisor"))).json()["records"]
        refused = [(r["action"], r["outcome"], r["status_code"], r["actor_role"]) for r in trail
                   if r["actor_role"] == "ehr"]
        assert sorted(refused) == [("history", "denied", 404, "ehr"), ("read", "denied", 404, "ehr"),
                                   ("vread", "denied", 404, "ehr")]


async def test_part2_refusals_answer_in_the_media_type_the_openapi_declares(referral_app):
    from tests.unit.test_openapi_errors import concrete, secured

    async with referral_app() as svc:
        roleless = jwt.encode({"sub": "no-roles", "roles": [], "iss": "peerbridge-local", "aud": "peerbridge",
                               "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")
        routes = list(secured(svc.app, audited=True))
        assert len(routes) >= 5  # the status view and the four FHIR reads
        for method, path, op in routes:
            for status, headers in (("401", {}), ("403", {"Authorization": f"Bearer {roleless}"})):
                r = await svc.client.request(method, concrete(path), headers=headers)
                declared = next(iter(op["responses"][status]["content"]))
                assert (r.status_code, r.headers["content-type"]) == (int(status), declared), (method, path)
