"""The notify app in-process on the session's real Kafka and a database of its own, with real provider doubles."""
from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.notify.app import create_app
from services.notify.settings import NotifySettings
from services.runtime.auth import issue_token
from services.runtime.envelope import new_event, partition_key
from tests.support.fixtures import wait_for
from tests.support.notify_doubles import PagingWebhook, PushEndpoint, SmsProvider, SmtpServer, vapid_key
from tests.support.stack import fresh_database

SECRET = "notify-integration-secret-0123456789"
BASE = "http://notify"


@pytest.fixture(scope="session")
async def notify_db(infra):
    async with fresh_database(infra.admin_dsn, "pb_notify") as url:
        yield url


@pytest.fixture(scope="session")
def sms():
    provider = SmsProvider().start()
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def vapid(tmp_path_factory):
    return vapid_key(tmp_path_factory.mktemp("vapid"))


@pytest.fixture(scope="session")
def push(vapid):
    endpoint = PushEndpoint(vapid[1]).start()
    yield endpoint
    endpoint.stop()


@pytest.fixture(scope="session")
def pager():
    hook = PagingWebhook("paging-secret").start()
    yield hook
    hook.stop()


@pytest.fixture(scope="session")
def smtp(tmp_path_factory):
    server = SmtpServer(tmp_path_factory.mktemp("smtp")).start()
    yield server
    server.stop()


class Running:
    """A running notify app: an HTTP client, an event publisher and token headers."""

    def __init__(self, app, client: httpx.AsyncClient, producer: AIOKafkaProducer, prefix: str):
        self.app, self.client, self.producer, self.prefix = app, client, producer, prefix

    @property
    def pool(self):
        return self.app.state.runtime.pool

    async def publish(self, topic: str, name: str, data: dict, *, event=None) -> str:
        event = event or new_event("test", name, data)
        await self.producer.send_and_wait(self.prefix + topic, event.to_bytes(),
                                          key=partition_key(data["facility"], data["visit_number"]))
        return event.id

    @staticmethod
    def headers(role: str, specialist_id: str | None = None) -> dict:
        token = issue_token(SECRET, role=role, issuer="peerbridge-local", audience="peerbridge",
                            specialist_id=specialist_id)
        return {"Authorization": f"Bearer {token}"}

    async def messages(self, **query) -> list[dict]:
        r = await self.client.get("/messages", params=query, headers=self.headers("supervisor"))
        assert r.status_code == 200, r.text
        return r.json()

    async def contacts(self, kind: str, person_id: str, channels: list[dict], *, verify: bool = True) -> None:
        """Register contacts and mark the SMS and email ones verified directly (verification has its own test)."""
        r = await self.client.put(f"/contacts/{kind}/{person_id}", json={"channels": channels},
                                  headers=self.headers("admin"))
        assert r.status_code == 200, r.text
        if verify:
            await self.pool.execute("UPDATE contacts SET verified_at = now() WHERE person_kind = $1 AND"
                                    " person_id = $2", kind, person_id)


@pytest.fixture(scope="session")
def notify_app(infra, notify_db, sms, smtp, vapid):
    @asynccontextmanager
    async def run(**overrides):
        prefix = f"ntf{uuid.uuid4().hex[:8]}."
        settings = NotifySettings(**{
            "database_url": notify_db, "kafka_bootstrap_servers": infra.kafka_bootstrap, "topic_prefix": prefix,
            "jwt_secret": SECRET, "relay_poll_seconds": 0.1, "poll_seconds": 0.1, "public_base_url": BASE,
            "sms_base_url": sms.url, "sms_account_sid": sms.account_sid, "sms_auth_token": sms.auth_token,
            "sms_from": sms.sender, "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_user": smtp.user,
            "smtp_password": smtp.password, "smtp_ca_file": smtp.ca_file, "vapid_private_key_file": vapid[0],
            "webhook_secret": "paging-secret", "retry_seconds": 0.1, "retry_cap_seconds": 0.5, **overrides})
        app = create_app(settings)
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
        await producer.start()
        try:
            async with app.router.lifespan_context(app):
                await wait_for(lambda: _assigned(app), timeout=90, interval=0.2)
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
                    yield Running(app, client, producer, prefix)
        finally:
            await producer.stop()

    return run


async def _assigned(app) -> bool:
    consumer = app.state.runtime.consumer
    return consumer is not None and consumer.assigned.is_set()


def facility() -> str:
    return f"N{uuid.uuid4().hex[:6].upper()}"


def phone() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]
