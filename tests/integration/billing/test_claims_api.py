"""Billing's POST actions over HTTP: a repeated request (a lost answer, a retry) answers the current state and has
no second effect."""
from __future__ import annotations

from dataclasses import replace

import pytest

from services.billing.settings import BillingSettings
from tests.integration.billing.conftest import SECRET, approved_claim
from tests.integration.billing.test_claims_db import intake
from tests.unit.billing.test_x12 import INTAKE_ANSWER

pytestmark = pytest.mark.integration


async def exported_claim(app, client) -> str:
    claim_id = await approved_claim(app, client)
    app.state.billing = replace(app.state.billing, intake=BillingSettings(jwt_secret=SECRET).intake_client(
        intake({"/visits/NEWARK/V1/subscriber": (200, INTAKE_ANSWER)})))
    assert (await client.post("/batches", json={"payer": "NJ-MEDICAID"})).status_code == 201
    await acknowledge(app, claim_id)
    return claim_id


async def acknowledge(app, claim_id: str) -> None:
    """The payer's claim control number, as a 277CA brings it (inbound files are tested on their own)."""
    async with app.state.runtime.pool.acquire() as conn:
        await conn.execute("UPDATE claims SET status = 'accepted', payer_claim_number = 'ICN' || $1::text"
                           " WHERE id = $1::uuid", claim_id)


async def count(app, sql: str) -> int:
    async with app.state.runtime.pool.acquire() as conn:
        return await conn.fetchval(sql)


@pytest.mark.parametrize(("action", "frequency", "status"), [("replace", "7", "replaced"), ("void", "8", "voided")])
async def test_replacing_or_voiding_twice_makes_one_derived_claim(api, action, frequency, status):
    app, client = api
    claim_id = await exported_claim(app, client)
    first = await client.post(f"/claims/{claim_id}/{action}")
    events = await count(app, "SELECT count(*) FROM outbox")
    again = await client.post(f"/claims/{claim_id}/{action}")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert (first.json()["frequency"], first.json()["original_claim_id"]) == (frequency, claim_id)
    assert await count(app, "SELECT count(*) FROM claims") == 2
    assert await count(app, "SELECT count(*) FROM outbox") == events
    assert (await client.get(f"/claims/{claim_id}")).json()["status"] == status
    # the other action on a claim that has gone that way is still a conflict
    other = "void" if action == "replace" else "replace"
    assert (await client.post(f"/claims/{claim_id}/{other}")).status_code == 409


async def test_replacing_a_claim_that_has_not_gone_out_is_still_409(api):
    app, client = api
    claim_id = await approved_claim(app, client)
    assert (await client.post(f"/claims/{claim_id}/replace")).status_code == 409
    assert await count(app, "SELECT count(*) FROM claims") == 1


async def test_a_claim_without_the_payers_claim_control_number_cannot_be_replaced_or_voided(api):
    app, client = api
    claim_id = await approved_claim(app, client)
    app.state.billing = replace(app.state.billing, intake=BillingSettings(jwt_secret=SECRET).intake_client(
        intake({"/visits/NEWARK/V1/subscriber": (200, INTAKE_ANSWER)})))
    assert (await client.post("/batches", json={"payer": "NJ-MEDICAID"})).status_code == 201
    for action in ("replace", "void"):
        r = await client.post(f"/claims/{claim_id}/{action}")
        assert r.status_code == 409 and "claim control number" in r.json()["detail"]
    assert await count(app, "SELECT count(*) FROM claims") == 1


async def test_a_replacement_is_priced_again_from_the_edits(api):
    app, client = api
    claim_id = await exported_claim(app, client)  # 50 minutes: 3 units of 20.00 under NJ's 8-minute rule
    r = await client.post(f"/claims/{claim_id}/replace", json={"minutes": 70, "diagnoses": ["F11.20", "Z91.19"]})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["frequency"], body["status"], body["units"], body["charge"]) == ("7", "prepared", 5, "100.00")
    assert body["lines"][0]["minutes"] == 70 and body["diagnoses"] == ["F1120", "Z9119"]
    assert body["lines"][0]["diagnosis_pointers"] == [1, 2]


async def test_an_edit_that_the_rules_would_hold_is_refused_and_nothing_changes(api):
    app, client = api
    claim_id = await exported_claim(app, client)
    r = await client.post(f"/claims/{claim_id}/replace", json={"diagnoses": ["Z91.19"]})  # no F10-F19 for NJ
    assert r.status_code == 409 and "no-qualifying-diagnosis" in r.json()["detail"]
    r = await client.post(f"/claims/{claim_id}/replace", json={"minutes": 3})
    assert r.status_code == 409 and "too-few-minutes" in r.json()["detail"]
    assert await count(app, "SELECT count(*) FROM claims") == 1
    assert (await client.get(f"/claims/{claim_id}")).json()["status"] == "accepted"
    assert (await client.post(f"/claims/{claim_id}/replace", json={"minutes": 0})).status_code == 422


async def test_holding_twice_for_the_same_reason_holds_once(api):
    app, client = api
    claim_id = await approved_claim(app, client)
    held_events = "SELECT count(*) FROM outbox WHERE event_type LIKE '%.ClaimHeld'"
    first = await client.post(f"/claims/{claim_id}/hold", json={"reason": "documentation missing"})
    again = await client.post(f"/claims/{claim_id}/hold", json={"reason": "documentation missing"})
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert again.json()["hold_reasons"] == [{"code": "manual", "detail": "documentation missing"}]
    assert await count(app, held_events) == 1
    # another reason is news: it is added and announced
    other = await client.post(f"/claims/{claim_id}/hold", json={"reason": "wrong peer"})
    assert [r["detail"] for r in other.json()["hold_reasons"]] == ["documentation missing", "wrong peer"]
    assert await count(app, held_events) == 2


async def test_approving_twice_approves_once(api):
    app, client = api
    claim_id = await approved_claim(app, client)  # approved once already
    again = await client.post(f"/claims/{claim_id}/approve")
    assert again.status_code == 200 and again.json()["status"] == "approved"
    assert await count(app, "SELECT count(*) FROM claims") == 1
