"""Benchmark: referrals written per second and FHIR searches served per second (p50/p99), HAPI FHIR JPA in the
same run, and the ratio.

Starts its own Kafka and PostgreSQL (tests.support.stack.start_infra) and the referral service as a process.
Writes: N PeerSupportIndicated events go onto the intake topic; the clock runs until the service has stored every
referral (consume, ServiceRequest + Task versions, history, outbox event, push row: one transaction each).
Searches: Task?focus=... and ServiceRequest?identifier=... over HTTP with a bearer token, C at a time.
HAPI: a HAPI FHIR JPA server (deploy/hapi/hapi.sh) on a database of its own on the same PostgreSQL, after our
service has stopped: the same N referrals as the transaction Bundles our push sends (conditional updates), then
the same searches; the ratio of the two (skipped with --no-hapi or without Java and Maven).

    .venv/bin/python bench/referral_fhir.py [--referrals 3000] [--searches 3000] [--concurrency 16]
                                            [--hapi-warmup 200] [--no-hapi]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.contracts import ConsentRecorded, Visit  # noqa: E402
from services.referral.domain.disclosure import transaction  # noqa: E402
from services.referral.domain.lifecycle import Referral, transition  # noqa: E402
from services.runtime.auth import issue_token  # noqa: E402
from services.runtime.envelope import new_event, partition_key  # noqa: E402
from services.runtime.service import ensure_topics  # noqa: E402
from tests.support.stack import ROOT, free_port, start_infra  # noqa: E402

FACILITY = "BENCH"
HAPI_VERSION = "8.8.0"  # deploy/hapi/hapi.sh


def visit(i: int) -> dict:
    return {"facility": FACILITY, "visit_number": f"V{i:07d}", "arrived_at": "2026-11-27T09:00:00Z",
            "peer_indicated": True, "diagnoses": ["T401X1A", "F1120"],
            "indications": [{"kind": "diagnosis", "code": "T401X1A", "reason": "opioid poisoning"}],
            "patient_ref": {"system": "urn:bench:mrn", "value": f"M{i:07d}"}}


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


async def bench_writes(bootstrap: str, dsn: str, prefix: str, n: int) -> float:
    await ensure_topics(bootstrap, [prefix + "intake.visit.v1"])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        for i in range(n):
            v = visit(i)
            event = new_event("bench", "PeerSupportIndicated", v)
            await producer.send(prefix + "intake.visit.v1", event.to_bytes(),
                                key=partition_key(FACILITY, v["visit_number"]))
        await producer.flush()
        while await conn.fetchval("SELECT count(*) FROM referral.referrals") < n:
            await asyncio.sleep(0.05)
        return time.perf_counter() - started
    finally:
        await conn.close()
        await producer.stop()


async def bench_searches(base: str, headers: dict, n: int, concurrency: int,
                         ids: list[str]) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = list(range(n))

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            i = queue.pop()
            if i % 2:
                params = {"focus": f"ServiceRequest/{ids[i % len(ids)]}"}
                path = "/fhir/Task"
            else:
                params = {"identifier": f"urn:peerbridge:ed-visit|{FACILITY}:V{i % len(ids):07d}"}
                path = "/fhir/ServiceRequest"
            t = time.perf_counter()
            r = await client.get(path, params=params)
            latencies.append(time.perf_counter() - t)
            assert r.status_code == 200 and r.json()["total"] == 1, r.text[:200]

    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


def hapi_bundle(i: int, now: datetime) -> bytes:
    """Referral i as our push sends it: a transaction of conditional updates (ServiceRequest, Task, Consent)."""
    ref = Referral(id=str(uuid.uuid4()), facility=FACILITY, visit_number=f"V{i:07d}",
                   visit=Visit.model_validate(visit(i)), authored_on=now)
    ref = transition(ref, ConsentRecorded(facility=FACILITY, visit_number=ref.visit_number, granted=True,
                                          recorded_at=now))
    return json.dumps(transaction(ref)).encode()


async def hapi_writes(base: str, bundles: list[bytes], concurrency: int) -> tuple[float, list[float], list[str]]:
    """POST every bundle, C at a time; returns the time, latencies and the ServiceRequest ids HAPI assigned."""
    latencies: list[float] = []
    ids: list[str] = []
    queue = list(range(len(bundles)))

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            body = bundles[queue.pop()]
            t = time.perf_counter()
            r = await client.post("", content=body)
            latencies.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text[:300]
            ids.append(r.json()["entry"][0]["response"]["location"].split("/")[1])

    async with httpx.AsyncClient(base_url=base, timeout=120, headers={"Content-Type": "application/fhir+json"}) as c:
        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, ids


async def hapi_accepts_writes(base: str, bundle: bytes, seconds: float = 60.0) -> None:
    """Until HAPI takes a Bundle: it can refuse a resource type as unsupported (HAPI-0544) for a while after its
    CapabilityStatement already lists the type, while its resource providers are still being registered."""
    async with httpx.AsyncClient(base_url=base, timeout=120, headers={"Content-Type": "application/fhir+json"}) as c:
        deadline = time.monotonic() + seconds
        while True:
            r = await c.post("", content=bundle)
            if r.status_code == 200:
                return
            if "HAPI-0544" not in r.text or time.monotonic() > deadline:
                raise AssertionError(r.text[:300])
            await asyncio.sleep(1.0)


async def bench_hapi(admin_dsn: str, args) -> dict:
    """HAPI FHIR JPA on a database of its own: start-up, the same referrals written as our push sends them, the same
    searches (with Cache-Control: no-cache, so HAPI runs each one rather than reusing a minute-old result)."""
    from tests.support.hospital import HapiServer  # noqa: PLC0415 (only with HAPI)

    name = f"pb_bench_hapi_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    server = HapiServer(admin_dsn.rpartition("/")[0] + f"/{name}", java_opts="-Xms256m -Xmx1g -XX:+UseSerialGC")
    try:
        server.start()
        out = {"start": server.started_in, "rss_start": server.rss_mb()}
        base = server.base("fhir").url
        now = datetime(2026, 11, 27, 10, tzinfo=timezone.utc)
        await hapi_accepts_writes(base, hapi_bundle(9_999_999, now))
        warm = [hapi_bundle(10_000_000 + i, now) for i in range(args.hapi_warmup)]
        await hapi_writes(base, warm, args.concurrency)
        bundles = [hapi_bundle(i, now) for i in range(args.referrals)]
        out["writes"] = await hapi_writes(base, bundles, args.concurrency)
        out["searches"] = await bench_searches(base.removesuffix("/fhir"), {"Cache-Control": "no-cache"},
                                               args.searches, args.concurrency, sorted(out["writes"][2], key=int))
        out["rss_end"] = server.rss_mb()
        return out
    finally:
        server.stop()
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


def start_service(bootstrap: str, dsn: str, prefix: str, secret: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": dsn, "PEERBRIDGE_TOPIC_PREFIX": prefix,
           "PEERBRIDGE_JWT_SECRET": secret, "REFERRAL_PORT": str(port), "PEERBRIDGE_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "services.referral"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("referral service did not become ready")


async def main(args) -> None:
    infra = start_infra()
    proc = None
    try:
        name = f"pb_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(infra.admin_dsn)
        await admin.execute(f"CREATE DATABASE {name}")
        await admin.close()
        dsn = infra.admin_dsn.rpartition("/")[0] + f"/{name}"
        prefix, secret, port = f"bench{uuid.uuid4().hex[:6]}.", secrets.token_urlsafe(32), free_port()
        proc = start_service(infra.kafka_bootstrap, dsn, prefix, secret, port)
        await asyncio.sleep(3)  # let the consumer join its group before the clock starts

        print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        seconds = await bench_writes(infra.kafka_bootstrap, dsn, prefix, args.referrals)
        ours_w = args.referrals / seconds
        print(f"ours  referrals written (Kafka in -> ServiceRequest+Task stored) {args.referrals:>6}  {seconds:8.2f} s"
              f"  {ours_w:8.0f} referrals/s (target >= 300)")

        conn = await asyncpg.connect(dsn)
        ids = [str(r["id"]) for r in await conn.fetch("SELECT id FROM referral.referrals ORDER BY visit_number")]
        await conn.close()
        token = issue_token(secret, role="supervisor", issuer="peerbridge-local", audience="peerbridge")
        seconds, lat = await bench_searches(f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"},
                                            args.searches, args.concurrency, ids)
        ours_s = args.searches / seconds
        print(f"ours  FHIR searches (Task?focus, ServiceRequest?identifier)  {args.searches:>6}  {seconds:8.2f} s"
              f"  {ours_s:8.0f} searches/s  p50 {percentile(lat, 50) * 1000:6.1f} ms"
              f"  p99 {percentile(lat, 99) * 1000:6.1f} ms  (concurrency {args.concurrency})")
        proc.terminate()  # idle from here; HAPI gets the machine to itself
        proc.wait(timeout=20)
        proc = None

        if args.no_hapi:
            return
        if not (shutil.which("java") and shutil.which("mvn")):
            print("HAPI FHIR JPA: skipped (no Java or Maven)")
            return
        h = await bench_hapi(infra.admin_dsn, args)
        print(f"HAPI  FHIR JPA {HAPI_VERSION} on PostgreSQL: started in {h['start']:.0f} s,"
              f" {h['rss_start']:.0f} MB RSS after start, {h['rss_end']:.0f} MB at the end")
        seconds, lat, _ = h["writes"]
        hapi_w = args.referrals / seconds
        print(f"HAPI  transaction Bundles (3 conditional updates each, after {args.hapi_warmup} to warm up)"
              f" {args.referrals:>6}  {seconds:8.2f} s  {hapi_w:8.0f} bundles/s"
              f"  p50 {percentile(lat, 50) * 1000:6.1f} ms  p99 {percentile(lat, 99) * 1000:6.1f} ms")
        seconds, lat = h["searches"]
        hapi_s = args.searches / seconds
        print(f"HAPI  FHIR searches (Task?focus, ServiceRequest?identifier)  {args.searches:>6}  {seconds:8.2f} s"
              f"  {hapi_s:8.0f} searches/s  p50 {percentile(lat, 50) * 1000:6.1f} ms"
              f"  p99 {percentile(lat, 99) * 1000:6.1f} ms")
        print(f"ratio ours/HAPI: writes {ours_w / hapi_w:.1f}x, searches {ours_s / hapi_s:.1f}x"
              f"  (load average {' '.join(f'{x:.1f}' for x in os.getloadavg())})")
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=20)
        infra.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=3000)
    parser.add_argument("--searches", type=int, default=3000)
    parser.add_argument("--hapi-warmup", type=int, default=200, help="bundles HAPI writes before the clock starts")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-hapi", action="store_true")
    asyncio.run(main(parser.parse_args()))
