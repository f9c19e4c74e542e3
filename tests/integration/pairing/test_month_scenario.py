"""A month of a program, end to end in one process: ED visits over MLLP into intake, through Kafka to pairing, peers
accepting, missing and declining offers, a discharge before anyone came, a crisis handed to 988, a peer going on
leave and their cases re-matched, follow-up windows reached and missed, all on one injected clock; then every outcome
figure of GET /outcomes checked against the figure worked out by hand below."""
from __future__ import annotations

import asyncio
import socket
import uuid
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

import httpx
import pytest

from services.intake.app import create_app as intake_app
from services.intake.settings import IntakeSettings
from services.pairing.app import create_app as pairing_app
from services.pairing.settings import PairingSettings
from services.runtime.auth import issue_token
from services.runtime.clock import FixedClock
from tests.support.fixtures import wait_for
from tests.support.stack import free_port, fresh_database
from tests.unit.intake.messages import adt
from tests.unit.pairing.builders import NOW, peer

pytestmark = pytest.mark.integration
SECRET = "pairing-month-scenario-secret-0123456789"
T0 = NOW.replace(hour=9, minute=0)


def day(d: float, minutes: float = 0):
    return T0 + timedelta(days=d, minutes=minutes)


class Program:
    """Intake and pairing on one clock, with a peer's and a supervisor's view of pairing's API."""

    def __init__(self, clock, pairing, client, mllp_port, facility):
        self.clock, self.pairing, self.client = clock, pairing, client
        self.mllp_port, self.facility = mllp_port, facility

    @property
    def pool(self):
        return self.pairing.state.runtime.pool

    def headers(self, role: str, specialist_id: str | None = None) -> dict:
        token = issue_token(SECRET, role=role, issuer="peerbridge-local", audience="peerbridge",
                            specialist_id=specialist_id)
        return {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, role: str = "supervisor", specialist_id=None, **kw) -> dict:
        r = await self.client.request(method, path, headers=self.headers(role, specialist_id), **kw)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json()

    async def add_peer(self, name: str) -> str:
        record = peer(name, self.facility)
        created = await self.call("POST", "/specialists", json=record, role="admin")
        await self.call("PUT", f"/specialists/{created['id']}/shifts", role="admin", json=[{
            "facility": self.facility, "starts_at": day(-1).isoformat(), "ends_at": day(40).isoformat()}])
        return created["id"]

    async def at(self, when) -> None:
        """Move the clock to `when` and let pairing's deadline loop apply everything due by then."""
        self.clock._now = when

        async def settled():
            return not await self.pool.fetchval("SELECT count(*) FROM deadlines WHERE done_at IS NULL"
                                                " AND due_at <= $1", when)
        await wait_for(settled, timeout=60, interval=0.05)

    async def mllp(self, trigger: str, visit_number: str) -> None:
        frame = adt(trigger, facility=self.facility, visit_number=visit_number,
                    arrived=self.clock.now() - timedelta(minutes=30), diagnoses=("T40.1X1A",))
        loop = asyncio.get_running_loop()
        ack = await loop.run_in_executor(None, mllp_exchange, self.mllp_port, frame)
        assert b"MSA|AA|" in ack, ack

    async def visit(self, visit_number: str) -> dict:
        """An overdose registered over MLLP; the case pairing opened for it, once it has offered it."""
        await self.mllp("A04", visit_number)

        async def offered():
            return await self.pool.fetchrow("SELECT c.id::text AS case_id, a.id::text AS id, a.specialist_id::text AS"
                                            " specialist_id FROM cases c JOIN assignments a ON a.case_id = c.id"
                                            " WHERE c.visit_number = $1 AND a.status = 'offered'", visit_number)
        return dict(await wait_for(offered, timeout=90, interval=0.05))

    async def next_offer(self, case_id: str, after: dict) -> dict:
        row = await self.pool.fetchrow("SELECT id::text AS id, specialist_id::text AS specialist_id FROM assignments"
                                       " WHERE case_id = $1 AND status = 'offered'", case_id)
        assert row is not None and row["id"] != after["id"]
        return {**dict(row), "case_id": case_id}

    async def act(self, offer: dict, verb: str, **body) -> dict:
        return await self.call("POST", f"/assignments/{offer['id']}/{verb}", role="peer",
                               specialist_id=offer["specialist_id"], json=body or None)

    async def consent(self, offer: dict, granted: bool, accepts_support: bool) -> None:
        await self.act(offer, "consent", granted=granted, scope="treatment-team", accepts_support=accepts_support,
                       contact_ok=False)

    async def holder(self, case_id: str) -> str:
        return await self.pool.fetchval("SELECT specialist_id::text FROM cases WHERE id = $1", case_id)

    async def contact(self, offer: dict, when, outcome: str, **coded) -> None:
        """The call, recorded by the peer who holds the case then."""
        await self.at(when)
        await self.call("POST", f"/cases/{offer['case_id']}/contacts", role="peer",
                        specialist_id=await self.holder(offer["case_id"]),
                        json={"at": when.isoformat(), "outcome": outcome, **coded})


