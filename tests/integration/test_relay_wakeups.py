"""The relay's wake-ups name where to read: each committed INSERT into the outbox names its lowest seq, and a row whose
wake-up never came (no one listening, another replica leading) is still published within a poll while later rows
keep waking the relay."""
from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.runtime.outbox import UnitOfWork, unit_of_work
from tests.support.events import ItemAdded
from tests.support.fixtures import wait_for
from tests.support.relays import all_published, emit, running_relays

pytestmark = pytest.mark.integration
TOPIC = ItemAdded.topic


async def test_a_committed_insert_wakes_the_relay_with_the_lowest_seq_it_wrote(database_url, schema, pool):
    payloads: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(database_url)
    await listener.add_listener(f"{schema}_outbox", lambda *args: payloads.put_nowait(args[3]))
    try:
        with pytest.raises(RuntimeError):
            async with unit_of_work(pool, "test", validate=False) as uow:
                await uow.emit(ItemAdded(item=0), facility="F1", visit_number="V0")
                await uow.flush()
                raise RuntimeError("rolled back with its events")
        await emit(pool, range(1, 6))
        first = await asyncio.wait_for(payloads.get(), timeout=10)
        seqs = [r["seq"] for r in await pool.fetch("SELECT seq FROM outbox ORDER BY seq")]
        assert len(seqs) == 5 and first == str(seqs[0])  # the rolled-back INSERT woke no one
        await emit(pool, [6])
        assert await asyncio.wait_for(payloads.get(), timeout=10) == str(seqs[-1] + 1)
    finally:
        await listener.close()


async def test_a_row_whose_wake_up_was_lost_is_published_within_a_poll_while_later_rows_keep_waking_the_relay(
        infra, database_url, schema, pool, prefix, topics_ready):
    await topics_ready(prefix + TOPIC)
    async with running_relays(infra, database_url, schema, prefix, count=1, poll_seconds=0.3):
        await emit(pool, range(3))
        await wait_for(lambda: all_published(pool))
        async with pool.acquire() as conn:
            # Ordinary triggers do not fire for this session: the row commits without waking the relay.
            await conn.execute("SET session_replication_role = replica")
            try:
                async with conn.transaction():
                    silent = UnitOfWork(conn, "test", validate=False)
                    await silent.emit(ItemAdded(item=100), facility="F1", visit_number="V1")
            finally:
                await conn.execute("RESET session_replication_role")
        lost = await pool.fetchval("SELECT max(seq) FROM outbox")
        published = False
        for n in range(200, 260):  # a wake-up naming a later row every 50 ms, for three seconds at most
            await emit(pool, [n])
            published = await pool.fetchval("SELECT published_at IS NOT NULL FROM outbox WHERE seq = $1", lost)
            if published:
                break
            await asyncio.sleep(0.05)
        assert published
        await wait_for(lambda: all_published(pool))
