"""`peerbridge demo` loads the demo wherever INTAKE_PORT, PAIRING_PORT and BILLING_PORT put them, current on any
day."""
from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from services.runtime.cli import DEMO_DIR
from tests.support.services import start_services, stop_services
from tests.e2e.test_walking_skeleton import poll
from tests.support.stack import ROOT, fresh_database
from tests.support.when import today

pytestmark = pytest.mark.e2e


@pytest.fixture
async def services_on_their_own_ports(infra, tmp_path):
    """Intake, pairing and billing on free ports (never 8001/8002/8004), with a database of their own for the demo."""
    async with fresh_database(infra.admin_dsn, "pb_demo") as url:
        running = start_services(infra.kafka_bootstrap, url, tmp_path / "logs", names=("intake", "pairing", "billing"))
        try:
            yield running
        finally:
            stop_services(running)


def test_demo_posts_to_the_configured_intake_and_pairing_ports(services_on_their_own_ports):
    stack = services_on_their_own_ports
    assert {stack.env["INTAKE_PORT"], stack.env["PAIRING_PORT"], stack.env["BILLING_PORT"]}.isdisjoint(
        {"8001", "8002", "8004"})
    demo = subprocess.run([sys.executable, "-m", "services.runtime.cli", "demo"], cwd=ROOT, env=stack.env,
                          capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stderr
    roster = httpx.get(f"{stack.urls['pairing']}/specialists", headers=stack.headers("admin")).json()
    expected = {s["npi"] for s in json.loads((DEMO_DIR / "roster.json").read_text())}
    assert {s["npi"] for s in roster} == expected
    assert "demo: 3 specialists, 3 ED visits, their EDs registered with billing" in demo.stdout
    # the demo's EDs are known to billing, so their claims can go out with loop 2310C
    facilities = httpx.get(f"{stack.urls['billing']}/facilities", headers=stack.headers("billing")).json()
    assert sorted(facilities) == ["GAMEM", "NJGEN", "TXMED"]
    # certified today (expiries are days after loading), and on shift now: its overdose visits are offered
    assert all(c["expires_on"] > today().isoformat() for s in roster for c in s["certifications"])
    for facility, visit_number in (("NJGEN", "DEMO-1001"), ("TXMED", "DEMO-2001")):
        offers = poll(lambda f=facility, v=visit_number: httpx.get(
            f"{stack.urls['pairing']}/assignments", headers=stack.headers("supervisor"),
            params={"facility": f, "visit_number": v}).json())
        assert offers[0]["status"] == "offered"
