"""Outbox relays run as a service runs them (each with its own pool and producer, as separate processes would)."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from services.runtime.db import create_pool
from services.runtime.outbox import OutboxRelay, unit_of_work
from services.runtime.service import make_producer
from tests.support.events import ItemAdded


@asynccontextmanager
async def running_relays(infra, database_url, schema, prefix, count: int = 2, poll_seconds: float = 0.05, **options):
    """Relay replicas running as separate processes would: each with its own pool and producer; stopped after."""
    replicas = []
    for _ in range(count):
        producer = make_producer(infra.kafka_bootstrap)
        await producer.start()
        own = await create_pool(database_url, schema)
        replicas.append((own, producer, OutboxRelay(own, producer, schema=schema, topic_prefix=prefix,
                                                    poll_seconds=poll_seconds, **options)))
    loops = [asyncio.create_task(relay.run()) for _, _, relay in replicas]
    try:
        yield replicas, loops
    finally:
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        for own, producer, _ in replicas:
            await producer.stop()
            await own.close()


async def emit(pool, items) -> None:
    """One committed transaction writing an event per item, keyed by three visits."""
    async with unit_of_work(pool, "test", validate=False) as uow:
        for n in items:
            await uow.emit(ItemAdded(item=n), facility="F1", visit_number=f"V{n % 3}")


async def all_published(pool) -> bool:
    """Whether the outbox holds no unpublished row."""
    return await pool.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL")
