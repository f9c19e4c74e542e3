"""The consumer's own transactions without a broker: events handed over as one partition's fetched batch (inbox rows,
runs of a batched handler, the outbox), or one at a time, on a real database; to compare the two outcomes."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

from aiokafka.structs import ConsumerRecord

from services.runtime.clock import Clock
from services.runtime.consumer import EventConsumer
from services.runtime.db import create_pool, migrate
from services.runtime.envelope import Envelope


class Applier:
    """A service's handlers behind the runtime's consumer, fed records made from envelopes (offsets in order)."""

    def __init__(self, pool, service: str, handlers: dict, clock: Clock):
        self.pool = pool
        self.consumer = EventConsumer(pool=pool, producer=None, bootstrap_servers="unused", service=service,
                                      group=service, topics=[], handlers=handlers, clock=clock)
        self.offset = 0

    def _work(self, events: list[Envelope]) -> list[tuple]:
        work = []
        for event in events:
            self.offset += 1
            record = ConsumerRecord(topic="runs", partition=0, offset=self.offset, timestamp=0, timestamp_type=0,
                                    key=None, value=event.to_bytes(), checksum=None, serialized_key_size=0,
                                    serialized_value_size=0, headers=[])
            work.append((record, event, self.consumer.handlers[event.name]))
        return work

    async def batch(self, events: list[Envelope]) -> list[str]:
        """One transaction for all, as a fetched batch: each event's outcome (applied, duplicate)."""
        return await self.consumer._apply_batch(self._work(events))

    async def each(self, events: list[Envelope]) -> list[str]:
        """One transaction per event, as when a batch has failed and is applied one event at a time."""
        return [await self.consumer._apply(record, event, handler) for record, event, handler in self._work(events)]

    async def emitted(self, drop: tuple[str, ...] = ()) -> list[tuple[str, dict]]:
        """The events written to the outbox, in order: (name, data without the fields named in `drop`)."""
        rows = await self.pool.fetch("SELECT event_type, payload FROM outbox ORDER BY seq")
        found = []
        for row in rows:
            data = json.loads(row["payload"])["data"]
            found.append((row["event_type"].rsplit(".", 1)[-1], {k: v for k, v in data.items() if k not in drop}))
        return found


async def schema_pool(database_url: str, prefix: str, migrations: Path):
    """A pool on a freshly migrated schema of its own."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await migrate(database_url, schema, migrations)
    return await create_pool(database_url, schema)
