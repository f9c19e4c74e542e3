"""make chaos: on three brokers and two replicas of every service, a mixed MLLP load while a broker, each service
replica and PostgreSQL fail; then counts per visit what every service holds and prints acknowledged / lost / doubled.

Runs a stack of its own (.local/chaos, ports 2xxxx), so it does not disturb `make up`. Env: CHAOS_VISIT_EVERY (s, 2.0),
CHAOS_PG_OUTAGE (s, 60), CHAOS_DRAIN_LIMIT (s, 600).
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from services.runtime.auth import issue_token  # noqa: E402
from tests.support.when import iso, minutes_ago  # noqa: E402
from tests.unit.intake.messages import adt  # noqa: E402

LOCAL = ROOT / "deploy" / "local"
STATE = ROOT / ".local" / "chaos"
SERVICES = ["intake", "pairing", "referral", "billing", "notify", "console"]
BASE = {"intake": 28001, "pairing": 28002, "referral": 28003, "billing": 28004, "console": 28005, "notify": 28006}
MLLP, PG, KAFKA = 22575, 25432, 29092
FACILITY = "CHAOS" + uuid.uuid4().hex[:4].upper()
SECRET = secrets.token_urlsafe(32)
ENV = {**{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")},
       "STATE_DIR": str(STATE), "KAFKA_BROKERS": "3", "REPLICAS": "2", "KAFKA_PORT": str(KAFKA),
       "KAFKA_CONTROLLER_PORT": str(KAFKA + 1), "KAFKA_HEAP": "-Xms128m -Xmx384m", "PG_PORT": str(PG),
       "INTAKE_MLLP_PORT": str(MLLP), "PEERBRIDGE_JWT_SECRET": SECRET, "PEERBRIDGE_RELAY_POLL_SECONDS": "0.5",
       "PEERBRIDGE_TOPIC_PREFIX": f"chaos{uuid.uuid4().hex[:6]}.",
       **{f"{s.upper()}_PORT": str(p) for s, p in BASE.items()}}
DSN = f"postgresql://postgres@127.0.0.1:{PG}/peerbridge"
stop = threading.Event()
visits: dict[str, dict] = {}  # visit number -> {"acked": bool, "encounter": bool}
lock = threading.Lock()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def sh(*args: str, check: bool = True) -> None:
    subprocess.run(list(args), env=ENV, check=check, stdout=subprocess.DEVNULL)


def headers(role: str, specialist_id: str | None = None) -> dict:
    token = issue_token(SECRET, role=role, issuer="peerbridge-local", audience="peerbridge",
                        specialist_id=specialist_id)
    return {"Authorization": f"Bearer {token}"}


def url(service: str, replica: int) -> str:
    return f"http://127.0.0.1:{BASE[service] + 100 * (replica - 1)}"


def add_peers(count: int) -> None:
    for n in range(count):
        body = {"name": f"Chaos Peer {n}", "npi": npi(), "languages": ["en", "es"], "facilities": [FACILITY],
                "certifications": [{"kind": "CPRS", "number": f"C{n}", "state": "NJ",
                                    "expires_on": (minutes_ago(-60 * 24 * 700)).date().isoformat()}],
                "recovery_since": "2015-01-01", "pathways": ["MOUD-supportive"], "status": "active",
                "caseload_cap": 200}
        r = httpx.post(url("pairing", 1) + "/specialists", json=body, headers=headers("admin"), timeout=30)
        assert r.status_code == 201, r.text
        httpx.put(f"{url('pairing', 1)}/specialists/{r.json()['id']}/shifts", headers=headers("admin"),
                  json=[{"facility": FACILITY, "pattern": "24/7"}], timeout=30).raise_for_status()


def npi() -> str:
    from tests.support.ids import random_npi
    return random_npi()


def send_visit(n: int) -> None:
    """One overdose A04 over MLLP, alternating replicas, resent (same control id) until an AA comes back."""
    number = f"V{n:05d}{uuid.uuid4().hex[:4]}"
    frame = adt("A04", facility=FACILITY, visit_number=number, control_id=f"CH{n}{uuid.uuid4().hex[:8]}",
                diagnoses=("T40.1X1A", "F11.20"), complaint="found down", arrived=minutes_ago(70))
    with lock:
        visits[number] = {"acked": False, "encounter": False}
    for attempt in range(10_000):
        port = MLLP + 100 * ((n + attempt) % 2)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
                sock.sendall(b"\x0b" + frame + b"\x1c\x0d")
                data = b""
                while not data.endswith(b"\x1c\x0d"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            if b"MSA|AA|" in data:
                with lock:
                    visits[number]["acked"] = True
                return
        except OSError:
            pass
        if stop.is_set() and attempt > 100:
            return
        time.sleep(1)


def load(every: float) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        threading.Thread(target=send_visit, args=(n,), daemon=True).start()
        time.sleep(every)


def work_visit(number: str, state: dict, started: dict) -> None:
    """The visit's peer accepts its offer and logs a 50-minute encounter (a repeat changes nothing)."""
    replica = 1 + hash(number) % 2
    try:
        found = httpx.get(url("pairing", replica) + "/assignments", headers=headers("supervisor"),
                          params={"facility": FACILITY, "visit_number": number}, timeout=10).json()
        live = [a for a in found if a["status"] in ("offered", "accepted")]
        if not live:
            return
        a, peer = live[0], headers("peer", live[0]["specialist_id"])
        if a["status"] == "offered":
            httpx.post(f"{url('pairing', replica)}/assignments/{a['id']}/accept", headers=peer, timeout=10)
        start = started.setdefault(number, minutes_ago(60))
        r = httpx.post(url("pairing", replica) + "/encounters", headers=peer, timeout=10, json={
            "assignment_id": a["id"], "started_at": iso(start),
            "ended_at": iso(start + timedelta(minutes=50)), "modality": "in-person", "kind": "individual"})
        if r.status_code in (200, 201):
            state["encounter"] = True
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        pass  # a fault in progress: tried again next round


