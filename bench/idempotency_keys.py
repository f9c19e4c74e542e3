"""Benchmark: what an Idempotency-Key costs a request, and what a replay costs, on intake's POST /visits.

Starts its own Kafka and PostgreSQL (tests.support.stack.start_infra) and intake as a process, then sends N visits
C at a time three ways: without a key, each with a new key (stored with the effect), and each again with its key
(replayed, nothing done). Prints requests per second and latency p50/p99 for each.

    .venv/bin/python bench/idempotency_keys.py [--visits 2000] [--concurrency 8]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.services import start_services, stop_services  # noqa: E402
from tests.support.stack import fresh_database, start_infra  # noqa: E402


def visits(n: int, tag: str) -> list[dict]:
    now = datetime.now(timezone.utc).isoformat()
    return [{"facility": "BENCH", "visit_number": f"{tag}{i}", "arrived_at": now, "diagnoses": ["F11.20"],
             "gender": "female", "age_years": 40} for i in range(n)]


async def send(client: httpx.AsyncClient, url: str, bodies: list[dict], keys: list[str | None],
               concurrency: int) -> tuple[float, list[float], set[int]]:
    """Seconds for all, each request's latency, and the statuses seen."""
    queue = list(zip(bodies, keys))
    latencies: list[float] = []
    statuses: set[int] = set()

    async def worker():
        while queue:
            body, key = queue.pop()
            headers = {"Idempotency-Key": key} if key else {}
            started = time.perf_counter()
            r = await client.post(url, json=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            statuses.add(r.status_code)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, statuses


def report(name: str, seconds: float, latencies: list[float], statuses: set[int]) -> None:
    cuts = statistics.quantiles(latencies, n=100)
    print(f"{name:<24} {len(latencies) / seconds:8.0f} req/s   p50 {cuts[49] * 1000:6.2f} ms   "
          f"p99 {cuts[98] * 1000:6.2f} ms   statuses {sorted(statuses)}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    infra = start_infra()
    try:
        async with fresh_database(infra.admin_dsn, prefix="pb_bench") as url:
            stack = start_services(infra.kafka_bootstrap, url, Path("/tmp/peerbridge-bench-idempotency"),
                                   names=("intake",), extra_env={"PEERBRIDGE_LOG_LEVEL": "WARNING"})
            try:
                target = f"{stack.urls['intake']}/visits"
                async with httpx.AsyncClient(headers=stack.headers("ehr"), timeout=30) as client:
                    await send(client, target, visits(200, "warm"), [None] * 200, args.concurrency)
                    plain = await send(client, target, visits(args.visits, "plain"), [None] * args.visits,
                                       args.concurrency)
                    keyed_bodies = visits(args.visits, "keyed")
                    keys = [str(uuid.uuid4()) for _ in keyed_bodies]
                    keyed = await send(client, target, keyed_bodies, keys, args.concurrency)
                    replayed = await send(client, target, keyed_bodies, keys, args.concurrency)
                print(f"intake POST /visits, {args.visits} visits, {args.concurrency} at a time")
                report("no key", *plain)
                report("new key (stored)", *keyed)
                report("same key (replayed)", *replayed)
            finally:
                stop_services(stack)
    finally:
        infra.stop()


if __name__ == "__main__":
    asyncio.run(main())
