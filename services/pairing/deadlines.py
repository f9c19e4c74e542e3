"""The deadline loop: takes due deadlines one per transaction (FOR UPDATE SKIP LOCKED) and applies them."""
from __future__ import annotations

import asyncio

import asyncpg
import structlog

from services.runtime.clock import Clock
from services.runtime.outbox import unit_of_work

from . import store_assignments as assignments
from .dispatch import Dispatcher

log = structlog.get_logger("pairing.deadlines")


class DeadlineWorker:
    """Applies stored deadlines; effect, events and 'done' commit together, so none is lost or repeated."""

    def __init__(self, pool: asyncpg.Pool, dispatcher: Dispatcher, clock: Clock, *, poll_seconds: float = 1.0):
        self.pool = pool
        self.dispatcher = dispatcher
        self.clock = clock
        self.poll_seconds = poll_seconds

    async def process_one(self) -> bool:
        """Apply the oldest due deadline; False when none is due."""
        async with unit_of_work(self.pool, "pairing", clock=self.clock) as uow:
            deadline = await assignments.take_due_deadline(uow.conn, uow.clock.now())
            if deadline is None:
                return False
            outcome = await self.dispatcher.on_deadline(uow, deadline)
            await assignments.finish_deadline(uow.conn, deadline["id"], uow.clock.now(), outcome)
        log.info("deadline_applied", case_id=str(deadline["case_id"]), outcome=outcome)
        return True

    async def process_due(self) -> int:
        """Apply every deadline due now; returns how many."""
        count = 0
        while await self.process_one():
            count += 1
        return count

    async def run(self) -> None:
        """Poll until cancelled; a failing deadline stays due and is retried on the next round."""
        log.info("deadline_loop_started")
        while True:
            try:
                await self.process_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("deadline_failed", error_class=type(exc).__name__)
            await asyncio.sleep(self.poll_seconds)
