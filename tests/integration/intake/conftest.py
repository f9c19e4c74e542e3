"""Intake against real PostgreSQL: a fresh intake schema per test and a receiver with a fixed clock."""
from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from services.intake.app import create_app
from services.intake.feeds import feed_config
from services.intake.receiver import Receiver
from services.intake.settings import IntakeSettings
from services.runtime.auth import issue_token
from services.runtime.clock import FixedClock
from services.runtime.db import create_pool, migrate
from tests.unit.intake.messages import RECEIVED

# The intake app's clock in these tests: an hour after the default message was received.
CLIENT_NOW = RECEIVED + timedelta(hours=1)

MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "intake" / "migrations"
SECRET = "intake-subscriber-test-secret-0123456789"


@pytest.fixture
async def intake_pool(database_url):
    schema = f"intake_{uuid.uuid4().hex[:8]}"
    await migrate(database_url, schema, MIGRATIONS)
    pool = await create_pool(database_url, schema, min_size=1, max_size=8)
    yield pool
    await pool.close()


def make_receiver(pool, config=None) -> Receiver:
    """A receiver on this pool with a fixed clock (the default feed configuration unless one is given)."""
    clock = FixedClock(RECEIVED)
    return Receiver(pool, config or feed_config(IntakeSettings()), clock)


@pytest.fixture
def receiver(intake_pool) -> Receiver:
    return make_receiver(intake_pool)


async def outbox_events(pool) -> list[str]:
    """Names of the events written to the outbox, in order."""
    rows = await pool.fetch("SELECT envelope FROM outbox_events ORDER BY seq")
    return [r["envelope"]["type"].split(".")[-1] for r in rows]


def headers(role: str) -> dict:
    token = issue_token(SECRET, role=role, issuer="peerbridge-local", audience="peerbridge", subject=f"svc-{role}")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(intake_pool):
    """The intake app on this test's schema (no broker needed: events stay in the outbox)."""
    app = create_app(IntakeSettings(jwt_secret=SECRET, mllp_enabled=False))
    runtime = app.state.runtime
    runtime.pool = intake_pool
    runtime.clock = FixedClock(CLIENT_NOW)
    app.state.verifier = runtime.verifier()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as c:
        yield c