def peers() -> None:
    """Peers work every acknowledged visit, four at a time, retrying through every fault."""
    from concurrent.futures import ThreadPoolExecutor

    started: dict = {}
    with ThreadPoolExecutor(4) as pool:
        while not (stop.is_set() and all(v["encounter"] or not v["acked"] for v in list(visits.values()))):
            todo = [(n, s) for n, s in list(visits.items()) if s["acked"] and not s["encounter"]]
            list(pool.map(lambda item: work_visit(item[0], item[1], started), todo))
            time.sleep(1)


def replica_pid(service: str, replica: int) -> int:
    name = service if replica == 1 else f"{service}-{replica}"
    return int((STATE / "run" / f"{name}.pid").read_text())


def faults(pg_outage: float) -> None:
    time.sleep(15)
    log("fault: kill -9 Kafka broker 2")
    sh(str(LOCAL / "kafka.sh"), "kill-node", "2")
    time.sleep(20)
    sh(str(LOCAL / "kafka.sh"), "start-node", "2")
    log("broker 2 back")
    for service in SERVICES:
        for replica in (1, 2):
            log(f"fault: kill -9 {service} replica {replica}")
            os.kill(replica_pid(service, replica), signal.SIGKILL)
            time.sleep(3)
            sh(str(LOCAL / "stack.sh"), "up")  # starts what is not running, waits until ready
    log(f"fault: PostgreSQL stopped for {pg_outage:.0f} s")
    sh(str(LOCAL / "postgres.sh"), "stop")
    time.sleep(pg_outage)
    sh(str(LOCAL / "postgres.sh"), "start")
    log("PostgreSQL back")
    time.sleep(10)


COUNTS = {
    "intake visits": "SELECT visit_number, count(*) FROM intake.visits WHERE facility = $1 GROUP BY 1",
    "pairing cases": "SELECT visit_number, count(*) FROM pairing.cases WHERE facility = $1 GROUP BY 1",
    "pairing accepted assignments": "SELECT visit_number, count(*) FROM pairing.assignments WHERE facility = $1"
                                    " AND accepted_at IS NOT NULL GROUP BY 1",
    "pairing encounters": "SELECT a.visit_number, count(*) FROM pairing.encounters e JOIN pairing.assignments a"
                          " ON a.id = e.assignment_id WHERE a.facility = $1 GROUP BY 1",
    "FHIR ServiceRequests": "SELECT r.visit_number, count(*) FROM referral.fhir_resources f JOIN referral.referrals r"
                            " ON r.id = f.referral_id WHERE r.facility = $1 AND f.resource_type = 'ServiceRequest'"
                            " GROUP BY 1",
    "FHIR Tasks": "SELECT r.visit_number, count(*) FROM referral.fhir_resources f JOIN referral.referrals r"
                  " ON r.id = f.referral_id WHERE r.facility = $1 AND f.resource_type = 'Task' GROUP BY 1",
    "claims": "SELECT visit_number, count(*) FROM billing.claims WHERE facility = $1 GROUP BY 1",
}


