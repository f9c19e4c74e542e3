"""The renewal loop: warns supervisors of certifications and CE falling due (60 / 30 days), once each."""
from __future__ import annotations

import asyncpg
import structlog

from services.runtime.clock import Clock
from services.runtime.loops import Backoff, run_loop
from services.runtime.outbox import unit_of_work

from .service import PairingService
from .service_wellbeing import warn_renewals

log = structlog.get_logger("pairing.renewals")


class RenewalWorker:
    """Looks for renewals every `every` seconds; a warning's row and its event commit together."""

    def __init__(self, pool: asyncpg.Pool, service: PairingService, clock: Clock, *, every: float = 3600.0):
        self.pool, self.service, self.clock, self.every = pool, service, clock, every

    async def scan(self) -> int:
        async with unit_of_work(self.pool, "pairing", clock=self.clock) as uow:
            return await warn_renewals(self.service, uow)

    async def run(self) -> None:
        await run_loop(self.scan, name="renewals", log=log, failed="renewal_scan_failed", every=self.every,
                       backoff=Backoff(first=5.0, factor=2.0, cap=300.0))
