"""Two pairing replicas' deadline loops on one database: every due deadline is applied once, by one of them."""
from __future__ import annotations

import asyncio

import pytest

from services.pairing.deadlines import DeadlineWorker
from services.runtime.db import create_pool
from tests.support.fixtures import wait_for

pytestmark = pytest.mark.integration


class CountingWorker(DeadlineWorker):
    """A replica's deadline loop, counting what it applied."""

    applied = 0

    async def process_one(self) -> bool:
        done = await super().process_one()
        self.applied += done
        return done


async def test_two_replicas_deadline_loops_apply_each_deadline_once(harness):
    for name in "abcdef":
        await harness.add_peer(name)
    visits = [await harness.open_visit() for _ in range(12)]
    harness.clock.advance(minutes=11)  # every first offer's deadline is now due
    pools = [await create_pool(harness.database_url, harness.schema) for _ in range(2)]
    replicas = [CountingWorker(p, harness.service, harness.clock, poll_seconds=0.05) for p in pools]
    loops = [asyncio.create_task(r.run()) for r in replicas]
    try:
        due = "SELECT count(*) FROM deadlines WHERE done_at IS NULL AND due_at <= $1"
        await wait_for(lambda: _none(harness.pool.fetchval(due, harness.clock.now())), timeout=120)
    finally:
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        for p in pools:
            await p.close()
    assert sum(r.applied for r in replicas) == len(visits)
    for data in visits:
        assert [a["status"] for a in await harness.assignments(data)] == ["expired", "offered"]
        assert len(await harness.events("PeerAssignmentExpired", data)) == 1
        assert len(await harness.events("PeerAssignmentOffered", data)) == 2


async def _none(count) -> bool:
    return await count == 0