def mllp_exchange(port: int, frame: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"\x0b" + frame + b"\x1c\x0d")
        data = b""
        while not data.endswith(b"\x1c\x0d"):
            chunk = sock.recv(65536)
            assert chunk, "connection closed without an ACK"
            data += chunk
    return data


@asynccontextmanager
async def program(infra):
    clock = FixedClock(day(0))
    async with fresh_database(infra.admin_dsn, "pb_month") as url:
        common = {"database_url": url, "kafka_bootstrap_servers": infra.kafka_bootstrap, "jwt_secret": SECRET,
                  "topic_prefix": f"month{uuid.uuid4().hex[:8]}.", "relay_poll_seconds": 0.1}
        port = free_port()
        intake = intake_app(IntakeSettings(**common, mllp_port=port, mllp_host="127.0.0.1"))
        intake.state.runtime.clock = clock
        pairing = pairing_app(PairingSettings(**common, deadline_poll_seconds=0.05), clock=clock)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(intake.router.lifespan_context(intake))
            await stack.enter_async_context(pairing.router.lifespan_context(pairing))
            await wait_for(lambda: _assigned(pairing), timeout=90, interval=0.2)
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=pairing), base_url="http://pairing"))
            yield Program(clock, pairing, client, port, f"M{uuid.uuid4().hex[:6].upper()}")


async def _assigned(app) -> bool:
    consumer = app.state.runtime.consumer
    return consumer is not None and consumer.assigned.is_set()


BARC = [4, 4, 5, 3, 4, 5, 4, 3, 4, 4]


