"""Benchmark: ADT^A04 over MLLP into intake (messages/s, ACK latency) against PostgreSQL's raw durable-commit rate.

Self-contained by default: starts PostgreSQL (fsync on, so commits are durable), Kafka (tests.support.stack.start_infra)
and the intake service. With --target host:port it drives a running intake instead (--database-url for the ceiling).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import uvloop  # noqa: E402

from tests.support.stack import LOCAL, free_port, start_infra  # noqa: E402
from tests.unit.intake.messages import adt  # noqa: E402

START, END = b"\x0b", b"\x1c\x0d"


def frame(n: int, run: str) -> bytes:
    """A unique ED registration; one in four is an overdose, so indication and events are part of the cost."""
    diagnoses = ("T40.1X1A",) if n % 4 == 0 else ("S52.501A",)
    return START + adt("A04", facility="BENCH", visit_number=f"{run}-{n}", control_id=f"{run}-{n}",
                       diagnoses=diagnoses) + END


async def sender(host: str, port: int, frames: list[tuple[float, bytes]], latencies: list[float]) -> None:
    """Send frames one at a time on one connection; latency counts from the scheduled send time."""
    reader, writer = await asyncio.open_connection(host, port)
    clock = time.perf_counter  # uvloop's loop.time() has millisecond resolution
    try:
        for due, data in frames:
            wait = due - clock()
            if wait > 0:
                await asyncio.sleep(wait)
            scheduled = max(due, clock()) if due else clock()
            writer.write(data)
            await writer.drain()
            reply = await reader.readuntil(END)
            if b"MSA|AA|" not in reply:
                raise RuntimeError("not accepted")
            latencies.append(clock() - scheduled)
    finally:
        writer.close()


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] if len(values) > 1 else values[0]


async def flood(host: str, port: int, connections: int, total: int, run: str, label: str = "flood") -> float:
    per = total // connections
    latencies: list[float] = []
    jobs = [[(0.0, frame(c * per + i, run)) for i in range(per)] for c in range(connections)]
    started = time.perf_counter()
    await asyncio.gather(*(sender(host, port, job, latencies) for job in jobs))
    elapsed = time.perf_counter() - started
    print(f"{label}: {connections} connections, {len(latencies)} messages in {elapsed:.1f}s ="
          f" {len(latencies) / elapsed:,.0f} msg/s; ACK latency p50 {percentile(latencies, 50) * 1000:.1f} ms,"
          f" p99 {percentile(latencies, 99) * 1000:.1f} ms")
    return elapsed


async def relay_backlog(dsn: str, schema: str, messages: int, flood_seconds: float) -> None:
    """Wait until the outbox relay has put every event of the flood on Kafka: the rate the whole path sustains."""
    conn = await asyncpg.connect(dsn)
    started = time.perf_counter()
    waiting = await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL")
    while await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"):
        await asyncio.sleep(0.1)
    drained = time.perf_counter() - started
    await conn.close()
    print(f"relay: {waiting} events not yet on Kafka when the flood ended, published {drained:.1f}s later;"
          f" ACKed and on Kafka: {messages / (flood_seconds + drained):,.0f} msg/s")


async def paced(host: str, port: int, rate: float, seconds: float, run: str, connections: int = 20) -> None:
    begin = time.perf_counter() + 0.5
    count = int(rate * seconds)
    jobs: list[list] = [[] for _ in range(connections)]
    for n in range(count):
        jobs[n % connections].append((begin + n / rate, frame(n, run)))
    latencies: list[float] = []
    await asyncio.gather(*(sender(host, port, job, latencies) for job in jobs))
    print(f"paced: {rate:.0f} msg/s for {seconds:.0f}s over {connections} connections: ACK latency"
          f" p50 {percentile(latencies, 50) * 1000:.1f} ms, p99 {percentile(latencies, 99) * 1000:.1f} ms")


async def ceiling(dsn: str, connections: int, seconds: float) -> None:
    """Single-row INSERT + COMMIT loops on as many connections: what PostgreSQL can durably commit here."""
    conn = await asyncpg.connect(dsn)
    fsync, sync_commit = await conn.fetchval("SHOW fsync"), await conn.fetchval("SHOW synchronous_commit")
    table = f"bench_commit_{uuid.uuid4().hex[:8]}"
    await conn.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, body bytea NOT NULL)")
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
    body = adt("A04")
    counts = [0] * connections
    deadline = time.perf_counter() + seconds

    async def loop(i: int) -> None:
        async with pool.acquire() as c:
            while time.perf_counter() < deadline:
                await c.execute(f"INSERT INTO {table} (body) VALUES ($1)", body)
                counts[i] += 1

    await asyncio.gather(*(loop(i) for i in range(connections)))
    await pool.close()
    await conn.execute(f"DROP TABLE {table}")
    await conn.close()
    print(f"ceiling: PostgreSQL single-row INSERT+COMMIT, {connections} connections: {sum(counts) / seconds:,.0f}"
          f" commits/s (fsync={fsync}, synchronous_commit={sync_commit})")


def start_postgres(state: Path, fsync: str) -> tuple[str, callable]:
    """Our own PostgreSQL, so fsync is on (the test infrastructure runs it off)."""
    port = free_port()
    env = {**os.environ, "STATE_DIR": str(state), "PG_PORT": str(port), "PG_FSYNC": fsync}
    subprocess.run([str(LOCAL / "postgres.sh"), "start"], env=env, check=True, stdout=subprocess.DEVNULL)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres", lambda: subprocess.run(
        [str(LOCAL / "postgres.sh"), "stop"], env=env, check=False, stdout=subprocess.DEVNULL)


def start_intake(kafka: str, dsn: str, log: Path, workers: int) -> tuple[subprocess.Popen, int]:
    http_port, mllp_port = free_port(), free_port()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka, "DATABASE_URL": dsn, "INTAKE_PORT": str(http_port),
           "INTAKE_MLLP_PORT": str(mllp_port), "PEERBRIDGE_TOPIC_PREFIX": f"bench{uuid.uuid4().hex[:6]}.",
           "PEERBRIDGE_JWT_SECRET": uuid.uuid4().hex,
           "PEERBRIDGE_LOG_LEVEL": os.environ.get("PEERBRIDGE_LOG_LEVEL", "INFO"),  # as deployed
           "PEERBRIDGE_DB_POOL_MAX": os.environ.get("PEERBRIDGE_DB_POOL_MAX", "20"),
           "INTAKE_MLLP_WORKERS": str(workers)}
    proc = subprocess.Popen([sys.executable, "-m", "services.intake"], cwd=ROOT, env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{http_port}/readyz", timeout=2).status_code == 200:
                return proc, mllp_port
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"intake did not start:\n{log.read_text()[-2000:]}")


async def measure(args, host: str, port: int, dsn: str | None) -> None:
    run = uuid.uuid4().hex[:6]
    await flood(host, port, args.connections, min(500, args.messages), run + "w", "warm-up")
    seconds = await flood(host, port, args.connections, args.messages, run)
    if dsn:  # the paced phase measures a steady state, not the relay catching up
        await relay_backlog(dsn, args.schema, args.messages, seconds)
    await paced(host, port, args.rate, args.seconds, run + "p")
    if dsn:
        await ceiling(dsn, args.connections, args.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--rate", type=float, default=200.0, help="paced phase rate, messages/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="paced phase and ceiling duration")
    parser.add_argument("--target", help="host:port of a running intake's MLLP listener")
    parser.add_argument("--database-url", help="with --target: the database to measure the ceiling on")
    parser.add_argument("--schema", default="intake", help="with --database-url: the intake service's schema")
    parser.add_argument("--fsync", choices=["on", "off"], default="on")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="INTAKE_MLLP_WORKERS: listener processes sharing the port (default: one per core)")
    args = parser.parse_args()
    if args.target:
        host, _, port = args.target.rpartition(":")
        uvloop.run(measure(args, host, int(port), args.database_url))
        return
    state = Path(tempfile.mkdtemp(prefix="peerbridge-bench-"))
    os.chmod(state, 0o755)
    admin_dsn, stop_pg = start_postgres(state, args.fsync)
    os.environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    os.environ["DATABASE_URL"] = admin_dsn
    infra = start_infra()  # Kafka only: the database is ours
    proc = None
    try:
        proc, port = start_intake(infra.kafka_bootstrap, admin_dsn, state / "intake.log", args.workers)
        uvloop.run(measure(args, "127.0.0.1", port, admin_dsn))
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=20)
        infra.stop()
        stop_pg()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
