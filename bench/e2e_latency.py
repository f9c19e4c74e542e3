"""Benchmark: peer-indicated ADT^A04 over MLLP to the committed offer and the FHIR Task, paced and as a backlog.

Starts its own Kafka and PostgreSQL (with track_commit_timestamp on) and the five services as processes. A roster
of peers on shift; then overdose registrations (ADT^A04, DG1 T40.1X1A) go to intake's MLLP listener on a schedule
at each RATE. Latency runs from the AA ACK (read by the sender) to the commit, in PostgreSQL, of the visit's first
offer (pairing.assignments) and of the FHIR Task's last version (referral.fhir_history), each the commit timestamp
of the row's transaction (pg_xact_commit_timestamp). In the same run: the ceiling, a raw Kafka produce -> consume
round trip plus one PostgreSQL commit, per hop (ACK -> offer is one hop, ACK -> Task two); the drain time of a
BACKLOG of visits sent while pairing, referral, billing and notify were stopped; and each service's RSS (its
process tree) sampled while the highest rate runs. First, WARMUP seconds of visits at the highest rate, not measured:
a broker just started spends a fifth of a core for about a minute compiling its hot paths (HotSpot's JIT), which
one that has run for a while does not; the JIT compiler's CPU is shown apart from the broker's ("kafka JIT").

    .venv/bin/python bench/e2e_latency.py [--rates 20,100,200] [--seconds 10] [--backlog 10000] [--peers 100]
                                          [--warmup 20] [--idle 10] [--hops] [--statements]
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
from aiokafka import AIOKafkaConsumer  # noqa: E402

from services.runtime.envelope import partition_key  # noqa: E402
from services.runtime.service import ensure_topics, make_producer  # noqa: E402
from tests.support.ids import random_npi  # noqa: E402
from tests.support.services import start_services, stop_services  # noqa: E402
from tests.support.stack import LOCAL, fresh_database, free_port  # noqa: E402
from tests.unit.intake.messages import adt  # noqa: E402

START, END = b"\x0b", b"\x1c\x0d"
CONSUMERS = ("pairing", "referral", "billing", "notify")


def cuts(values: list[float]) -> str:
    if not values:
        return "no samples"
    q = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else [values[0]] * 99
    return f"p50 {q[49] * 1000:8.1f} ms   p99 {q[98] * 1000:8.1f} ms   max {max(values) * 1000:8.1f} ms"


def load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


class Infra:
    """Kafka and a PostgreSQL cluster of our own that records commit timestamps."""

    def __init__(self, statements: bool = False):
        self.statements = statements
        self.state = Path(tempfile.mkdtemp(prefix="peerbridge-bench-"))
        os.chmod(self.state, 0o755)
        self.kafka_port, pg_port = free_port(), free_port()
        self.env = {**os.environ, "STATE_DIR": str(self.state), "KAFKA_PORT": str(self.kafka_port),
                    "KAFKA_CONTROLLER_PORT": str(free_port()), "PG_PORT": str(pg_port),
                    "KAFKA_HEAP": "-Xms128m -Xmx512m", "PG_FSYNC": "off"}
        self.admin_dsn = f"postgresql://postgres@127.0.0.1:{pg_port}/postgres"
        self.kafka_bootstrap = f"127.0.0.1:{self.kafka_port}"

    def script(self, name: str, action: str) -> None:
        subprocess.run([str(LOCAL / name), action], env=self.env, check=True, stdout=subprocess.DEVNULL)

    async def start(self) -> None:
        self.script("postgres.sh", "start")
        conn = await asyncpg.connect(self.admin_dsn)
        await conn.execute("ALTER SYSTEM SET track_commit_timestamp = on")  # takes effect at restart
        if self.statements:
            await conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        await conn.close()
        self.script("postgres.sh", "stop")
        self.script("postgres.sh", "start")
        if self.statements:  # known once the library is loaded
            conn = await asyncpg.connect(self.admin_dsn)
            await conn.execute("ALTER SYSTEM SET pg_stat_statements.track_planning = on")
            await conn.execute("SELECT pg_reload_conf()")
            await conn.close()
        self.script("kafka.sh", "start")

    def pids(self) -> dict[str, int]:
        """The broker's and PostgreSQL's main processes."""
        return {"kafka": int((self.state / "kafka" / "kafka.pid").read_text()),
                "postgres": int((self.state / "postgres" / "data" / "postmaster.pid").read_text().split()[0])}

    def stop(self) -> None:
        for name in ("kafka.sh", "postgres.sh"):
            try:
                self.script(name, "stop")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.state, ignore_errors=True)


async def roster(stack, client: httpx.AsyncClient, facilities: list[str], peers: int) -> None:
    """Peers on shift at every facility, with room for every offer of the run."""
    admin = stack.headers("admin")
    for i in range(peers):
        body = {"name": f"Bench Peer {i}", "npi": random_npi(), "languages": ["en", "es"], "facilities": facilities,
                "certifications": [{"kind": "CPRS", "number": f"B{i}", "state": "NJ", "expires_on": "2099-01-01"}],
                "recovery_since": "2015-01-01", "pathways": ["MOUD-supportive"], "caseload_cap": 200,
                "status": "active"}
        r = await client.post(f"{stack.urls['pairing']}/specialists", json=body, headers=admin)
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        r = await client.put(f"{stack.urls['pairing']}/specialists/{sid}/shifts", headers=admin,
                             json=[{"facility": f, "pattern": "24/7"} for f in facilities])
        assert r.status_code == 200, r.text


async def send(port: int, facility: str, count: int, rate: float | None, connections: int = 8,
               first: int = 0) -> dict[str, float]:
    """Send `count` registrations (at `rate` a second on a schedule, or as fast as ACKs come), numbered from
    `first`; the wall-clock time of each AA ACK by visit number."""
    acked: dict[str, float] = {}
    started = time.perf_counter()

    async def one_connection(c: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for n in range(c, count, connections):
                if rate:
                    await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
                number = f"{facility}-{first + n}"
                writer.write(START + adt("A04", facility=facility, visit_number=number, control_id=number,
                                         diagnoses=("T40.1X1A",), arrived=None) + END)
                await writer.drain()
                reply = await reader.readuntil(END)
                if b"MSA|AA|" not in reply:
                    raise RuntimeError("not accepted")
                acked[number] = time.time()
        finally:
            writer.close()

    await asyncio.gather(*(one_connection(c) for c in range(connections)))
    return acked


OFFERS = ("SELECT visit_number, extract(epoch FROM pg_xact_commit_timestamp(xmin)) AS t FROM pairing.assignments"
          " WHERE facility = $1 AND attempt = 1")
TASKS = ("SELECT r.visit_number, extract(epoch FROM max(pg_xact_commit_timestamp(h.xmin))) AS t"
         " FROM referral.referrals r JOIN referral.fhir_resources f ON f.referral_id = r.id"
         " AND f.resource_type = 'Task' JOIN referral.fhir_history h ON h.resource_type = 'Task' AND h.id = f.id"
         " WHERE r.facility = $1 AND r.business_status = 'offered' GROUP BY r.visit_number")


# The commit of the relay's round that marked the event published (its UPDATE is the row's last version): the time
# the broker had acknowledged it. Matched to visits by the outbox's partition key, which hashes the visit.
PUBLISHED = ("SELECT partition_key, extract(epoch FROM pg_xact_commit_timestamp(xmin)) AS t FROM {}.outbox"
             " WHERE event_type LIKE $1 AND partition_key = ANY($2::bytea[]) AND published_at IS NOT NULL")


async def published(conn, schema: str, event: str, keys: dict[bytes, str]) -> dict[str, float]:
    """When each visit's first `event` from this schema's outbox was acknowledged by the broker."""
    found: dict[str, float] = {}
    for r in await conn.fetch(PUBLISHED.format(schema), f"%{event}", list(keys)):
        visit = keys[bytes(r["partition_key"])]
        found[visit] = min(found.get(visit, float("inf")), float(r["t"]))
    return found


def hop_lines(acked: dict[str, float], offers: dict, tasks: dict, indicated: dict, offered: dict) -> list[str]:
    """The chain's four hops, each from the end of the one before it."""
    hops = [("ACK -> indication published (intake's relay)", acked, indicated),
            ("published -> offer committed (pairing)", indicated, offers),
            ("offer -> offer published (pairing's relay)", offers, offered),
            ("published -> Task committed (referral)", offered, tasks)]
    return [f"        {name:<48} {cuts([b[v] - a[v] for v in a if v in b])}" for name, a, b in hops]


