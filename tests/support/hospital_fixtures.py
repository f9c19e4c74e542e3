"""Session fixtures: one hospital (HAPI FHIR JPA on a database of its own, and its SMART authorization server) for
every push test of the session, since HAPI takes a minute or more to start on a loaded machine."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support.hospital import HAPI, Hapi, Hospital
from tests.support.stack import fresh_database

FETCH = pytest.StashKey[subprocess.Popen]()


def pytest_collection_finish(session):
    """Resolve HAPI's jars (first run: Maven, about 290 MB) while the first tests run, when a selected test needs it;
    the fixture's start waits for it on the cache's lock."""
    wanted = any({"hospital", "hapi"} & set(getattr(item, "fixturenames", ())) for item in session.items)
    if wanted and shutil.which("mvn") and shutil.which("javac"):
        session.config.stash[FETCH] = subprocess.Popen([str(HAPI), "fetch"], stdout=subprocess.DEVNULL)


def pytest_sessionfinish(session):
    fetch = session.config.stash.get(FETCH, None)
    if fetch is not None:
        fetch.wait()  # a half-written cache would have no .complete marker and be resolved again next time


@pytest.fixture(scope="session")
async def hospital(infra):
    # Java and Maven are installed by deploy/local/prereqs.sh (make test); without them this must fail, not skip.
    assert shutil.which("java") and shutil.which("mvn"), "the HAPI FHIR push tests need Java and Maven"
    async with fresh_database(infra.admin_dsn, "pb_hapi") as url:
        h = Hospital().start(url)
        print(f"\nHAPI FHIR JPA started in {h.server.started_in:.0f} s, {h.server.rss_mb():.0f} MB RSS")
        try:
            yield h
        finally:
            h.stop()


@pytest.fixture(scope="session")
def hapi(hospital) -> Hapi:
    """The hospital's FHIR server without the token check."""
    return hospital.open
