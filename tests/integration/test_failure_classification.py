"""Outages are the infrastructure's (retried, never dead-lettered); a handler's own errors are its own (then DLQ)."""
from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from prometheus_client import REGISTRY

from services.runtime.consumer import EventConsumer
from services.runtime.db import create_pool, migrate
from services.runtime.envelope import new_event
from services.runtime.outbox import OutboxRelay, unit_of_work
from tests.support.fixtures import TEST_MIGRATIONS, read_topic, wait_for
from tests.support.stack import own_postgres
from tests.support.events import ItemAdded

pytestmark = pytest.mark.integration
TOPIC = ItemAdded.topic


@pytest.fixture
async def restartable():
    """A cluster of this test's own (restarting the session's would disturb the other tests), migrated, and a pool."""
    with own_postgres() as server:
        schema = f"rt_{uuid.uuid4().hex[:10]}"
        await migrate(server.admin_dsn, schema, TEST_MIGRATIONS)
        pool = await create_pool(server.admin_dsn, schema)
        try:
            yield server, pool
        finally:
            await pool.close()


def handler_failures(group: str) -> float | None:
    return REGISTRY.get_sample_value("peerbridge_handler_failures_total",
                                     {"consumer_group": group, "event_type": "ItemAdded"})


def restart_failures(component: str) -> float:
    """Failures the restart caused that were counted as the infrastructure's."""
    return sum(REGISTRY.get_sample_value("peerbridge_infrastructure_failures_total",
                                         {"component": component, "error_class": name}) or 0.0
               for name in ("ConnectionDoesNotExistError", "AdminShutdownError", "ConnectionRefusedError",
                            "CannotConnectNowError", "InterfaceError"))


async def test_a_database_restart_in_the_middle_of_a_handler_is_retried_and_applied_once(
        infra, producer, prefix, topics_ready, restartable):
    server, pool = restartable
    await topics_ready(prefix + TOPIC, prefix + TOPIC + ".dlq")
    inside, calls = asyncio.Event(), []

    async def on_item(event, uow):
        calls.append(uow.cause.id)
        await uow.conn.execute("INSERT INTO effects (item, event_id) VALUES ($1, $2)", event.item, uow.cause.id)
        if len(calls) == 1:
            inside.set()
            await uow.conn.execute("SELECT pg_sleep(120)")  # still running when the server shuts down

    # One attempt only: a restart counted as a handler failure would dead-letter the event at once.
    before = restart_failures("consumer")
    consumer = EventConsumer(pool=pool, producer=producer, bootstrap_servers=infra.kafka_bootstrap, service="test",
                             group="restart", topics=[TOPIC], handlers={ItemAdded: on_item}, topic_prefix=prefix,
                             max_attempts=1, backoff_seconds=0.05)
    event = new_event("test", "ItemAdded", {"item": 1})
    await producer.send_and_wait(prefix + TOPIC, event.to_bytes(), key=b"k")
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(inside.wait(), timeout=60)
        await asyncio.to_thread(server.restart)
        await wait_for(lambda: pool.fetchval("SELECT count(*) FROM inbox"), timeout=60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert calls == [event.id, event.id]
    assert await pool.fetchval("SELECT array_agg(item) FROM effects") == [1]
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 0
    assert await read_topic(infra.kafka_bootstrap, prefix + TOPIC + ".dlq", expect=0) == []
    assert handler_failures(consumer.group) is None  # never counted as the handler's failure
    assert restart_failures("consumer") > before


async def test_the_relay_listens_again_after_a_database_restart(infra, producer, prefix, topics_ready, restartable):
    server, pool = restartable
    await topics_ready(prefix + TOPIC)
    schema = await pool.fetchval("SELECT current_schema()")
    # No polling to fall back on: only NOTIFY wakes this relay.
    relay = OutboxRelay(pool, producer, schema=schema, topic_prefix=prefix, poll_seconds=3600)
    task = asyncio.create_task(relay.run())

    async def emit(n: int) -> bool:
        try:
            async with unit_of_work(pool, "test", validate=False) as uow:
                await uow.emit(ItemAdded(item=n), facility="F1", visit_number="V1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False  # the server is still coming back
        return True

    try:
        await emit(1)
        await wait_for(lambda: pool.fetchval("SELECT count(*) = 1 FROM outbox WHERE published_at IS NOT NULL"))
        await asyncio.to_thread(server.restart)
        await wait_for(lambda: emit(2), timeout=60)  # retried until the server accepts connections again
        await wait_for(lambda: pool.fetchval("SELECT count(*) = 2 FROM outbox WHERE published_at IS NOT NULL"))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    records = await read_topic(infra.kafka_bootstrap, prefix + TOPIC, expect=2)
    assert len(records) == 2


async def test_a_handler_misusing_its_connection_is_dead_lettered_not_retried_forever(
        infra, pool, producer, prefix, topics_ready):
    """asyncpg raises InterfaceError for a lost connection and for a wrong number of arguments alike; only the first
    is an outage."""
    await topics_ready(prefix + TOPIC, prefix + TOPIC + ".dlq")

    async def on_item(event, uow):
        await uow.conn.execute("INSERT INTO effects (item, event_id) VALUES ($1, $2)", event.item)

    consumer = EventConsumer(pool=pool, producer=producer, bootstrap_servers=infra.kafka_bootstrap, service="test",
                             group="misuse", topics=[TOPIC], handlers={ItemAdded: on_item}, topic_prefix=prefix,
                             max_attempts=2, backoff_seconds=0.01)
    await producer.send_and_wait(prefix + TOPIC, new_event("test", "ItemAdded", {"item": 1}).to_bytes(), key=b"k")
    task = asyncio.create_task(consumer.run())
    try:
        await wait_for(lambda: pool.fetchval("SELECT error_class FROM dead_letters"))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await pool.fetchval("SELECT error_class FROM dead_letters") == "InterfaceError"
    assert handler_failures(consumer.group) == 2