# While the last visits are still on their way, the benchmark only counts (two index lookups): the joins that read
# the commit times would take CPU from the chain it measures (PostgreSQL's JIT compiled them in 0.3 s at times).
COUNTS = ("SELECT (SELECT count(*) FROM pairing.assignments WHERE facility = $1 AND attempt = 1),"
          " (SELECT count(*) FROM referral.referrals WHERE facility = $1 AND business_status = 'offered')")


async def committed(conn, facility: str, count: int, timeout: float) -> tuple[dict, dict]:
    """Commit times of each visit's first offer and its Task's last version, once all `count` are there."""
    deadline = time.monotonic() + timeout
    while min(await conn.fetchrow(COUNTS, facility)) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    offers = {r["visit_number"]: float(r["t"]) for r in await conn.fetch(OFFERS, facility)}
    tasks = {r["visit_number"]: float(r["t"]) for r in await conn.fetch(TASKS, facility)}
    return offers, tasks


def tree_pids(pid: int) -> list[int]:
    """A process and its live descendants (intake's MLLP workers, PostgreSQL's backends)."""
    found, pids = [], [pid]
    while pids:
        p = pids.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                pids += [int(c) for c in open(f"/proc/{p}/task/{task}/children").read().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return found


def stat_ticks(path: str, reaped: bool = False) -> int:
    """Clock ticks of CPU in a /proc stat file: utime and stime (fields 14, 15), with `reaped` also cutime and
    cstime (16, 17), the children the process has waited for; counted after the ")" that ends the name."""
    fields = open(path).read().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)


