"""`peerbridge demo` on the running stack: the roster is certified and on shift today, so its visits are paged."""
from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.e2e.test_walking_skeleton import poll
from tests.support.services import start_services, stop_services
from tests.support.stack import fresh_database
from tests.support.when import today

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def demo_stack(infra, tmp_path_factory):
    """A stack of its own: the demo roster must not join the roster other tests count on."""
    async with fresh_database(infra.admin_dsn, prefix="pb_demo") as url:
        running = start_services(infra.kafka_bootstrap, url, tmp_path_factory.mktemp("demo-logs"))
        yield running
        stop_services(running)


def test_the_demo_roster_is_current_and_its_overdose_visits_are_offered_to_a_peer(demo_stack):
    stack = demo_stack
    done = subprocess.run([sys.executable, "-m", "services.runtime.cli", "demo", "--intake", stack.urls["intake"],
                           "--pairing", stack.urls["pairing"]], env=stack.env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr

    supervisor = stack.headers("supervisor")
    roster = httpx.get(f"{stack.urls['pairing']}/specialists", headers=supervisor).json()
    demo = [s for s in roster if set(s["facilities"]) & {"NJGEN", "TXMED", "GAMEM"}]
    assert demo and all(c["expires_on"] > today().isoformat() for s in demo for c in s["certifications"])
    for facility, visit_number in (("NJGEN", "DEMO-1001"), ("TXMED", "DEMO-2001")):
        offers = poll(lambda: httpx.get(f"{stack.urls['pairing']}/assignments", headers=supervisor,
                                        params={"facility": facility, "visit_number": visit_number}).json())
        assert offers[0]["status"] == "offered"
