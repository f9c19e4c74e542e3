"""Shared fixtures: a real broker and database per test session, fresh ids and topic prefixes per test."""
from __future__ import annotations

import uuid

import asyncpg
import pytest

from tests.support.stack import start_infra

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture(scope="session")
def infra():
    infra = start_infra()
    yield infra
    infra.stop()


@pytest.fixture(scope="session")
async def database_url(infra) -> str:
    """A database of the test session's own, dropped afterwards."""
    name = f"pb_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(infra.admin_dsn)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    base, _, _ = infra.admin_dsn.rpartition("/")
    yield f"{base}/{name}"
    admin = await asyncpg.connect(infra.admin_dsn)
    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin.close()


@pytest.fixture
def prefix() -> str:
    """A topic prefix (and schema suffix) no other test uses."""
    return f"t{uuid.uuid4().hex[:10]}."
