"""The e2e tier: the four services running as processes on the test broker and database."""
from __future__ import annotations

import pytest

from tests.support.services import start_services, stop_services


@pytest.fixture(scope="session")
def stack(infra, database_url, tmp_path_factory):
    running = start_services(infra.kafka_bootstrap, database_url, tmp_path_factory.mktemp("service-logs"))
    yield running
    stop_services(running)