def cpu_seconds(pid: int) -> float:
    """CPU time of a process tree: its live members, and the children it has reaped (backends that ended)."""
    total = 0
    for i, p in enumerate(tree_pids(pid)):
        try:
            total += stat_ticks(f"/proc/{p}/stat", reaped=i == 0)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def jit_seconds(pid: int) -> float:
    """CPU time of a JVM's JIT compiler threads (HotSpot's C1 and C2): a new broker's warming up, not its work."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            if open(f"/proc/{pid}/task/{task}/comm").read().startswith(("C1 Compiler", "C2 Compiler")):
                total += stat_ticks(f"/proc/{pid}/task/{task}/stat")
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (intake's MLLP workers), in MB."""
    total = 0
    for p in tree_pids(pid):
        try:
            total += sum(int(line.split()[1]) for line in open(f"/proc/{p}/status") if line.startswith("VmRSS:"))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / 1024


async def ceiling(infra: Infra, dsn: str, rounds: int = 200) -> list[float]:
    """One hop with nothing of ours in it: produce (acks=all) -> consume -> one PostgreSQL commit."""
    topic = f"ceiling-{uuid.uuid4().hex[:6]}"
    await ensure_topics(infra.kafka_bootstrap, [topic])
    producer = make_producer(infra.kafka_bootstrap)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=infra.kafka_bootstrap, group_id=topic,
                                auto_offset_reset="earliest", isolation_level="read_committed")
    await producer.start()
    await consumer.start()
    conn = await asyncpg.connect(dsn)
    await conn.execute("CREATE TEMP TABLE hop (n int, at timestamptz DEFAULT now())")
    hops = []
    try:
        await producer.send_and_wait(topic, b"warm-up")
        await consumer.getone()
        for n in range(rounds):
            began = time.perf_counter()
            await producer.send_and_wait(topic, str(n).encode())
            await consumer.getone()
            async with conn.transaction():
                await conn.execute("INSERT INTO hop (n) VALUES ($1)", n)
            hops.append(time.perf_counter() - began)
    finally:
        await conn.close()
        await consumer.stop()
        await producer.stop()
    return hops


def cpu_of(stack, infra: Infra) -> dict[str, float]:
    """CPU seconds so far of each service, the broker and PostgreSQL."""
    pids = {name: proc.pid for name, proc in stack.procs.items()} | infra.pids()
    spent = {name: cpu_seconds(pid) for name, pid in pids.items()}
    # The broker's JIT compiler apart from the rest of it: minutes after a start it may still be compiling.
    spent["kafka JIT"] = jit_seconds(pids["kafka"])
    spent["kafka"] -= spent["kafka JIT"]
    return spent


def cpu_per_visit(before: dict[str, float], after: dict[str, float], visits: int, seconds: float) -> str:
    """Each process's CPU per visit, and the cores all of them kept busy over the time."""
    spent = {name: (after[name] - before.get(name, 0.0)) * 1000 / max(visits, 1) for name in after}
    return (", ".join(f"{name} {ms:.2f}" for name, ms in sorted(spent.items(), key=lambda kv: -kv[1]))
            + f"; all {sum(spent.values()):.2f} ms ({sum(spent.values()) * visits / 1000 / seconds:.2f} cores busy)")


