"""Benchmark: intake's own CPU per HL7 ADT^A04, in process, against a real PostgreSQL (no network listener, no Kafka).

The MLLP benchmark measures the whole machine; this one measures what intake's code costs per message (parse, decide,
build the Visit and its events, store), so a change to the hot path shows even on a noisy machine. Frames are sent
through the receiver as the listener sends them: many at once, so group commit shares transactions. One in four is an
overdose, so indications and events are part of the cost. Prints CPU microseconds per message (this process only;
PostgreSQL's own CPU is not counted) for several rounds, and their median.

    .venv/bin/python bench/intake_cpu.py [--messages 4000] [--rounds 5] [--concurrency 20] [--profile]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uvloop  # noqa: E402

from services.intake.settings import IntakeSettings  # noqa: E402
from services.runtime.clock import SystemClock  # noqa: E402
from services.runtime.db import create_pool, migrate  # noqa: E402
from services.runtime.logs import configure_logging  # noqa: E402
from tests.support.stack import fresh_database, own_postgres  # noqa: E402
from tests.unit.intake.messages import adt  # noqa: E402

try:  # the receiver's composition moved between versions; the benchmark runs against either
    from services.intake.feeds import feed_config
except ImportError:  # pragma: no cover - older trees
    from services.intake.app import feed_config
from services.intake.receiver import Receiver  # noqa: E402


def messages(count: int, run: str) -> list[bytes]:
    """Unique ED registrations, one in four an overdose."""
    return [adt("A04", facility="BENCH", visit_number=f"{run}-{n}", control_id=f"{run}-{n}",
                diagnoses=("T40.1X1A",) if n % 4 == 0 else ("S52.501A",)) for n in range(count)]


async def one_round(receiver: Receiver, frames: list[bytes], concurrency: int) -> tuple[float, float]:
    """CPU and wall seconds to process the frames with `concurrency` in flight."""
    queue = list(reversed(frames))

    async def lane() -> None:
        while queue:
            handled, _batch = await receiver.process(queue.pop())
            if handled[0][1].code != "AA":
                raise RuntimeError(f"not accepted: {handled[0][1]}")

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return time.process_time() - cpu, time.perf_counter() - wall


async def main(args: argparse.Namespace) -> None:
    with own_postgres() as pg:
        async with fresh_database(pg.admin_dsn, "pb_bench") as dsn:
            await migrate(dsn, "intake", ROOT / "services" / "intake" / "migrations")
            pool = await create_pool(dsn, "intake", max_size=4)
            receiver = Receiver(pool, feed_config(IntakeSettings()), SystemClock())
            try:
                await one_round(receiver, messages(500, "warm"), args.concurrency)
                profiler = None
                if args.profile:
                    import cProfile
                    profiler = cProfile.Profile()
                    profiler.enable()
                figures = []
                for r in range(args.rounds):
                    cpu, wall = await one_round(receiver, messages(args.messages, f"r{r}-{uuid.uuid4().hex[:6]}"),
                                                args.concurrency)
                    figures.append(cpu / args.messages * 1e6)
                    print(f"round {r + 1}: {args.messages} messages, {cpu / args.messages * 1e6:.0f} µs CPU each, "
                          f"{args.messages / wall:,.0f} msg/s")
                if profiler:
                    import pstats
                    profiler.disable()
                    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.lines)
                print(f"median: {statistics.median(figures):.0f} µs CPU per A04 "
                      f"(min {min(figures):.0f}, max {max(figures):.0f})")
            finally:
                await receiver.close()
                await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the measured rounds")
    parser.add_argument("--sort", default="cumulative", help="the profile's order (cumulative, tottime)")
    parser.add_argument("--lines", type=int, default=40, help="how many of the profile's lines to print")
    # JSON lines at INFO, as deployed, so their cost counts; written to /dev/null, not to the terminal.
    configure_logging("intake", "INFO", stream=open(os.devnull, "w"))
    uvloop.install()
    asyncio.run(main(parser.parse_args()))
