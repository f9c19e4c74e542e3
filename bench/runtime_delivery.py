"""Benchmark: events/s through the outbox relay to Kafka, and through an idempotent consumer into PostgreSQL."""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from services.runtime.consumer import EventConsumer  # noqa: E402
from services.runtime.db import create_pool, migrate  # noqa: E402
from services.runtime.outbox import OutboxRelay, unit_of_work  # noqa: E402
from services.runtime.service import ensure_topics, make_producer  # noqa: E402
from tests.support.events import ItemAdded  # noqa: E402
from tests.support.stack import start_infra  # noqa: E402

TOPIC = ItemAdded.topic


async def run(n: int) -> None:
    infra = start_infra()
    try:
        admin = await asyncpg.connect(infra.admin_dsn)
        db = f"pb_bench_{uuid.uuid4().hex[:8]}"
        await admin.execute(f"CREATE DATABASE {db}")
        await admin.close()
        dsn = infra.admin_dsn.rpartition("/")[0] + "/" + db
        schema, prefix = "bench", f"b{uuid.uuid4().hex[:6]}."
        await migrate(dsn, schema, ROOT / "tests" / "support" / "migrations")
        pool = await create_pool(dsn, schema, max_size=10)
        await ensure_topics(infra.kafka_bootstrap, [prefix + TOPIC, prefix + TOPIC + ".dlq"])
        started = time.perf_counter()
        for chunk in range(0, n, 100):
            async with unit_of_work(pool, "bench", validate=False) as uow:
                for i in range(chunk, min(chunk + 100, n)):
                    await uow.emit(ItemAdded(item=i), facility="F", visit_number=str(i % 50))
        write_s = time.perf_counter() - started
        producer = make_producer(infra.kafka_bootstrap)
        await producer.start()
        relay = OutboxRelay(pool, producer, schema=schema, topic_prefix=prefix)
        started = time.perf_counter()
        while await relay.publish_pending():
            pass
        relay_s = time.perf_counter() - started

        async def on_item(event, uow):
            await uow.conn.execute("INSERT INTO effects (item, event_id) VALUES ($1, $2)", event.item, uow.cause.id)

        consumer = EventConsumer(pool=pool, producer=producer, bootstrap_servers=infra.kafka_bootstrap,
                                 service="bench", group="bench", topics=[TOPIC], handlers={ItemAdded: on_item},
                                 topic_prefix=prefix)
        task = asyncio.create_task(consumer.run())
        await consumer.assigned.wait()  # the group join is not what we measure
        started = time.perf_counter()
        while await pool.fetchval("SELECT count(*) FROM effects") < n:
            await asyncio.sleep(0.05)
        consume_s = time.perf_counter() - started
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()
        await pool.close()
        print(f"events: {n}")
        print(f"outbox writes (100 per transaction): {n / write_s:,.0f} events/s")
        print(f"relay to Kafka (acks=all, idempotent): {n / relay_s:,.0f} events/s")
        print(f"consumer (inbox + effect in one transaction per event, offsets committed per fetched batch):"
              f" {n / consume_s:,.0f} events/s")
    finally:
        infra.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=int(os.environ.get("BENCH_EVENTS", "5000")))
    asyncio.run(run(parser.parse_args().n))