async def paced(stack, infra: Infra, conn, rate: float, seconds: float, mllp: int,
                sample_rss: bool, hops: bool = False) -> dict[str, float]:
    facility = f"R{int(rate)}"
    count = int(rate * seconds)
    rss: dict[str, float] = {}

    async def sampler():
        while True:
            for name, proc in stack.procs.items():
                rss[name] = max(rss.get(name, 0.0), rss_mb(proc.pid))
            await asyncio.sleep(0.5)

    watch = asyncio.create_task(sampler()) if sample_rss else None
    if infra.statements:
        await conn.execute("SELECT pg_stat_statements_reset()")
    cpu = cpu_of(stack, infra)
    began = time.perf_counter()
    acked = await send(mllp, facility, count, rate)
    sent_for = time.perf_counter() - began
    offers, tasks = await committed(conn, facility, count, timeout=max(120.0, count / 5))
    if watch:
        watch.cancel()
    to_offer = [offers[v] - a for v, a in acked.items() if v in offers]
    to_task = [tasks[v] - a for v, a in acked.items() if v in tasks]
    print(f"{rate:5.0f} visits/s: {count} sent in {sent_for:.1f} s, {len(offers)} offers, {len(tasks)} Tasks"
          f"   (load {load()})")
    print(f"      ACK -> offer committed   {cuts(to_offer)}")
    print(f"      ACK -> Task committed    {cuts(to_task)}")
    if hops:
        keys = {partition_key(facility, v): v for v in acked}
        indicated = await published(conn, "intake", "PeerSupportIndicated", keys)
        offered = await published(conn, "pairing", "PeerAssignmentOffered", keys)
        print("\n".join(hop_lines(acked, offers, tasks, indicated, offered)))
    # Taken once every Task is in: what the whole chain spent on these visits, including the work after the last.
    await asyncio.sleep(1.0)
    print(f"      CPU per visit (ms): {cpu_per_visit(cpu, cpu_of(stack, infra), count, time.perf_counter() - began)}")
    if infra.statements:
        await top_statements(conn, count)
    return rss


async def warm_up(stack, infra: Infra, conn, rate: float, seconds: float, mllp: int, step: float = 5.0) -> None:
    """Visits at `rate` for `seconds`, not measured, so the measured rates meet a broker whose hot paths are compiled
    and services whose caches and pools are filled, as in a deployment that has run for a while. Their offers stay
    open, as the measured visits' do: the roster read and notify count them (20 s adds 4,000 to the rates' 3,200)."""
    sent, jit = 0, []
    for _ in range(max(1, round(seconds / step))):  # a step's last visit leaves 1/rate before the step ends
        before, at = cpu_of(stack, infra)["kafka JIT"], time.perf_counter()
        count = int(rate * step)
        await send(mllp, "WARM", count, rate, first=sent)
        sent += count
        jit.append((cpu_of(stack, infra)["kafka JIT"] - before) / (time.perf_counter() - at))
    await committed(conn, "WARM", sent, timeout=max(120.0, sent / 5))
    print(f"warm-up: {sent} visits at {rate:.0f}/s, not measured; the broker's JIT compiler used"
          f" {', '.join(f'{100 * j:.0f}' for j in jit)} % of a core in each {step:.0f} s   (load {load()})")


async def top_statements(conn, visits: int, top: int = 25) -> None:
    """PostgreSQL's time (planning and execution) per visit by statement, since the last call; then reset."""
    rows = await conn.fetch(
        "SELECT calls, total_plan_time + total_exec_time AS ms, total_plan_time AS plan_ms, d.datname,"
        " regexp_replace(query, '\\s+', ' ', 'g') AS query FROM pg_stat_statements s"
        " JOIN pg_database d ON d.oid = s.dbid ORDER BY 2 DESC LIMIT $1", top)
    calls, ms = await conn.fetchrow("SELECT sum(calls), sum(total_plan_time + total_exec_time) FROM pg_stat_statements")
    print(f"      statements per visit {calls / visits:.1f}; their time per visit {ms / visits:.2f} ms")
    for r in rows:
        print(f"        {r['calls'] / visits:5.2f}/visit {r['ms'] / visits:6.3f} ms (plan {r['plan_ms'] / visits:5.3f})"
              f"  {r['query'][:150]}")
    await conn.execute("SELECT pg_stat_statements_reset()")