async def count() -> dict[str, dict[str, int]]:
    conn = await asyncpg.connect(DSN)
    try:
        return {what: {r[0]: r[1] for r in await conn.fetch(sql, FACILITY)} for what, sql in COUNTS.items()}
    finally:
        await conn.close()


def tally(found: dict[str, dict[str, int]], acked: list[str], done: list[str]) -> dict[str, tuple[int, int, int]]:
    """Per kind: (expected, lost, doubled); an accepted assignment, an encounter and a claim are expected of the
    visits whose peer (this script) has logged an encounter, the rest of every acknowledged visit."""
    result = {}
    for what, per_visit in found.items():
        expected = done if what in ("pairing accepted assignments", "pairing encounters", "claims") else acked
        lost = sum(1 for v in expected if per_visit.get(v, 0) == 0)
        doubled = sum(1 for c in per_visit.values() if c > 1)
        result[what] = (len(expected), lost, doubled)
    return result


def main() -> int:
    import asyncio

    every = float(os.environ.get("CHAOS_VISIT_EVERY", "2.0"))
    pg_outage = float(os.environ.get("CHAOS_PG_OUTAGE", "60"))
    drain_limit = float(os.environ.get("CHAOS_DRAIN_LIMIT", "600"))
    shutil.rmtree(STATE, ignore_errors=True)
    log("starting 3 Kafka brokers, PostgreSQL and 2 replicas of every service (.local/chaos)")
    sh(str(LOCAL / "stack.sh"), "up")
    try:
        add_peers(6)
        threads = [threading.Thread(target=load, args=(every,), daemon=True),
                   threading.Thread(target=peers, daemon=True)]
        for t in threads:
            t.start()
        faults(pg_outage)
        stop.set()  # no new visits; those in flight keep resending until acknowledged
        ended = time.monotonic()
        log(f"faults done; {len(visits)} visits sent; draining")
        caught_up = None  # when the services first held everything acknowledged and logged so far
        while True:
            acked = [v for v, s in visits.items() if s["acked"]]
            done = [v for v, s in visits.items() if s["encounter"]]
            results = tally(asyncio.run(count()), acked, done)
            pending = sum(1 for s in visits.values() if s["acked"] and not s["encounter"])
            if all(lost == 0 for _, lost, _ in results.values()):
                caught_up = caught_up or time.monotonic() - ended
                if not pending:
                    break
            else:
                caught_up = None
            if time.monotonic() - ended > drain_limit:
                break
            time.sleep(5)
        drain = time.monotonic() - ended
        print(f"\nchaos: {len(visits)} visits sent over MLLP, {len(acked)} acknowledged (AA), "
              f"{len(done)} with an encounter logged by their peer ({pending} not yet); facility {FACILITY}")
        print(f"{'what':32} {'expected':>8} {'lost':>6} {'doubled':>8}")
        for what, (expected, lost, doubled) in results.items():
            print(f"{what:32} {expected:>8} {lost:>6} {doubled:>8}")
        lost, doubled = sum(r[1] for r in results.values()), sum(r[2] for r in results.values())
        print(f"acknowledged {len(acked)}, lost {lost}, doubled {doubled}, drain {drain:.0f} s"
              f"{' (limit reached)' if drain >= drain_limit else ''}; the services held everything sent so far "
              + (f"{caught_up:.0f} s after the last fault" if caught_up is not None else "not yet"))
        return 0 if lost == 0 and doubled == 0 else 1
    finally:
        sh(str(LOCAL / "stack.sh"), "down", check=False)


if __name__ == "__main__":
    sys.exit(main())
