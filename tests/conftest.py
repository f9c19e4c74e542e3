"""Shared fixtures: a real broker and database per test session, fresh ids and topic prefixes per test."""
from __future__ import annotations

import uuid

import pytest

from tests.support import fhir_validator
from tests.support.stack import fresh_database, start_infra

pytest_plugins = ["tests.support.fixtures", "tests.support.hospital_fixtures"]


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

VALIDATOR = pytest.StashKey[fhir_validator.FhirValidator]()


def pytest_collection_finish(session):
    """Start the FHIR validator's JVM as soon as a selected test needs it, so it loads while earlier tests run."""
    wanted = any("assert_valid_fhir" in getattr(item, "fixturenames", ()) for item in session.items)
    if wanted and fhir_validator.available():  # without Java the fixture fails the tests that need it
        session.config.stash[VALIDATOR] = fhir_validator.FhirValidator()


def pytest_sessionfinish(session):
    validator = session.config.stash.get(VALIDATOR, None)
    if validator is not None:
        validator.close()


@pytest.fixture(scope="session")
def fhir_validator_process(pytestconfig):
    if VALIDATOR not in pytestconfig.stash:
        pytestconfig.stash[VALIDATOR] = fhir_validator.FhirValidator()
    return pytestconfig.stash[VALIDATOR]


@pytest.fixture
def assert_valid_fhir(fhir_validator_process):
    """assert_valid_fhir(resource): HL7's validator finds no error (warnings are printed)."""
    return lambda resource: fhir_validator.check(fhir_validator_process, resource)
