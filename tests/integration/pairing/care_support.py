"""The pairing app in-process on the session's real Kafka and a database of its own, for the care routes' tests."""
from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from services.pairing.app import create_app
from services.pairing.settings import PairingSettings
from services.runtime.auth import issue_token
from services.runtime.clock import FixedClock
from services.runtime.envelope import new_event, partition_key
from tests.support.fixtures import wait_for
from tests.support.stack import fresh_database
from tests.unit.pairing.builders import NOW, npi, peer, visit_data

SECRET = "pairing-care-integration-secret-0123"
PROGRAMS = {"defaults": {
    "supervisor": "sup-lead", "accepted_certifications": ["CPRS", "PRS"],
    "crisis_routes": [{"route": "on-call-clinician", "contact": "clinician-oncall"}, {"route": "988"}],
    "supervision_hours": 2, "supervision_period_days": 30, "renewal_warning_days": [60, 30],
    "payer_credentials": {"NJMCD": [{"effective_from": "2025-01-01", "kinds": ["CPRS", "CPRC", "CPRA", "PRS"],
                                     "state": "NJ"}]}}}


class Api:
    """A running pairing app: its HTTP client, a publisher on its input topics, tokens and the fixed clock."""

    def __init__(self, app, client, producer, prefix, clock):
        self.app, self.client, self.producer, self.prefix, self.clock = app, client, producer, prefix, clock

    @property
    def pool(self):
        return self.app.state.runtime.pool

    @staticmethod
    def headers(role: str = "supervisor", specialist_id: str | None = None, subject: str | None = None) -> dict:
        token = issue_token(SECRET, role=role, issuer="peerbridge-local", audience="peerbridge",
                            specialist_id=specialist_id, subject=subject)
        return {"Authorization": f"Bearer {token}"}

    async def publish(self, name: str, data: dict) -> None:
        await self.producer.send_and_wait(self.prefix + "intake.visit.v1", new_event("intake", name, data).to_bytes(),
                                          key=partition_key(data["facility"], data["visit_number"]))

    async def add_peer(self, facility: str, name: str = "p", *, on_shift: bool = True, **overrides) -> str:
        r = await self.client.post("/specialists", json={**peer(name, facility, npi=npi()), **overrides},
                                   headers=self.headers("admin"))
        assert r.status_code == 201, r.text
        specialist_id = r.json()["id"]
        if on_shift:
            shift = [{"facility": facility, "starts_at": (NOW - timedelta(hours=1)).isoformat(),
                      "ends_at": (NOW + timedelta(hours=12)).isoformat()}]
            r = await self.client.put(f"/specialists/{specialist_id}/shifts", json=shift, headers=self.headers("admin"))
            assert r.status_code == 200, r.text
        return specialist_id

    async def indicate(self, facility: str, **overrides) -> dict:
        """PeerSupportIndicated over Kafka; waits until pairing has opened the case."""
        data = visit_data(facility, visit_number="V" + uuid.uuid4().hex[:8], **overrides)
        await self.publish("PeerSupportIndicated", data)
        data["case"] = await self.case_of(data, lambda c: c is not None)
        return data

    async def case_of(self, data: dict, until=lambda c: True, timeout: float = 60):
        async def found():
            row = await self.pool.fetchrow("SELECT * FROM cases WHERE facility = $1 AND visit_number = $2",
                                           data["facility"], data["visit_number"])
            return row if until(row) else None
        return await wait_for(found, timeout=timeout, interval=0.2)

    async def offers(self, data: dict, status: str = "offered") -> list:
        return await self.pool.fetch("SELECT * FROM assignments WHERE facility = $1 AND visit_number = $2"
                                     " AND status = $3 ORDER BY attempt", data["facility"], data["visit_number"],
                                     status)

    async def accept(self, data: dict) -> str:
        [offer] = await self.offers(data)
        r = await self.client.post(f"/assignments/{offer['id']}/accept",
                                   headers=self.headers("peer", str(offer["specialist_id"])))
        assert r.status_code == 200, r.text
        return str(offer["specialist_id"])

    async def events(self, name: str, **match) -> list[dict]:
        rows = await self.pool.fetch("SELECT envelope FROM outbox_events WHERE envelope->>'type' LIKE '%.' || $1"
                                     " ORDER BY seq", name)
        found = [r["envelope"]["data"] for r in rows]
        return [e for e in found if all(e.get(k) == v for k, v in match.items())]


@pytest.fixture(scope="session")
async def care_db(infra):
    async with fresh_database(infra.admin_dsn, "pb_pcare") as url:
        yield url


@pytest.fixture(scope="session")
async def care_api(infra, care_db, tmp_path_factory):
    """One pairing app for the session's care tests (each test uses facilities of its own)."""
    programs = tmp_path_factory.mktemp("programs") / "programs.yaml"
    programs.write_text(yaml.safe_dump(PROGRAMS))
    prefix = f"pc{uuid.uuid4().hex[:8]}."
    clock = FixedClock(NOW)
    settings = PairingSettings(database_url=care_db, kafka_bootstrap_servers=infra.kafka_bootstrap,
                               topic_prefix=prefix, jwt_secret=SECRET, relay_poll_seconds=0.1,
                               programs_file=programs, deadline_poll_seconds=3600, renewal_scan_seconds=3600)
    app = create_app(settings, clock=clock)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    await producer.start()
    try:
        async with app.router.lifespan_context(app):
            await wait_for(lambda: _assigned(app), timeout=120, interval=0.2)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pairing") as client:
                yield Api(app, client, producer, prefix, clock)
    finally:
        await producer.stop()


async def _assigned(app) -> bool:
    consumer = app.state.runtime.consumer
    return consumer is not None and consumer.assigned.is_set()


def facility() -> str:
    return f"C{uuid.uuid4().hex[:6].upper()}"
