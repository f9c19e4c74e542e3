"""A process that logs as the services do while it consumes from a broker, for tests that take the broker away."""
from __future__ import annotations

import argparse
import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.runtime.logs import configure_logging


async def main(args) -> None:
    consumer = AIOKafkaConsumer(args.topic, bootstrap_servers=args.bootstrap, group_id=args.topic,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, enable_idempotence=True, acks="all")
    await consumer.start()
    await producer.start()
    print("probe_started", flush=True)
    while True:  # what a service does: consume, and publish now and then
        await consumer.getmany(timeout_ms=200)
        try:
            await asyncio.wait_for(producer.send(args.topic, b"x"), timeout=1)
        except Exception:
            pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--repeat-seconds", type=float, required=True)
    args = parser.parse_args()
    configure_logging("probe", "INFO", repeat_seconds=args.repeat_seconds)
    asyncio.run(main(args))
