"""Operator access to dead letters: list them, and re-publish them to their origin topic once fixed."""
from __future__ import annotations

import asyncpg

from .db import check_schema_name
from .service import make_producer


async def list_dead_letters(dsn: str, schema: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(
            f"SELECT id, topic, kafka_partition, kafka_offset, error_class, failed_at, replayed_at"
            f" FROM {check_schema_name(schema)}.dead_letters ORDER BY id")
    finally:
        await conn.close()


async def replay_dead_letters(dsn: str, bootstrap: str, schema: str, *, ids: list[int] | None = None) -> int:
    """Send waiting dead letters back to the topic they came from; the consumer's inbox still guards effects."""
    conn = await asyncpg.connect(dsn)
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        table = f"{check_schema_name(schema)}.dead_letters"
        rows = await conn.fetch(
            f"SELECT id, topic, raw, kafka_key FROM {table}"
            " WHERE replayed_at IS NULL AND ($1::bigint[] IS NULL OR id = ANY($1))"
            " ORDER BY id", ids)
        for row in rows:
            # The original key puts the event back in its visit's partition, so it cannot overtake later events.
            key = bytes(row["kafka_key"]) if row["kafka_key"] is not None else None
            await producer.send_and_wait(row["topic"], bytes(row["raw"]), key=key,
                                         headers=[("dlq.replay.of", str(row["id"]).encode())])
            await conn.execute(f"UPDATE {table} SET replayed_at = now() WHERE id = $1", row["id"])
        return len(rows)
    finally:
        await producer.stop()
        await conn.close()
