"""Several MLLP listener processes on one port: every message acknowledged once, metrics summed, clean stop."""
from __future__ import annotations

import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.test_intake_mllp import send
from tests.support.services import start_services, stop_services
from tests.unit.intake.messages import adt

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def intake_with_workers(infra, database_url, tmp_path_factory):
    running = start_services(infra.kafka_bootstrap, database_url, tmp_path_factory.mktemp("workers"),
                             extra_env={"INTAKE_MLLP_WORKERS": "2"}, names=("intake",))
    yield running
    stop_services(running)


def listener_pids(port: int) -> set[str]:
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True).stdout
    return {part.split(",")[0] for part in out.split("pid=")[1:]}


def test_two_listener_processes_share_the_port_and_acknowledge_every_message(intake_with_workers):
    stack = intake_with_workers
    port = int(stack.env["INTAKE_MLLP_PORT"])
    assert len(listener_pids(port)) == 2
    facility = f"W{uuid.uuid4().hex[:5].upper()}"
    frames = [adt(facility=facility, visit_number=f"V{n}") for n in range(60)]
    counted = stack.counter("intake", "peerbridge_intake_messages_total", channel="mllp")
    with ThreadPoolExecutor(max_workers=20) as pool:  # many connections, so both listeners get some
        acks = list(pool.map(lambda f: send(stack, f), frames))
    assert all(b"MSA|AA|" in ack for ack in acks)
    # summed over both listener processes: each of this test's messages counted once
    assert stack.counter("intake", "peerbridge_intake_messages_total", channel="mllp") - counted == 60
    visit = httpx.get(f"{stack.urls['intake']}/visits/{facility}/V59", headers=stack.headers("supervisor"))
    assert visit.status_code == 200 and visit.json()["peer_indicated"] is True


def test_stopping_the_service_stops_its_workers(infra, database_url, tmp_path):
    stack = start_services(infra.kafka_bootstrap, database_url, tmp_path, extra_env={"INTAKE_MLLP_WORKERS": "3"},
                           names=("intake",))
    port = int(stack.env["INTAKE_MLLP_PORT"])
    assert len(listener_pids(port)) == 3
    stop_services(stack)
    assert listener_pids(port) == set()
