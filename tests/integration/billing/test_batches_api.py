"""POST /batches over HTTP: subscriber data from intake in the 837P, holds for gaps, 503 while intake is down."""
from __future__ import annotations

from dataclasses import replace

import pytest

from services.billing.settings import BillingSettings
from tests.integration.billing.conftest import SECRET, approved_claim
from tests.integration.billing.test_claims_db import intake
from tests.unit.billing.test_x12 import INTAKE_ANSWER

pytestmark = pytest.mark.integration


async def test_intake_down_is_503_and_the_claim_stays_approved(api):
    app, client = api
    claim_id = await approved_claim(app, client)
    r = await client.post("/batches", json={"payer": "NJ-MEDICAID"})
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert "intake" in r.json()["detail"]
    assert (await client.get(f"/claims/{claim_id}")).json()["status"] == "approved"


async def test_an_incomplete_subscriber_holds_the_claim_then_complete_data_exports_it(api):
    app, client = api
    claim_id = await approved_claim(app, client)
    path = "/visits/NEWARK/V1/subscriber"
    app.state.billing = replace(app.state.billing, intake=BillingSettings(jwt_secret=SECRET).intake_client(
        intake({path: (200, {**INTAKE_ANSWER, "last_name": None})})))
    r = await client.post("/batches", json={"payer": "NJ-MEDICAID"})
    assert r.status_code == 409 and r.json()["held"] == 1
    claim = (await client.get(f"/claims/{claim_id}")).json()
    assert claim["status"] == "held" and claim["hold_reasons"][0]["detail"].endswith("last name")
    assert (await client.post(f"/claims/{claim_id}/approve")).status_code == 200
    app.state.billing = replace(app.state.billing, intake=BillingSettings(jwt_secret=SECRET).intake_client(
        intake({path: (200, INTAKE_ANSWER)})))
    r = await client.post("/batches", json={"payer": "NJ-MEDICAID"})
    assert r.status_code == 201 and (r.json()["claim_count"], r.json()["held"]) == (1, 0)
    text = (await client.get(f"/batches/{r.json()['id']}/837")).text
    assert "~NM1*IL*1*DOE-SMITH*JANE*Q***MI*M123~" in text and "~DMG*D8*19850307*F~" in text
