"""Fixtures for the runtime's integration tests: a migrated test schema, a producer, a topic reader."""
from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

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
    """Every record on a topic from the start, waiting until at least `expect` have arrived, then to the topic's end."""
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
        # Then whatever else the topic holds by now (duplicates, strays): read to its end offsets, not for a while.
        ends = await consumer.end_offsets(list(consumer.assignment()))
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            assert asyncio.get_running_loop().time() < deadline, f"{topic} not read to its end within {timeout}s"
            batch = await consumer.getmany(timeout_ms=300)
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


async def wait_until_caught_up(bootstrap: str, group: str, topics: list[str], *, timeout: float = 60.0) -> None:
    """Wait until the group's committed offsets reach the end of every partition of `topics`: every record on them
    has been handled and its offset committed, so none can be delivered to the group again."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await reader.start()
    await admin.start()
    try:
        partitions = [TopicPartition(t["topic"], p["partition"])
                      for t in await admin.describe_topics(topics) for p in t["partitions"]]
        assert partitions, f"no partitions known for {topics}"
        ends = await reader.end_offsets(partitions)

        async def caught_up():
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            behind = {tp: end for tp, end in ends.items() if end and (
                tp not in committed or committed[tp].offset < end)}
            return not behind

        await wait_for(caught_up, timeout=timeout)
    finally:
        await admin.close()
        await reader.stop()


@pytest.fixture
def topics_ready(infra):
    async def make(*names: str) -> None:
        await ensure_topics(infra.kafka_bootstrap, list(names))
    return make
