"""Shared fixtures: a real broker and database per test session, fresh ids and topic prefixes per test."""
from __future__ import annotations

import uuid

import pytest

from tests.support import fhir_validator
from tests.support.stack import fresh_database, start_infra

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture(scope="session")
def infra():
    infra = start_infra()
    yield infra
    infra.stop()


@pytest.fixture(scope="session")
async def database_url(infra) -> str:
    """A database of the test session's own, dropped afterwards."""
    async with fresh_database(infra.admin_dsn) as url:
        yield url


@pytest.fixture
def prefix() -> str:
    """A topic prefix (and schema suffix) no other test uses."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture(scope="session")
def fhir_validator_process():
    validator = fhir_validator.FhirValidator()
    yield validator
    validator.close()


@pytest.fixture
def assert_valid_fhir(fhir_validator_process):
    """assert_valid_fhir(resource): HL7's validator finds no error (warnings are printed)."""
    return lambda resource: fhir_validator.check(fhir_validator_process, resource)
