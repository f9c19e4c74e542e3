"""Benchmark: how fast notify reaches a peer, and how fast a texted reply becomes an accepted FHIR Task.

Starts its own Kafka and PostgreSQL (tests.support.stack.start_infra), intake, pairing, referral and notify as
processes, and a local SMS provider with Twilio's API surface (tests/support/notify_doubles.py). A roster of peers
on shift, each with a verified mobile number; then visits go to intake's POST /visits at RATE a second.
- offer -> SMS: from the offer's commit in pairing (the assignment's offered_at, stamped in that transaction) to the
  SMS provider receiving notify's request for it; the path is pairing's outbox relay, Kafka, notify's consumer
  (inbox + queued message in one transaction), the delivery loop (woken by NOTIFY) and the provider's HTTP API.
- reply -> Task accepted: from the provider posting a peer's `1 <code>` to notify's inbound webhook to referral's
  GET /fhir/Task showing the visit's Task accepted (notify -> notify.reply.v1 -> pairing's accept ->
  pairing.assignment.v1 -> referral), polled every 20 ms.

    .venv/bin/python bench/notify_latency.py [--offers 200] [--rate 20] [--replies 60] [--peers 40]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.ids import random_npi  # noqa: E402
from tests.support.notify_doubles import SmsProvider  # noqa: E402
from tests.support.services import start_services, stop_services  # noqa: E402
from tests.support.stack import fresh_database, start_infra  # noqa: E402

SERVICES = ("intake", "pairing", "referral", "notify")


def cuts(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100)
    return f"p50 {q[49] * 1000:7.1f} ms   p99 {q[98] * 1000:7.1f} ms   max {max(values) * 1000:7.1f} ms"


async def roster(stack, client: httpx.AsyncClient, db: str, facility: str, peers: int) -> dict[str, str]:
    """Peers on shift at the facility with room for every offer, each with a verified mobile number."""
    admin, mobiles = stack.headers("admin"), {}
    for i in range(peers):
        body = {"name": f"Bench Peer {i}", "npi": random_npi(), "languages": ["en"], "facilities": [facility],
                "certifications": [{"kind": "CPRS", "number": f"B{i}", "state": "NJ", "expires_on": "2099-01-01"}],
                "recovery_since": "2015-01-01", "pathways": ["MOUD-supportive"], "caseload_cap": 200,
                "status": "active"}
        r = await client.post(f"{stack.urls['pairing']}/specialists", json=body, headers=admin)
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        r = await client.put(f"{stack.urls['pairing']}/specialists/{sid}/shifts", headers=admin,
                             json=[{"facility": facility, "pattern": "24/7"}])
        assert r.status_code == 200, r.text
        mobiles[sid] = f"+1555{7000000 + i}"
        r = await client.put(f"{stack.urls['notify']}/contacts/specialist/{sid}", headers=admin,
                             json={"channels": [{"channel": "sms", "address": mobiles[sid]}]})
        assert r.status_code == 200, r.text
    conn = await asyncpg.connect(db, server_settings={"search_path": "notify"})
    await conn.execute("UPDATE contacts SET verified_at = now()")  # the codes' round trip is not what we measure
    await conn.close()
    return mobiles


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--offers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--replies", type=int, default=60)
    parser.add_argument("--peers", type=int, default=40)
    args = parser.parse_args()
    facility = f"BN{uuid.uuid4().hex[:5].upper()}"
    sms = SmsProvider().start()
    infra = start_infra()
    try:
        async with fresh_database(infra.admin_dsn, prefix="pb_bench") as db:
            env = {"PEERBRIDGE_LOG_LEVEL": "WARNING", "NOTIFY_SMS_BASE_URL": sms.url,
                   "NOTIFY_SMS_ACCOUNT_SID": sms.account_sid, "NOTIFY_SMS_AUTH_TOKEN": sms.auth_token,
                   "NOTIFY_SMS_FROM": sms.sender, "NOTIFY_ONCALL": '{"*": "bench-lead"}'}
            stack = start_services(infra.kafka_bootstrap, db, Path("/tmp/peerbridge-bench-notify"), env,
                                   names=SERVICES)
            try:
                await run(stack, sms, db, facility, args)
            finally:
                stop_services(stack)
    finally:
        infra.stop()
        sms.stop()


async def run(stack, sms: SmsProvider, db: str, facility: str, args) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        mobiles = await roster(stack, client, db, facility, args.peers)
        ehr, numbers = stack.headers("ehr"), [f"V{i:06d}" for i in range(args.offers)]
        started, posts = time.perf_counter(), []
        for i, number in enumerate(numbers):  # RATE visits a second, on a schedule (not after each answer)
            await asyncio.sleep(max(0.0, started + i / args.rate - time.perf_counter()))
            visit = {"facility": facility, "visit_number": number, "arrived_at": datetime.now(timezone.utc)
                     .isoformat(), "diagnoses": ["T40.1X1A"], "language": "en"}
            posts.append(asyncio.ensure_future(client.post(f"{stack.urls['intake']}/visits", json=visit,
                                                           headers=ehr)))
        sent_for = time.perf_counter() - started
        statuses = {r.status_code for r in await asyncio.gather(*posts)}
        assert statuses == {202}, statuses
        offers = await wait_for_offers(stack, client, facility, numbers, mobiles, sms)
        lat = [sms_at - offered for offered, sms_at, _ in offers.values()]
        print(f"notify latency: {len(offers)} offers from {args.offers} visits sent in {sent_for:.1f} s "
              f"({args.offers / sent_for:.1f}/s), {args.peers} peers, 4 services on this machine")
        print(f"{'offer committed -> SMS provider request':<48}{cuts(lat)}")
        conn = await asyncpg.connect(db, server_settings={"search_path": "notify"})
        queued = {str(r["assignment_id"]): r["created_at"].timestamp() for r in await conn.fetch(
            "SELECT assignment_id, created_at FROM messages WHERE kind = 'offer' AND channel = 'sms'")}
        published = {r["a"]: r["published_at"].timestamp() for r in await conn.fetch(
            "SELECT envelope->'data'->>'assignment_id' AS a, published_at FROM pairing.outbox_events"
            " WHERE event_type LIKE '%PeerAssignmentOffered' AND published_at IS NOT NULL")}
        await conn.close()
        both = [(queued[a] - o, s - queued[a]) for a, (o, s, _) in offers.items() if a in queued]
        relayed = [(published[a] - o, queued[a] - published[a]) for a, (o, _, _) in offers.items()
                   if a in queued and a in published]
        print(f"{'  of which committed -> queued in notify':<48}{cuts([b[0] for b in both])}")
        print(f"{'    pairing relay (committed -> broker acked)':<48}{cuts([r[0] for r in relayed])}")
        print(f"{'    broker acked -> notify handler queued it':<48}{cuts([r[1] for r in relayed])}")
        print(f"{'  of which queued -> provider request':<48}{cuts([b[1] for b in both])}")
        print(f"  (load average while running: {open('/proc/loadavg').read().split()[0]} on "
              f"{len(os.sched_getaffinity(0))} cores)")

        supervisor, replied = stack.headers("supervisor"), []
        for assignment_id, (_, _, text) in list(offers.items())[: args.replies]:
            code = text.form["Body"].split("(code ")[1][:4]
            number = (await client.get(f"{stack.urls['pairing']}/assignments/{assignment_id}",
                                       headers=supervisor)).json()["visit_number"]
            began = time.perf_counter()
            r = sms.reply(stack.urls["notify"], text.form["To"], f"1 {code}")
            assert "accepted" in r.text, r.text
            identifier = f"urn:peerbridge:ed-visit|{facility}:{number}"
            while True:
                bundle = (await client.get(f"{stack.urls['referral']}/fhir/Task", params={"identifier": identifier},
                                           headers=supervisor)).json()
                if bundle.get("total") and bundle["entry"][0]["resource"]["status"] == "accepted":
                    break
                assert time.perf_counter() - began < 60, "Task not accepted within 60 s"
                await asyncio.sleep(0.02)
            replied.append(time.perf_counter() - began)
        print(f"{'reply received -> Task accepted':<48}{cuts(replied)}   ({len(replied)} replies, one at a time)")


async def wait_for_offers(stack, client, facility, numbers, mobiles, sms, timeout=120.0):
    """Each offer's commit time, the provider's receipt time and the text, by assignment id."""
    supervisor, deadline = stack.headers("supervisor"), time.monotonic() + timeout
    while True:
        rows = (await client.get(f"{stack.urls['pairing']}/assignments", params={"facility": facility},
                                 headers=supervisor)).json()
        texts = {}
        for t in sms.accepted():
            if "/peer/offers/" in t.form.get("Body", ""):
                texts[t.form["Body"].rsplit("/", 1)[1]] = t
        found = {r["id"]: (datetime.fromisoformat(r["offered_at"]).timestamp(), texts[r["id"]].wall, texts[r["id"]])
                 for r in rows if r["id"] in texts}
        if len(rows) >= len(numbers) and len(found) == len(rows):
            return found
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(found)} of {len(rows)} offers texted in {timeout} s")
        await asyncio.sleep(0.5)


if __name__ == "__main__":
    asyncio.run(main())
