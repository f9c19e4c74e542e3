"""POST /batches over HTTP: subscriber data from intake in the 837P, holds for gaps, 503 while intake is down."""
from __future__ import annotations

import socket
import uuid
from dataclasses import replace

import httpx
import pytest

from services.billing.app import create_app
from services.billing.handlers import build_handlers
from services.billing.settings import BillingSettings
from services.runtime.auth import issue_token
from services.runtime.clock import FixedClock
from services.runtime.envelope import new_event
from tests.integration.billing.test_claims_db import intake
from tests.unit.billing.builders import NOW, make_encounter, make_visit
from tests.unit.billing.test_x12 import INTAKE_ANSWER

pytestmark = pytest.mark.integration
SECRET = "billing-api-test-secret-" + "x" * 16


def closed_port() -> int:
    """A port nothing listens on: intake is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def api(infra, database_url, prefix):
    settings = BillingSettings(database_url=database_url, kafka_bootstrap_servers=infra.kafka_bootstrap,
                               topic_prefix=prefix, jwt_secret=SECRET, intake_url=f"http://127.0.0.1:{closed_port()}",
                               intake_timeout_seconds=2)
    # the builders' encounter happened at NOW: the claim is priced and filed on that day, whatever today is
    app = create_app(settings, runtime_kwargs={"schema": f"billing_{uuid.uuid4().hex[:10]}", "clock": FixedClock(NOW)})
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billing",
                                     headers={"Authorization": "Bearer " + issue_token(
                                         SECRET, role="billing", issuer="peerbridge-local",
                                         audience="peerbridge")}) as client:
            yield app, client


async def approved_claim(app, client) -> str:
    runtime, handlers = app.state.runtime, build_handlers(app.state.billing.book)
    for name, data in (("EdVisitRegistered", make_visit()), ("PeerEncounterCompleted", make_encounter())):
        event = new_event("test", name, data)
        async with runtime.unit_of_work(cause=event) as uow:
            await handlers[name](event, uow)
    [claim] = (await client.get("/claims")).json()
    assert (await client.post(f"/claims/{claim['id']}/approve")).json()["status"] == "approved"
    return claim["id"]


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
