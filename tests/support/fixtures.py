"""Fixtures for the runtime's integration tests: a migrated test schema, a producer, a topic reader."""
from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from services.runtime.db import create_pool, migrate
from services.runtime.service import ensure_topics, make_producer

TEST_MIGRATIONS = Path(__file__).with_name("migrations")


@pytest.fixture
async def schema(database_url) -> str:
    """A fresh schema with the runtime's tables and a test effects table."""
    name = f"rt_{uuid.uuid4().hex[:10]}"
    await migrate(database_url, name, TEST_MIGRATIONS)
    return name


@pytest.fixture
async def pool(database_url, schema):
    pool = await create_pool(database_url, schema)
    yield pool
    await pool.close()


@pytest.fixture
async def producer(infra):
    producer = make_producer(infra.kafka_bootstrap)
    await producer.start()
    yield producer
    await producer.stop()


async def read_topic(bootstrap: str, topic: str, *, expect: int, timeout: float = 30.0) -> list:
    """Every record on a topic from the start, waiting until at least `expect` have arrived."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < expect and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for recs in batch.values():
                records.extend(recs)
        # A short grace period to catch anything beyond what was expected (duplicates, strays).
        batch = await consumer.getmany(timeout_ms=500)
        for recs in batch.values():
            records.extend(recs)
    finally:
        await consumer.stop()
    return records


async def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.1):
    """Poll an async predicate until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)


@pytest.fixture
def topics_ready(infra):
    async def make(*names: str) -> None:
        await ensure_topics(infra.kafka_bootstrap, list(names))
    return make
