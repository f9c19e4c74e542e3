"""Benchmark: referrals written per second and FHIR searches served per second (p50/p99), HAPI FHIR as reference.

Starts its own Kafka and PostgreSQL (tests.support.stack.start_infra) and the referral service as a process.
Writes: N PeerSupportIndicated events go onto the intake topic; the clock runs until the service has stored every
referral (consume, ServiceRequest + Task versions, history, outbox event, push row: one transaction each).
Searches: Task?focus=... and ServiceRequest?identifier=... over HTTP with a bearer token, C at a time.
HAPI: the same referrals as transaction Bundles (conditional create + conditional update) against the local HAPI
FHIR server of deploy/hapi (skipped with --no-hapi or without Java).

    .venv/bin/python bench/referral_fhir.py [--referrals 3000] [--searches 3000] [--concurrency 16] [--no-hapi]
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
import tempfile
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


async def bench_hapi(n: int, concurrency: int) -> tuple[float, list[float]] | None:
    if not (shutil.which("java") and shutil.which("mvn")):
        return None
    port = free_port()
    env = {**os.environ, "HAPI_PORT": str(port), "STATE_DIR": tempfile.mkdtemp(prefix="hapi-bench-")}
    script = str(ROOT / "deploy" / "hapi" / "hapi.sh")
    subprocess.run([script, "start"], env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        now = datetime(2026, 11, 27, 10, tzinfo=timezone.utc)
        bundles = []
        for i in range(n):
            ref = Referral(id=str(uuid.uuid4()), facility=FACILITY, visit_number=f"V{i:07d}",
                           visit=Visit.model_validate(visit(i)),
                           authored_on=now)
            ref = transition(ref, ConsentRecorded(facility=FACILITY, visit_number=ref.visit_number, granted=True,
                                                  recorded_at=now))
            bundles.append(json.dumps(transaction(ref)).encode())
        latencies: list[float] = []
        queue = list(range(n))

        async def worker(client: httpx.AsyncClient) -> None:
            while queue:
                body = bundles[queue.pop()]
                t = time.perf_counter()
                r = await client.post("/", content=body)
                latencies.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text[:300]

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/fhir", timeout=60,
                                     headers={"Content-Type": "application/fhir+json"}) as client:
            started = time.perf_counter()
            await asyncio.gather(*(worker(client) for _ in range(concurrency)))
            return time.perf_counter() - started, latencies
    finally:
        subprocess.run([script, "stop"], env=env, check=False)
        shutil.rmtree(env["STATE_DIR"], ignore_errors=True)


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

        seconds = await bench_writes(infra.kafka_bootstrap, dsn, prefix, args.referrals)
        print(f"referrals written (Kafka in -> ServiceRequest+Task stored) {args.referrals:>7}  {seconds:8.2f} s"
              f"  {args.referrals / seconds:8.0f} referrals/s (target >= 300)")

        conn = await asyncpg.connect(dsn)
        ids = [str(r["id"]) for r in await conn.fetch("SELECT id FROM referral.referrals ORDER BY visit_number")]
        await conn.close()
        token = issue_token(secret, role="supervisor", issuer="peerbridge-local", audience="peerbridge")
        seconds, lat = await bench_searches(f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"},
                                            args.searches, args.concurrency, ids)
        print(f"FHIR searches (Task?focus, ServiceRequest?identifier)  {args.searches:>7}  {seconds:8.2f} s"
              f"  {args.searches / seconds:8.0f} searches/s  p50 {percentile(lat, 50) * 1000:6.1f} ms"
              f"  p99 {percentile(lat, 99) * 1000:6.1f} ms  (concurrency {args.concurrency})")

        if not args.no_hapi:
            result = await bench_hapi(args.hapi_bundles, args.concurrency)
            if result is None:
                print("HAPI FHIR reference: skipped (no Java or Maven)")
            else:
                seconds, lat = result
                print(f"HAPI FHIR reference: transaction Bundles (3 resources each) {args.hapi_bundles:>5}"
                      f"  {seconds:8.2f} s  {args.hapi_bundles / seconds:8.0f} bundles/s"
                      f"  {3 * args.hapi_bundles / seconds:8.0f} resources/s  p99 {percentile(lat, 99) * 1000:6.1f} ms")
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=20)
        infra.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=3000)
    parser.add_argument("--searches", type=int, default=3000)
    parser.add_argument("--hapi-bundles", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-hapi", action="store_true")
    asyncio.run(main(parser.parse_args()))