async def test_a_month_of_the_program_gives_the_figures_worked_out_by_hand(infra):
    async with program(infra) as p:
        peers = [await p.add_peer("ana"), await p.add_peer("ben")]

        # V1, day 0: accepted at 3 min, at the bedside at 25, consents and enrols.
        v1 = await p.visit("V1")
        await p.at(day(0, 3))
        await p.act(v1, "accept")
        await p.at(day(0, 25))
        await p.act(v1, "arrive")
        await p.consent(v1, granted=True, accepts_support=True)

        # V2, day 2: the first peer lets the offer expire; the second accepts at 12 min, arrives at 70 (late),
        # refuses consent and support: the case closes.
        await p.at(day(2))
        v2_first = await p.visit("V2")
        await p.at(day(2, 10))
        v2 = await p.next_offer(v2_first["case_id"], v2_first)
        await p.at(day(2, 12))
        await p.act(v2, "accept")
        await p.at(day(2, 70))
        await p.act(v2, "arrive")
        await p.consent(v2, granted=False, accepts_support=False)

        # V1's 72-hour window (48-96 h): reached at 60 h, with a BARC-10 (total 40).
        await p.contact(v1, day(2, 12 * 60), "reached", barc10=BARC)

        # V3, day 5: the first offer expires at 10 minutes, the second is open when the patient is discharged (A03)
        # at 20 minutes, before anyone accepted.
        await p.at(day(5))
        v3 = await p.visit("V3")
        await p.at(day(5, 20))
        await p.mllp("A03", "V3")
        await wait_for(lambda: p.pool.fetchval("SELECT status = 'closed' FROM cases WHERE id = $1", v3["case_id"]),
                       timeout=60, interval=0.05)

        # V1's 7-day window (5-9 days): only an unanswered call, so it is missed at day 9.
        await p.contact(v1, day(6), "no-answer")

        # V4, day 9: accepted at 1 minute, at the bedside at 40, enrols; at the 72-hour call declines further
        # contact, which ends follow-up.
        await p.at(day(9))
        v4 = await p.visit("V4")
        await p.at(day(9, 1))
        await p.act(v4, "accept")
        await p.at(day(9, 40))
        await p.act(v4, "arrive")
        await p.consent(v4, granted=True, accepts_support=True)
        await p.contact(v4, day(12), "reached", learned=["declined-further-contact"])

        # V5, day 14: accepted at 5 minutes, at the bedside at 30; the peer raises a crisis from the case, handed off
        # to 988 (no consent recorded: not enrolled).
        await p.at(day(14))
        v5 = await p.visit("V5")
        await p.at(day(14, 5))
        await p.act(v5, "accept")
        await p.at(day(14, 30))
        await p.act(v5, "arrive")
        handoff = await p.call("POST", f"/cases/{v5['case_id']}/crisis", role="peer", specialist_id=v5["specialist_id"],
                               json={})
        await p.at(day(14, 45))
        await p.call("POST", f"/crisis-handoffs/{handoff['id']}/outcome", json={"outcome": "handed-off"})

        # V6, day 20: both peers decline; nobody is left and the supervisor is alerted.
        await p.at(day(20))
        v6 = await p.visit("V6")
        await p.act(v6, "decline", reason="busy")
        await p.act(await p.next_offer(v6["case_id"], v6), "decline", reason="caseload")

        # Day 21: V1's peer goes on confidential leave; the supervisor applies the batch re-match of their open
        # cases (V1, and V5 if they hold it) to the other peer.
        await p.at(day(21))
        leaving = await p.holder(v1["case_id"])
        staying = next(s for s in peers if s != leaving)
        await p.call("POST", f"/specialists/{leaving}/leave", json={"reason": "personal"})
        applied = await p.call("POST", f"/specialists/{leaving}/leave/rematch", json={})
        moved = applied["rematched"]
        assert moved == 1 + (v5["specialist_id"] == leaving) and applied["unassigned"] == 0
        assert await p.holder(v1["case_id"]) == staying

        # V1 later: reached in the 30-day window (day 29: entered outpatient treatment, started MOUD), the 60-day
        # window passes without a call, reached again in the 90-day window.
        await p.contact(v1, day(29), "reached", learned=["entered-treatment", "moud-started"],
                        treatment_type="outpatient", barc10=[5] * 10)
        await p.contact(v1, day(88), "reached")
        await p.at(day(120))

        body = await p.call("GET", "/outcomes", params={"facility": p.facility, "from": day(0, -60).isoformat(),
                                                        "to": day(31).isoformat(), "group_by": "peer"})
        got = {m["id"]: (m["numerator"], m["denominator"], m["value"]) for m in body["measures"]}
        # By hand: six indicated visits (V1 to V6), each offered at once.
        assert got["indicated"] == (6, None, 6)
        assert got["offered"] == (6, 6, 100.0)
        assert got["accepted"] == (4, 6, 66.7)                     # V1, V2, V4, V5
        assert got["seen-at-bedside"] == (4, 6, 66.7)              # V1, V2, V4, V5
        assert got["seen-within-target"] == (3, 6, 50.0)           # V1 (25 min), V4 (40), V5 (30); V2 came at 70
        assert got["seen-within-target-in-ed"] == (3, 5, 60.0)     # V3 left at 20 min, before the 60-minute target
        assert got["time-to-offer-median"][1:] == (6, 0.0) and got["time-to-offer-p90"][1:] == (6, 0.0)
        assert got["time-to-accept-median"][1:] == (4, 4.0)        # 1, 3, 5, 12 minutes
        assert got["time-to-accept-p90"][1:] == (4, 12.0)
        assert got["time-to-bedside-median"][1:] == (4, 35.0)      # 25, 30, 40, 70 minutes
        assert got["time-to-bedside-p90"][1:] == (4, 70.0)
        assert got["consent-rate"] == (2, 4, 50.0)                 # V1, V4 granted; V2 refused; V5 none recorded
        assert got["enrolled"] == (2, 6, 33.3)                     # V1, V4
        assert got["engaged-30d"] == (1, 2, 50.0)                  # V1 reached day 29; V4's window cancelled
        assert got["engaged-60d"] == (0, 2, 0.0)                   # V1's 60-day window missed
        assert got["engaged-90d"] == (1, 2, 50.0)                  # V1 reached day 88
        assert got["retention-90d"] == (1, 2, 50.0)                # V1 still in follow-up; V4 ended on day 12
        assert got["entered-treatment-30d"] == (1, 2, 50.0)
        assert got["moud-30d"] == (1, 2, 50.0)
        assert got["crisis-handoffs"] == (1, None, 1)              # V5
        by_peer = {g["key"]["specialist_id"]: {m["id"]: m for m in g["measures"]} for g in body["groups"]}
        assert set(by_peer) == set(peers)
        # V1 1, V2 2, V3 2 (its first offer expired at 10 minutes, before the discharge), V4 1, V5 1, V6 2; the
        # re-match's hand-overs are no offers
        assert sum(g["peer-offers"]["value"] for g in by_peer.values()) == 9
        assert sum(g["peer-accepted"]["numerator"] for g in by_peer.values()) == 4
        # Each case its peer took, and each case handed over counts for its new peer too.
        assert sum(g["peer-cases"]["value"] for g in by_peer.values()) == 4 + moved
        # V1 and V5 are still open, both with the peer who stayed; the one on leave holds none.
        assert (by_peer[staying]["peer-caseload"]["value"], by_peer[leaving]["peer-caseload"]["value"]) == (2, 0)

        # The follow-up plan as the case view shows it, and the reminders V1's peer was sent.
        case = await p.call("GET", f"/cases/{v1['case_id']}")
        assert [t["outcome"] for t in case["plan"]] == ["reached", "missed", "reached", "missed", "reached"]
        assert [c["barc10_total"] for c in case["contacts"]] == [40, None, 50, None]
        reminders = await p.pool.fetch("SELECT envelope->>'type' AS type, envelope->'data' AS data FROM outbox_events"
                                       " WHERE envelope->'data'->>'case_id' = $1 AND envelope->>'type' LIKE"
                                       " '%FollowUp%' ORDER BY seq", v1["case_id"])
        kinds = sorted(r["type"].rsplit(".", 1)[1] for r in reminders)
        assert kinds == ["FollowUpWindowClosing"] * 2 + ["FollowUpWindowOpened"] * 5
        # Windows opening after the leave (30, 60, 90 days) remind the peer who took the case over.
        opened = [r["data"] for r in reminders if r["type"].endswith("FollowUpWindowOpened")]
        assert [d["specialist_id"] for d in opened] == [leaving, leaving] + [staying] * 3
