"""The e2e tier: the four services running as processes on the test broker and database."""
from __future__ import annotations

import pytest

from tests.support.browser import chromium
from tests.support.services import start_services, stop_services

DESKTOP = (1280, 900)


@pytest.fixture(scope="session")
def stack(infra, database_url, tmp_path_factory):
    running = start_services(infra.kafka_bootstrap, database_url, tmp_path_factory.mktemp("service-logs"))
    yield running
    stop_services(running)


@pytest.fixture
def browser(tmp_path):
    """A desktop-sized headless Chromium (the billers' and supervisors' pages); the peer app's tests use a phone."""
    driver = chromium(tmp_path / "profile", size=DESKTOP)
    yield driver
    driver.quit()
