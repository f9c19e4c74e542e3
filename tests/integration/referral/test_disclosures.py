"""Accounting of disclosures: a patient's disclosures for a privacy officer, three years back, exportable as FHIR."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from services.runtime import topics
from tests.support.fixtures import wait_for

from .conftest import MovableClock, at, visit

pytestmark = pytest.mark.integration


async def _accounting(svc, patient: str, role: str = "privacy", **params):
    return await svc.client.get("/disclosures", params={"patient": patient, **params}, headers=svc.headers(role))


async def _kinds(svc, patient: str) -> list[str]:
    return [d["kind"] for d in (await _accounting(svc, patient)).json()["disclosures"]]


async def test_a_privacy_officer_accounts_for_every_disclosure_about_a_patient(referral_app, hapi, assert_valid_fhir):
    facility, number = f"D{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    patient = f"urn:test:mrn|MRN-{number}"
    a = {"facility": facility, "visit_number": number, "assignment_id": str(uuid.uuid4())}
    clock = MovableClock()
    async with referral_app({facility: hapi.url}, clock=clock) as svc:
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {**a, "granted": True, "recorded_at": at(30)})
        await wait_for(lambda: _has(svc, patient, "disclosure"), timeout=60)
        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {**a, "granted": False, "recorded_at": at(50)})
        await wait_for(lambda: _has(svc, patient, "revocation"), timeout=60)

        body = (await _accounting(svc, patient)).json()
        assert [d["kind"] for d in body["disclosures"]] == ["revocation", "disclosure"]   # newest first
        first = body["disclosures"][-1]
        assert first["recipient"] == facility and first["purpose"] == "TREAT"
        assert {r.split("/")[0] for r in first["resources"]} == {"ServiceRequest", "Task", "Consent"}
        assert (await _accounting(svc, "urn:test:mrn|someone-else")).json()["disclosures"] == []
        assert (await _accounting(svc, patient, role="supervisor")).status_code == 200
        for role in ("ehr", "peer", "billing"):
            assert (await _accounting(svc, patient, role=role)).status_code == 403
        assert (await svc.client.get("/disclosures", headers=svc.headers("privacy"))).status_code == 422
        assert (await _accounting(svc, "no-bar")).status_code == 422

        export = await svc.client.get("/disclosures/export", params={"patient": patient},
                                      headers=svc.headers("privacy"))
        assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
        bundle = export.json()
        assert [e["resource"]["type"]["code"] for e in bundle["entry"]] == ["110106", "110106"]
        assert bundle["entry"][0]["resource"]["entity"][0]["what"]["identifier"]["value"] == f"MRN-{number}"
        assert_valid_fhir(bundle)

        # three years on the disclosures are still kept, and fall out of the default window only a day later
        clock.offset = timedelta(days=3 * 365)
        assert len((await _accounting(svc, patient)).json()["disclosures"]) == 2
        clock.offset = timedelta(days=3 * 365 + 2)
        assert (await _accounting(svc, patient)).json()["disclosures"] == []
        older = await _accounting(svc, patient, since=at(0))
        assert len(older.json()["disclosures"]) == 2

        # each look at the accounting is itself in the trail
        trail = await svc.client.get("/audit", params={"action": "accounting"}, headers=svc.headers("supervisor"))
        assert trail.json()["total"] >= 5


async def _has(svc, patient: str, kind: str) -> bool:
    return kind in await _kinds(svc, patient)
