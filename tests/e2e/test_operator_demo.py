"""`peerbridge demo` loads the demo wherever INTAKE_PORT, PAIRING_PORT and BILLING_PORT put them, current on any
day."""
from __future__ import annotations

import asyncio
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
    # the console's demo accounts: a peer bound to the first demo specialist, a supervisor and a biller
    env = {**stack.env, "CONSOLE_PAIRING_URL": stack.urls["pairing"]}
    accounts = subprocess.run([sys.executable, "-m", "services.runtime.cli", "console", "demo"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
    assert accounts.returncode == 0, accounts.stderr
    lines = accounts.stdout.splitlines()
    assert lines[0].startswith("console: http://127.0.0.1:8005/")
    peer_line = next(line for line in lines if "user peer " in line)
    assert "(acts as Maria Alvarez)" in peer_line
    assert any("user supervisor" in line for line in lines) and any("user biller" in line for line in lines)
    asyncio.run(_signs_in(stack.env["DATABASE_URL"], "peer", peer_line.split("password ")[1].split()[0],
                          next(s["id"] for s in roster if s["name"] == "Maria Alvarez")))


async def _signs_in(database_url: str, username: str, password: str, specialist_id: str) -> None:
    from datetime import timedelta

    from services.console.service import ConsoleService
    from services.runtime.clock import SystemClock
    from services.runtime.db import create_pool

    pool = await create_pool(database_url, "console", min_size=1, max_size=1)
    try:
        service = ConsoleService(pool, SystemClock(), idle=timedelta(minutes=5), lifetime=timedelta(hours=1))
        _cookie, session = await service.sign_in(username, password)
        assert session.specialist_id == specialist_id and session.roles == ("peer",)
    finally:
        await pool.close()
