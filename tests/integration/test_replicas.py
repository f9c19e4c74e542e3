"""Two replicas' outbox relays (each with its own pool and producer, as two processes) on one schema while the
service keeps writing: one publishes at a time, so every event goes out once and each visit's in order; when it
dies, the other takes over."""
from __future__ import annotations

import asyncio

import pytest

from services.runtime.envelope import Envelope, partition_key
from tests.support.events import ItemAdded
from tests.support.fixtures import read_topic, wait_for
from tests.support.relays import all_published, emit, running_relays

pytestmark = pytest.mark.integration
TOPIC = ItemAdded.topic


async def test_two_relay_replicas_publish_each_event_once_in_order_while_writes_go_on(
        infra, database_url, schema, pool, prefix, topics_ready):
    await topics_ready(prefix + TOPIC)
    async with running_relays(infra, database_url, schema, prefix, batch_size=7) as (replicas, _):
        for chunk in range(0, 200, 20):
            await emit(pool, range(chunk, chunk + 20))
            await asyncio.sleep(0.05)
        await wait_for(lambda: all_published(pool), timeout=60)
    assert sum(relay.published for _, _, relay in replicas) == 200
    records = await read_topic(infra.kafka_bootstrap, prefix + TOPIC, expect=200)
    items = [Envelope.from_bytes(r.value).data["item"] for r in records]
    assert sorted(items) == list(range(200))  # none lost, none twice
    for visit in range(3):
        key = partition_key("F1", f"V{visit}")
        in_visit = [Envelope.from_bytes(r.value).data["item"] for r in records if r.key == key]
        assert in_visit == sorted(in_visit)


async def test_when_the_publishing_replica_dies_another_takes_over_and_publishes_the_rest(
        infra, database_url, schema, pool, prefix, topics_ready):
    await topics_ready(prefix + TOPIC)
    async with running_relays(infra, database_url, schema, prefix) as (replicas, loops):
        await emit(pool, range(20))
        await wait_for(lambda: all_published(pool))
        [leader] = [n for n, (_, _, relay) in enumerate(replicas) if relay.published]  # one published all 20
        # The leader's process dies: its connections end without a goodbye (no unlock), and the server drops its
        # lock with its session.
        replicas[leader][0].terminate()
        loops[leader].cancel()
        await asyncio.gather(loops[leader], return_exceptions=True)
        await emit(pool, range(20, 40))
        await wait_for(lambda: all_published(pool), timeout=30)
    assert replicas[1 - leader][2].published == 20 and replicas[leader][2].published == 20
    records = await read_topic(infra.kafka_bootstrap, prefix + TOPIC, expect=40)
    assert sorted(Envelope.from_bytes(r.value).data["item"] for r in records) == list(range(40))
