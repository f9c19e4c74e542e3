"""The referral app in-process on the session's real Kafka and a database of its own (the hospital's HAPI FHIR JPA
server is a session fixture: tests/support/hospital_fixtures.py)."""
from __future__ import annotations

import json
import uuid
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.referral.app import create_app
from services.referral.settings import ReferralSettings
from services.runtime.auth import issue_token
from services.runtime.clock import SystemClock
from services.runtime.envelope import new_event, partition_key
from tests.support.fixtures import wait_for
from tests.support.stack import fresh_database
from tests.support.when import minutes_ago

SECRET = "referral-integration-secret-0123456789"


@pytest.fixture(scope="session")
async def referral_db(infra):
    """A database apart from the e2e stack's: both would otherwise share the referral schema's outbox and relay."""
    async with fresh_database(infra.admin_dsn, "pb_referral") as url:
        yield url


class Running:
    """A running referral app: an HTTP client, an event publisher and token headers."""

    def __init__(self, app, client: httpx.AsyncClient, producer: AIOKafkaProducer, prefix: str, settings):
        self.app, self.client, self.producer, self.prefix, self.settings = app, client, producer, prefix, settings

    @property
    def pool(self):
        return self.app.state.runtime.pool

    async def publish(self, topic: str, name: str, data: dict) -> None:
        event = new_event("test", name, data)
        await self.producer.send_and_wait(self.prefix + topic, event.to_bytes(),
                                          key=partition_key(data["facility"], data["visit_number"]))

    @staticmethod
    def headers(role: str, specialist_id: str | None = None, facilities: list[str] | None = None, **extra) -> dict:
        token = issue_token(SECRET, role=role, issuer="peerbridge-local", audience="peerbridge",
                            specialist_id=specialist_id, facilities=facilities)
        return {"Authorization": f"Bearer {token}", **extra}


@pytest.fixture(scope="session")
def referral_app(infra, referral_db):
    """Start a referral app with the given facility -> FHIR base URL map."""

    @asynccontextmanager
    async def run(endpoints: dict[str, str] | None = None, push_transport: httpx.AsyncBaseTransport | None = None,
                  clock=None, **overrides):
        prefix = f"ref{uuid.uuid4().hex[:8]}."
        settings = ReferralSettings(**{
            "database_url": referral_db, "kafka_bootstrap_servers": infra.kafka_bootstrap, "topic_prefix": prefix,
            "jwt_secret": SECRET, "fhir_endpoints": endpoints or {}, "push_poll_seconds": 0.1,
            "push_backoff_seconds": 0.2, "push_max_backoff_seconds": 1.0, "relay_poll_seconds": 0.1, **overrides})
        app = create_app(settings, push_transport=push_transport, clock=clock)
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
        await producer.start()
        try:
            async with app.router.lifespan_context(app):
                # A fresh broker can take a while to elect a group coordinator: wait for partitions first.
                await wait_for(lambda: _assigned(app), timeout=90, interval=0.2)
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://referral") as client:
                    yield Running(app, client, producer, prefix, settings)
        finally:
            await producer.stop()

    return run


async def _assigned(app) -> bool:
    consumer = app.state.runtime.consumer
    return consumer is not None and consumer.assigned.is_set()


# The tests' visits arrived an hour before the session started; their other times are minutes after that.
T0 = minutes_ago(60).replace(second=0, microsecond=0)


def at(minutes: float = 0, days: int = 0) -> str:
    """An instant `minutes` (and `days`) after the visits arrived."""
    return (T0 + timedelta(days=days, minutes=minutes)).isoformat()


def visit(facility: str, visit_number: str) -> dict:
    return {"facility": facility, "visit_number": visit_number, "arrived_at": at(0),
            "peer_indicated": True, "diagnoses": ["T401X1A"],
            "indications": [{"kind": "diagnosis", "code": "T401X1A", "reason": "opioid poisoning"}],
            "patient_ref": {"system": "urn:test:mrn", "value": f"MRN-{visit_number}"}}


class MovableClock:
    """The wall clock, moved on by the test (days pass without waiting for them)."""

    def __init__(self):
        self.offset = timedelta()

    def now(self):
        return SystemClock().now() + self.offset


def dumps(value) -> str:
    return json.dumps(value, sort_keys=True)


class Recording(httpx.AsyncHTTPTransport):
    """A real HTTP transport that keeps the JSON body of every request it sends."""

    def __init__(self):
        super().__init__()
        self.sent: list[dict] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(json.loads(await request.aread()))
        return await super().handle_async_request(request)