async def backlog(stack, conn, count: int, mllp: int) -> None:
    """Visits sent while the consumers are stopped; then the time from their start to the last commit."""
    for name in CONSUMERS:
        stack.stop(name)
    before = {name: await conn.fetchval(f"SELECT count(*) FROM {name}.inbox") for name in CONSUMERS}
    facility = "BACKLOG"
    began = time.perf_counter()
    await send(mllp, facility, count, None, connections=8)
    print(f"backlog: {count} visits acknowledged in {time.perf_counter() - began:.1f} s with the consumers stopped")
    started = time.time()
    for name in CONSUMERS:
        stack.start(name)
    await asyncio.to_thread(stack.wait_ready, 120.0)
    ready = time.time()
    offers, tasks = await committed(conn, facility, count, timeout=900.0)
    last_offer, last_task = max(offers.values(), default=started), max(tasks.values(), default=started)
    print(f"      drained: last offer {last_offer - started:.1f} s, last Task {last_task - started:.1f} s after the"
          f" consumers started ({ready - started:.1f} s of it start-up); {len(offers)} offers, {len(tasks)} Tasks"
          f"   (load {load()})")
    # Each service's consumers: the events they applied (their inbox rows) over the time to the last of them.
    INBOX = "SELECT count(*), extract(epoch FROM max(processed_at)) FROM {}.inbox"
    began, settled, last = time.monotonic(), time.monotonic(), {}
    while time.monotonic() - settled < 3 and time.monotonic() - began < 300:  # until none has applied more for 3 s
        now = {name: tuple(await conn.fetchrow(INBOX.format(name))) for name in CONSUMERS}
        if now != last:
            settled, last = time.monotonic(), now
        await asyncio.sleep(0.5)
    for name in CONSUMERS:
        applied, ended = last[name][0] - before[name], float(last[name][1] or started)
        print(f"      {name:<9} applied {applied:6d} events in {ended - started:6.1f} s ="
              f" {applied / max(ended - started, 1e-9):6.0f} events/s (from the consumers' start, start-up included)")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="20,100,200")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--backlog", type=int, default=10000)
    parser.add_argument("--peers", type=int, default=100)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds without visits, to show each process's"
                        " background CPU before the paced rates")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds of visits at the highest rate, not"
                        " measured, before anything else (0: measure a broker and services just started)")
    parser.add_argument("--statements", action="store_true",
                        help="with pg_stat_statements: PostgreSQL's time per visit by statement, after each rate")
    parser.add_argument("--hops", action="store_true",
                        help="also each hop's latency: intake's relay, pairing, pairing's relay, referral")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r]
    infra = Infra(args.statements)
    await infra.start()
    try:
        async with fresh_database(infra.admin_dsn, prefix="pb_bench") as db:
            mllp = free_port()
            env = {"PEERBRIDGE_LOG_LEVEL": "WARNING", "INTAKE_MLLP_PORT": str(mllp),
                   "NOTIFY_LOG_WHEN_NO_CONTACT": "false"}
            stack = start_services(infra.kafka_bootstrap, db, Path(tempfile.mkdtemp(prefix="pb-e2e-bench-")), env)
            try:
                conn = await asyncpg.connect(db, server_settings={"jit": "off"})
                if args.statements:
                    await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                async with httpx.AsyncClient(timeout=30) as client:
                    await roster(stack, client, [f"R{int(r)}" for r in rates] + ["WARM", "BACKLOG"], args.peers)
                if args.warmup:
                    await warm_up(stack, infra, conn, max(rates), args.warmup, mllp)
                hops = await ceiling(infra, db)
                print(f"e2e latency: 5 services on {len(os.sched_getaffinity(0))} cores, {args.peers} peers"
                      f"   (load {load()})")
                print(f"ceiling, one hop (produce -> consume -> commit)   {cuts(hops)}")
                print(f"ceiling, two hops (sum of two p50s)             {2 * statistics.median(hops) * 1000:8.1f} ms")
                if args.idle:
                    before, began = cpu_of(stack, infra), time.perf_counter()
                    await asyncio.sleep(args.idle)
                    after, spent = cpu_of(stack, infra), time.perf_counter() - began
                    print(f"idle for {spent:.0f} s, CPU (% of a core): " + ", ".join(
                        f"{n} {100 * (after[n] - before[n]) / spent:.1f}" for n in sorted(after))
                        + f"   (load {load()})")
                rss: dict[str, float] = {}
                for rate in rates:
                    rss = await paced(stack, infra, conn, rate, args.seconds, mllp, sample_rss=rate == max(rates),
                                      hops=args.hops)
                print(f"RSS at {max(rates):.0f}/s (max, with child processes): "
                      + ", ".join(f"{n} {mb:.0f} MB" for n, mb in sorted(rss.items())))
                if args.backlog:
                    await backlog(stack, conn, args.backlog, mllp)
                await conn.close()
            finally:
                stop_services(stack)
    finally:
        infra.stop()


if __name__ == "__main__":
    asyncio.run(main())
