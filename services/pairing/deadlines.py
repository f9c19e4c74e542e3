"""The deadline loop: takes due deadlines one per transaction (FOR UPDATE SKIP LOCKED) and applies them."""
from __future__ import annotations

import asyncpg
import structlog

from services.runtime.clock import Clock
from services.runtime.loops import Backoff, run_loop
from services.runtime.outbox import unit_of_work

from .service import PairingService
from .unit_of_work import PairingUnitOfWork

log = structlog.get_logger("pairing.deadlines")


class DeadlineWorker:
    """Applies stored deadlines; effect, events and 'done' commit together, so none is lost or repeated."""

    def __init__(self, pool: asyncpg.Pool, service: PairingService, clock: Clock, *, poll_seconds: float = 1.0):
        self.pool = pool
        self.service = service
        self.clock = clock
        self.poll_seconds = poll_seconds

    async def process_one(self) -> bool:
        """Apply the oldest due deadline; False when none is due."""
        async with unit_of_work(self.pool, "pairing", clock=self.clock) as uow:
            applied = await self.service.apply_due_deadline(PairingUnitOfWork(uow))
        if applied is None:
            return False
        log.info("deadline_applied", case_id=applied.case_id, outcome=applied.outcome)
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
        await run_loop(self.process_due, name="deadlines", log=log, failed="deadline_failed",
                       every=self.poll_seconds, backoff=Backoff(first=self.poll_seconds, factor=2.0, cap=10.0))
