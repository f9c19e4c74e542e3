"""A fresh billing schema on the session's real PostgreSQL, and a helper to deliver events to billing."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import services.billing
from services.billing.domain.rules import load_rule_book
from services.billing.handlers import build_handlers
from services.runtime.clock import FixedClock
from services.runtime.db import create_pool, migrate
from services.runtime.envelope import new_event
from services.runtime.outbox import UnitOfWork
from tests.unit.billing.builders import NOW

MIGRATIONS = Path(services.billing.__file__).with_name("migrations")


@pytest.fixture
async def billing_pool(database_url):
    schema = f"billing_{uuid.uuid4().hex[:10]}"
    await migrate(database_url, schema, MIGRATIONS)
    pool = await create_pool(database_url, schema)
    yield pool
    await pool.close()


class Billing:
    """Delivers events to billing's handlers the way the consumer does: one transaction per event."""

    def __init__(self, pool):
        self.pool = pool
        self.clock = FixedClock(NOW)
        self.handlers = build_handlers(load_rule_book())

    async def deliver(self, name: str, data: dict, service: str = "test") -> list:
        event = new_event(service, name, data)
        async with self.pool.acquire() as conn, conn.transaction():
            uow = UnitOfWork(conn, "billing", clock=self.clock, cause=event)
            await self.handlers[name](event, uow)
        return uow.emitted

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
    return Billing(billing_pool)
