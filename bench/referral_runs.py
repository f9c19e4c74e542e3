"""Referral's event path on its own PostgreSQL: statements and CPU per visit (PeerSupportIndicated, then its
PeerAssignmentOffered) when the consumer hands the handlers runs of a batch, and as runs of one.

Run: .venv/bin/python bench/referral_runs.py [--visits 400] [--batch 50]
Statements are counted by asyncpg's query logger (each batch's BEGIN, outbox insert and COMMIT included); CPU is this
process's (the handlers, asyncpg and the outbox), so the figures compare code, not machines.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.contracts import PeerAssignmentOffered, PeerSupportIndicated  # noqa: E402
from services.referral import store  # noqa: E402
from services.referral.handlers import HANDLERS  # noqa: E402
from services.runtime.clock import FixedClock  # noqa: E402
from services.runtime.db import create_pool, migrate  # noqa: E402
from services.runtime.envelope import new_event  # noqa: E402
from services.runtime.outbox import UnitOfWork  # noqa: E402
from tests.support.stack import fresh_database, own_postgres  # noqa: E402

T0 = datetime.now(timezone.utc) - timedelta(hours=1)


def events(first: int, count: int) -> list:
    visits = [PeerSupportIndicated(
        facility="F1", visit_number=f"V{n}", arrived_at=T0, peer_indicated=True, diagnoses=["T401X1A"],
        patient_ref={"system": "urn:bench:mrn", "value": f"M{n}"},
        indications=[{"kind": "diagnosis", "code": "T401X1A", "reason": "opioid poisoning"}])
        for n in range(first, first + count)]
    offers = [PeerAssignmentOffered(facility="F1", visit_number=v.visit_number, assignment_id=str(uuid.uuid4()),
                                    specialist_id=str(uuid.uuid4()), offered_at=T0,
                                    expires_at=T0 + timedelta(minutes=10), attempt=1) for v in visits]
    return visits + offers


async def apply(pool, clock, batch: list) -> None:
    """One consumer batch of one handler's events: one transaction, the run handed over at once."""
    async with pool.acquire() as conn, conn.transaction():
        pending: list = []
        run = [(e, UnitOfWork(conn, "referral", clock=clock, deferred=True, pending=pending,
                              cause=new_event("bench", type(e).__name__, e.to_data(), now=clock.now())))
               for e in batch]
        await HANDLERS[type(batch[0])].run(run)
        await UnitOfWork(conn, "referral", pending=pending).flush()


async def measure(pool, clock, first: int, visits: int, batch: int) -> tuple[float, float]:
    """Statements and CPU milliseconds per visit."""
    statements = 0

    def count(_record) -> None:
        nonlocal statements
        statements += 1

    todo = events(first, visits)
    async with pool.acquire() as conn:  # the pool's connections all log (min_size = max_size = 1)
        conn.add_query_logger(count)
    started = time.process_time()
    for i in range(0, len(todo), batch):
        await apply(pool, clock, todo[i:i + batch])
    return statements / visits, (time.process_time() - started) * 1000 / visits


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, default=400)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    with own_postgres() as pg:
        async with fresh_database(pg.admin_dsn) as url:
            await migrate(url, "referral", Path(store.__file__).with_name("migrations"))
            pool = await create_pool(url, "referral", min_size=1, max_size=1)
            clock = FixedClock(T0 + timedelta(hours=1))
            await measure(pool, clock, 10**6, 50, args.batch)  # warm-up: imports, prepared statements
            print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
            for label, first, batch in ((f"runs of {args.batch}", 0, args.batch), ("runs of one", 10**5, 1)):
                per_visit, cpu = await measure(pool, clock, first, args.visits, batch)
                print(f"referral {label:>12}: {args.visits} visits + their offers  {per_visit:6.2f} statements/visit"
                      f"  {cpu:5.2f} ms CPU/visit")
            await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
