"""A fresh billing schema on the session's real PostgreSQL, a helper to deliver events to billing, and the app
over HTTP."""
from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

import services.billing
from services.billing.app import create_app
from services.billing.domain.rules import load_rule_book
from services.billing.handlers import build_handlers
from services.billing.settings import BillingSettings
from services.runtime.auth import issue_token
from services.runtime.clock import FixedClock
from services.runtime.consumer import bind, typed
from services.runtime.db import create_pool, migrate
from services.runtime.envelope import Envelope, new_event
from services.runtime.outbox import UnitOfWork
from tests.support.stack import free_port
from tests.unit.billing.builders import FACILITY, NOW, make_encounter, make_visit

MIGRATIONS = Path(services.billing.__file__).with_name("migrations")


@pytest.fixture
async def billing_pool(database_url):
    schema = f"billing_{uuid.uuid4().hex[:10]}"
    await migrate(database_url, schema, MIGRATIONS)
    pool = await create_pool(database_url, schema)
    yield pool
    await pool.close()


async def dispatch(handlers: dict, event: Envelope, uow: UnitOfWork) -> None:
    """Hand the event to its handler as the consumer does: parsed into the model the handler is registered for."""
    model, handle = handlers[event.name]
    await handle(typed(model, event), uow)


class Billing:
    """Delivers events to billing's handlers the way the consumer does: one transaction per event."""

    def __init__(self, pool):
        self.pool = pool
        self.clock = FixedClock(NOW)
        self.handlers = bind(build_handlers(load_rule_book()))

    async def deliver(self, name: str, data: dict, service: str = "test") -> list:
        return await self.handle(new_event(service, name, data))

    async def handle(self, event: Envelope) -> list:
        """This very event (its id included), as a redelivery after a lost offset commit brings it again."""
        async with self.pool.acquire() as conn, conn.transaction():
            uow = UnitOfWork(conn, "billing", clock=self.clock, cause=event)
            await dispatch(self.handlers, event, uow)
        return uow.emitted

    async def count(self, sql: str, *args) -> int:
        async with self.pool.acquire() as conn:
            return await conn.fetchval(sql, *args)

    def uow(self):
        from services.runtime.outbox import unit_of_work
        return unit_of_work(self.pool, "billing", clock=self.clock)

    async def claims(self, **where) -> list:
        from services.billing import store
        async with self.pool.acquire() as conn:
            return await store.list_claims(conn, status=where.get("status"), facility=where.get("facility"),
                                           visit_number=where.get("visit_number"))


@pytest.fixture
async def billing(billing_pool):
    from services.billing import store
    from services.billing.domain.facility import ServiceFacility
    async with billing_pool.acquire() as conn:  # the builders' ED is known, so its claims can go out
        await store.put_facility(conn, "NEWARK", ServiceFacility(**FACILITY))
    return Billing(billing_pool)


SECRET = "billing-api-test-secret-" + "x" * 16


@pytest.fixture
async def api(infra, database_url, prefix):
    # intake is down: nothing listens on a port handed out and never bound
    settings = BillingSettings(database_url=database_url, kafka_bootstrap_servers=infra.kafka_bootstrap,
                               topic_prefix=prefix, jwt_secret=SECRET, intake_url=f"http://127.0.0.1:{free_port()}",
                               intake_timeout_seconds=2)
    # the builders' encounter happened at NOW: the claim is priced and filed on that day, whatever today is
    app = create_app(settings, runtime_kwargs={"schema": f"billing_{uuid.uuid4().hex[:10]}", "clock": FixedClock(NOW)})
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billing",
                                     headers={"Authorization": "Bearer " + issue_token(
                                         SECRET, role="billing", issuer="peerbridge-local",
                                         audience="peerbridge")}) as client:
            yield app, client


async def approved_claim(app, client, visit_number: str = "V1") -> str:
    """An approved claim of the builders' visit and encounter, made through the handlers and the API."""
    runtime, handlers = app.state.runtime, bind(build_handlers(app.state.billing.book))
    assert (await client.post("/facilities", json={"code": "NEWARK", **FACILITY})).status_code == 200
    for name, data in (("EdVisitRegistered", make_visit(visit_number=visit_number)),
                       ("PeerEncounterCompleted", make_encounter(visit_number=visit_number))):
        event = new_event("test", name, data)
        async with runtime.unit_of_work(cause=event) as uow:
            await dispatch(handlers, event, uow)
    [claim] = (await client.get("/claims", params={"visit_number": visit_number})).json()
    assert (await client.post(f"/claims/{claim['id']}/approve")).json()["status"] == "approved"
    return claim["id"]
