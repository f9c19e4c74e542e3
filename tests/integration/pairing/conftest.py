"""A migrated pairing schema on the session's PostgreSQL, and a dispatch harness with an injected clock."""
from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from services.contracts import PeerSupportIndicated
from services.pairing import store
from services.pairing.deadlines import DeadlineWorker
from services.pairing.domain.programs import Programs
from services.pairing.domain.shifts import Window
from services.pairing.service import PairingService
from services.pairing.unit_of_work import PairingUnitOfWork
from services.runtime.clock import FixedClock
from services.runtime.db import create_pool, migrate
from services.runtime.outbox import unit_of_work
from tests.unit.pairing.builders import NOW, peer, visit_data

MIGRATIONS = Path(store.__file__).with_name("migrations")


class Harness:
    """The pairing schema, a fixed clock, the service and a deadline worker, as the service wires them."""

    def __init__(self, pool, database_url, schema):
        self.pool, self.database_url, self.schema = pool, database_url, schema
        self.clock = FixedClock(NOW)
        self.service = PairingService(Programs.load())
        self.worker = DeadlineWorker(pool, self.service, self.clock)

    @asynccontextmanager
    async def uow(self):
        """A transaction as the use cases take it (the connection too, for the tests' own setup)."""
        async with unit_of_work(self.pool, "pairing", clock=self.clock) as uow:
            yield PairingUnitOfWork(uow)

    async def add_peer(self, name: str, facility: str = "F1", **overrides) -> str:
        async with self.uow() as uow:
            specialist_id = await store.insert_specialist(uow.conn, peer(name, facility, **overrides))
            await store.replace_shifts(uow.conn, specialist_id,
                                       [Window(facility, NOW - timedelta(hours=1), NOW + timedelta(hours=12))])
        return specialist_id

    async def open_visit(self, facility: str = "F1", **overrides) -> dict:
        data = visit_data(facility, visit_number="V" + uuid.uuid4().hex[:8], **overrides)
        async with self.uow() as uow:
            await self.service.open_case(uow, PeerSupportIndicated(**data))
        return data

    async def assignments(self, data: dict) -> list:
        return await self.pool.fetch("SELECT * FROM assignments WHERE facility = $1 AND visit_number = $2"
                                     " ORDER BY attempt", data["facility"], data["visit_number"])

    async def events(self, name: str, data: dict | None = None) -> list[dict]:
        rows = await self.pool.fetch("SELECT envelope FROM outbox_events WHERE envelope->>'type' LIKE '%.' || $1"
                                     " ORDER BY seq", name)
        found = [r["envelope"]["data"] for r in rows]
        if data is not None:
            found = [e for e in found if e.get("visit_number") == data["visit_number"]]
        return found


@pytest.fixture
async def harness(database_url):
    schema = f"pairing_{uuid.uuid4().hex[:10]}"
    await migrate(database_url, schema, MIGRATIONS)
    pool = await create_pool(database_url, schema)
    yield Harness(pool, database_url, schema)
    await pool.close()


from .care_support import care_api, care_db  # noqa: E402,F401  (the care routes' app, issue 14)
