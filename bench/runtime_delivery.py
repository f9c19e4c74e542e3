"""Benchmark: events/s through the outbox relay to Kafka, and through idempotent consumers into PostgreSQL.

The consumers run as a service runs them (PEERBRIDGE_CONSUMERS in one group, batches of up to
PEERBRIDGE_CONSUMER_BATCH_MAX records); each one's rate is its events over the time to its last one.
    .venv/bin/python bench/runtime_delivery.py [-n 5000] [--consumers N] [--batch-max N]
"""
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
from services.runtime.settings import CommonSettings  # noqa: E402
from tests.support.events import ItemAdded  # noqa: E402
from tests.support.stack import start_infra  # noqa: E402

TOPIC = ItemAdded.topic
PARTITIONS = 3  # as services create their topics (ensure_topics)


async def run(n: int, count: int, batch_max: int) -> None:
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

        applied: dict[int, list] = {}  # per consumer: events, first and last time it applied one

        def on_item_of(k: int):
            async def on_item(event, uow):
                await uow.conn.execute("INSERT INTO effects (item, event_id) VALUES ($1, $2)", event.item,
                                       uow.cause.id)
                now = time.perf_counter()
                mine = applied.setdefault(k, [0, now, now])
                mine[0] += 1
                mine[2] = now
            return on_item

        settings = CommonSettings()  # commits and fetches as a service has them
        consumers = [EventConsumer(pool=pool, producer=producer, bootstrap_servers=infra.kafka_bootstrap,
                                   service="bench", group="bench", topics=[TOPIC], handlers={ItemAdded: on_item_of(k)},
                                   topic_prefix=prefix, batch_max=batch_max,
                                   commit_seconds=settings.consumer_commit_seconds,
                                   fetch_wait_ms=settings.consumer_fetch_wait_ms,
                                   fetch_min_bytes=settings.consumer_fetch_min_bytes,
                                   transaction_max=settings.consumer_transaction_max) for k in range(count)]
        tasks = [asyncio.create_task(c.run()) for c in consumers]
        # Timed from the first event applied to the last (the group join is not what we measure).
        while await pool.fetchval("SELECT count(*) FROM effects") < n:
            await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await producer.stop()
        await pool.close()
        first, last = min(a[1] for a in applied.values()), max(a[2] for a in applied.values())
        print(f"events: {n}   (load average {' '.join(open('/proc/loadavg').read().split()[:3])})")
        print(f"outbox writes (100 per transaction): {n / write_s:,.0f} events/s")
        print(f"relay to Kafka (acks=all, idempotent): {n / relay_s:,.0f} events/s")
        print(f"consumers: {count} in one group, {PARTITIONS} partitions, up to {batch_max} records per fetch and"
              f" {settings.consumer_transaction_max} per transaction: {n / (last - first):,.0f} events/s together")
        for k in range(count):
            events, began, ended = applied.get(k, [0, 0.0, 0.0])
            print(f"  consumer {k}: {events} events in {ended - began:.2f} s = "
                  + (f"{events / max(ended - began, 1e-9):,.0f} events/s" if events > 1 else "(no partition)"))
    finally:
        infra.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=int(os.environ.get("BENCH_EVENTS", "5000")))
    parser.add_argument("--consumers", type=int, default=CommonSettings().consumers)
    parser.add_argument("--batch-max", type=int, default=CommonSettings().consumer_batch_max)
    args = parser.parse_args()
    asyncio.run(run(args.n, args.consumers, args.batch_max))
