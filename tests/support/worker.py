"""A stand-in service process for crash tests: runs the real relay or the real consumer, slowly, until killed."""
from __future__ import annotations

import argparse
import asyncio

from services.runtime.consumer import EventConsumer
from services.runtime.db import create_pool
from services.runtime.outbox import OutboxRelay
from services.runtime.service import make_producer
from tests.support.events import ItemAdded

TOPIC = ItemAdded.topic


def make_handler(delay: float):
    async def on_item(event, uow) -> None:
        await uow.conn.execute("INSERT INTO effects (item, event_id) VALUES ($1, $2)", event.item, uow.cause.id)
        await asyncio.sleep(delay)  # widens the window between the effect and the offset commit
    return on_item


async def main(args) -> None:
    pool = await create_pool(args.dsn, args.schema)
    producer = make_producer(args.bootstrap)
    await producer.start()
    if args.role == "relay":
        relay = OutboxRelay(pool, producer, schema=args.schema, topic_prefix=args.prefix, batch_size=args.batch)
        await relay.run()
    else:
        consumer = EventConsumer(pool=pool, producer=producer, bootstrap_servers=args.bootstrap, service="test",
                                 group="test-consumer", topics=[TOPIC],
                                 handlers={ItemAdded: make_handler(args.delay)},
                                 topic_prefix=args.prefix, max_attempts=2, backoff_seconds=0.01)
        await consumer.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["relay", "consumer"])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--batch", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
