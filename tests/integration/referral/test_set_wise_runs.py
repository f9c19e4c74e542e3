"""Runs of events applied set-wise on real PostgreSQL, as a consumer batch hands them over: the referrals, resource
versions, pushes, subscription deliveries and emitted events come out as one event at a time would make them
(repeats, a visit created before, pairing events parked before their referral, a visit twice in a run)."""
from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pydantic
import pytest

from services.contracts import (EdVisitDischarged, PeerAssignmentAccepted, PeerAssignmentDeclined,
                                PeerAssignmentOffered, PeerSupportIndicated, ConsentRecorded)
from services.referral import store
from services.referral.handlers import HANDLERS
from services.runtime.clock import FixedClock
from services.runtime.db import create_pool, migrate
from services.runtime.envelope import new_event
from services.runtime.outbox import UnitOfWork
from tests.support.when import minutes_ago

pytestmark = pytest.mark.integration
MIGRATIONS = Path(store.__file__).with_name("migrations")
T0 = minutes_ago(60).replace(microsecond=0)
F = "F1"
PEER = str(uuid.UUID(int=7))
HIE = {"system": "urn:test:hie", "value": "GSHIE", "name": "Garden State HIE"}
# Who listens: every Task, active ServiceRequests, the facility's own system (under consent), a named HIE.
SUBSCRIPTIONS = [("all-tasks", None, None, "Task", None), ("active-requests", None, ["active"], "ServiceRequest", None),
                 ("ehr", [F], None, "Task", None), ("hie", [F], None, "Task", "urn:test:hie|GSHIE")]


def visit(number: str) -> PeerSupportIndicated:
    return PeerSupportIndicated(facility=F, visit_number=number, arrived_at=T0, peer_indicated=True,
                                diagnoses=["T401X1A"], patient_ref={"system": "urn:test:mrn", "value": f"M-{number}"},
                                indications=[{"kind": "diagnosis", "code": "T401X1A", "reason": "opioid poisoning"}])


def offered(number: str, attempt: int = 1) -> PeerAssignmentOffered:
    return PeerAssignmentOffered(facility=F, visit_number=number, assignment_id=str(uuid.UUID(int=attempt)),
                                 specialist_id=PEER, offered_at=T0, expires_at=T0 + timedelta(minutes=10),
                                 attempt=attempt)


def accepted(number: str) -> PeerAssignmentAccepted:
    return PeerAssignmentAccepted(facility=F, visit_number=number, assignment_id=str(uuid.UUID(int=1)),
                                  specialist_id=PEER, accepted_at=T0 + timedelta(minutes=2))


def declined(number: str) -> PeerAssignmentDeclined:
    return PeerAssignmentDeclined(facility=F, visit_number=number, assignment_id=str(uuid.UUID(int=1)),
                                  specialist_id=PEER, declined_at=T0 + timedelta(minutes=2))


def consent(number: str) -> ConsentRecorded:
    return ConsentRecorded(facility=F, visit_number=number, granted=True, recorded_at=T0 + timedelta(minutes=30),
                           recipients=[{"system": "urn:peerbridge:facility", "value": F, "name": "Mercy ED"}, HIE])


# Consumer batches in order; within each, consecutive events of one handler are a run.
BATCHES = [
    [visit("A")],  # created before the run that repeats it
    [offered("B"), accepted("B"), consent("B"),  # overtook B's referral: parked
     EdVisitDischarged(facility=F, visit_number="X", discharged_at=T0)],  # no referral, never will: ignored
    [visit("B"), visit("C"), visit("B"), visit("A"), visit("D"), visit("E")],
    [offered("C"), offered("D"), accepted("C"), offered("Z"), declined("D"), offered("C")],
    [visit("Z")],
]


class Referral:
    """A migrated referral schema of its own, with a fixed clock and the four subscriptions."""

    def __init__(self, pool):
        self.pool, self.clock = pool, FixedClock(T0 + timedelta(hours=1))

    def uow(self, conn, event, **kwargs) -> UnitOfWork:
        cause = new_event("test", type(event).__name__, event.to_data(), now=self.clock.now())
        return UnitOfWork(conn, "referral", clock=self.clock, cause=cause, **kwargs)

    async def one_at_a_time(self, events) -> None:
        """Each event in a transaction of its own, through the handler (a run of one)."""
        for event in events:
            async with self.pool.acquire() as conn, conn.transaction():
                await HANDLERS[type(event)](event, self.uow(conn, event))

    async def batch(self, events) -> list[int]:
        """The events in one transaction, runs of consecutive events of a handler applied together, as the consumer
        does; the runs' sizes."""
        sizes = []
        async with self.pool.acquire() as conn, conn.transaction():
            pending, shared, run, handler = [], {}, [], None
            for event in events + [None]:
                following = HANDLERS[type(event)] if event is not None else None
                if run and following is not handler:
                    await handler.run(run)
                    sizes.append(len(run))
                    run = []
                if event is not None:
                    handler = following
                    run.append((event, self.uow(conn, event, deferred=True, pending=pending, batch=shared)))
            await UnitOfWork(conn, "referral", pending=pending).flush()
        return sizes

    async def outcome(self) -> dict:
        """Everything the runs wrote, with the referrals' random ids named by their visits."""
        q = self.pool.fetch
        names = {str(r["id"]): r["visit_number"] for r in await q("SELECT id, visit_number FROM referrals")}
        subs = {str(r["id"]): r["owner"] for r in await q("SELECT id, owner FROM subscriptions")}

        def named(value) -> object:
            text = json.dumps(value, sort_keys=True, default=str)
            for rid, number in {**names, **subs}.items():
                text = text.replace(rid, number)
            return json.loads(text)

        found = named({
            "referrals": [dict(r) for r in await q(
                "SELECT visit_number, status, business_status, owner_specialist_id, consent, authored_on"
                " FROM referrals ORDER BY visit_number")],
            "history": [dict(r) for r in await q(
                "SELECT resource_type, id, version_id, last_updated, body FROM fhir_history")],
            "current": [dict(r) for r in await q(
                "SELECT resource_type, id, version_id, identifier, patient, status, focus, owner, body"
                " FROM fhir_resources")],
            "pushes": [r[0] for r in await q("SELECT referral_id FROM push_queue ORDER BY seq")],
            "parked": await self.pool.fetchval("SELECT count(*) FROM parked_events"),
            "deliveries": [dict(r) for r in await q(
                "SELECT subscription_id, event_number, referral_id, resource_type, task_version"
                " FROM subscription_deliveries ORDER BY seq")],
            "events_since_start": {str(r[0]): r[1] for r in await q(
                "SELECT id, events_since_start FROM subscriptions")},
            "emitted": [(r[0]["type"], r[0]["data"]) for r in await q(
                "SELECT envelope FROM outbox_events ORDER BY seq")],
        })
        for table in ("history", "current"):  # by visit, now that the ids are named
            found[table].sort(key=lambda r: (r["id"], r["resource_type"], r["version_id"]))
        # Per subscription in its own numbering (one change's subscribers are queued in the order of their ids).
        found["deliveries"].sort(key=lambda d: (d["subscription_id"], d["event_number"]))
        return found


@pytest.fixture
async def schema(database_url):
    """A referral schema of its own, its subscriptions in place."""
    pools = []

    async def make() -> Referral:
        name = f"referral_{uuid.uuid4().hex[:10]}"
        await migrate(database_url, name, MIGRATIONS)
        pool = await create_pool(database_url, name)
        pools.append(pool)
        for owner, facilities, statuses, rtype, recipient in SUBSCRIPTIONS:
            await pool.execute(
                "INSERT INTO subscriptions (id, owner, facilities, statuses, endpoint, full_resource, status,"
                " created_at, body, resource_type, criteria, recipient) VALUES ($1, $2, $3, $4, 'https://hook.test/',"
                " true, 'active', $5, '{}', $6, $6, $7)", uuid.uuid4(), owner, facilities, statuses, T0, rtype,
                recipient)
        return Referral(pool)

    yield make
    for pool in pools:
        await pool.close()


async def test_runs_of_events_come_out_as_one_at_a_time(schema):
    one, runs = await schema(), await schema()
    for events in BATCHES:
        await one.one_at_a_time(events)
    sizes = [await runs.batch(events) for events in BATCHES]
    assert sizes == [[1], [4], [6], [6], [1]]  # one call per run (the discharge is a pairing-or-intake event too)
    expected, got = await one.outcome(), await runs.outcome()
    assert got == expected

    # And what that is: each visit's referral once, B's parked events applied in order with its creation.
    assert [r["visit_number"] for r in got["referrals"]] == ["A", "B", "C", "D", "E", "Z"] and got["parked"] == 0
    tasks = {}
    for row in got["history"]:
        if row["resource_type"] == "Task":
            tasks.setdefault(row["id"], []).append(row["body"]["businessStatus"]["coding"][0]["code"])
    assert tasks == {"A": ["awaiting-offer"], "B": ["awaiting-offer", "offered", "accepted"],
                     "C": ["awaiting-offer", "offered", "accepted"],
                     "D": ["awaiting-offer", "offered", "awaiting-offer"], "E": ["awaiting-offer"],
                     "Z": ["awaiting-offer", "offered"]}
    assert [(r["resource_type"], r["version_id"]) for r in got["history"] if r["id"] == "B"] == [
        ("Consent", 1), ("ServiceRequest", 1), ("ServiceRequest", 2), ("Task", 1), ("Task", 2), ("Task", 3)]
    assert [r["body"]["meta"]["versionId"] for r in got["current"] if r["id"] == "B"] == ["1", "2", "3"]
    # A push per change: each creation, B's three parked changes, C's two, D's two, Z's one.
    assert got["pushes"] == ["A", "B", "B", "B", "B", "C", "D", "E", "C", "D", "C", "D", "Z", "Z"]
    created = [data["visit_number"] for kind, data in got["emitted"] if kind.endswith("ReferralCreated")]
    assert created == ["A", "B", "C", "D", "E", "Z"]
    changed = [(data["visit_number"], data["business_status"]) for kind, data in got["emitted"]
               if kind.endswith("ReferralStatusChanged")]
    assert changed == [("B", "offered"), ("B", "accepted"), ("C", "offered"), ("D", "offered"), ("C", "accepted"),
                       ("D", "awaiting-offer"), ("Z", "offered")]
    # The facility's system and the named HIE hear of B's Task once the consent lets them (it did not change then).
    heard = {(d["subscription_id"], d["referral_id"], d["task_version"]) for d in got["deliveries"]
             if d["subscription_id"] in ("ehr", "hie")}
    assert heard == {("ehr", "B", 3), ("hie", "B", 3)}
    every = [(d["referral_id"], d["task_version"]) for d in got["deliveries"] if d["subscription_id"] == "all-tasks"]
    assert [d["event_number"] for d in got["deliveries"] if d["subscription_id"] == "all-tasks"] == list(
        range(1, len(every) + 1)) and got["events_since_start"]["all-tasks"] == len(every)
    # Numbered in the order of the changes, every Task version once.
    assert every == [("A", 1), ("B", 1), ("B", 2), ("B", 3), ("C", 1), ("D", 1), ("E", 1), ("C", 2), ("D", 2),
                     ("C", 3), ("D", 3), ("Z", 1), ("Z", 2)]


async def test_visits_again_change_nothing(schema):
    runs = await schema()
    for events in BATCHES:
        await runs.batch(events)
    first = await runs.outcome()
    again = [event for events in BATCHES for event in events if isinstance(event, PeerSupportIndicated)]
    assert await runs.batch(again) == [len(again)]  # the visits again, as new events (a replay from the EHR's side)
    assert await runs.outcome() == first


async def test_visits_created_while_their_offers_are_being_parked_get_them(schema):
    db = await schema()
    async with db.pool.acquire() as conn:
        parking = conn.transaction()
        await parking.start()
        # Pairing's offers overtook the visits: parked in a transaction that has not committed yet.
        await HANDLERS[PeerAssignmentOffered].run([(e, db.uow(conn, e)) for e in (offered("P"), offered("Q"))])
        creating = asyncio.create_task(db.batch([visit("Q"), visit("P")]))
        await asyncio.sleep(1.0)
        assert not creating.done()  # the run waits for its visits' locks
        await parking.commit()
    assert await asyncio.wait_for(creating, 30) == [2]
    got = await db.outcome()
    assert got["parked"] == 0
    assert {r["id"]: r["body"]["businessStatus"]["coding"][0]["code"] for r in got["current"]
            if r["resource_type"] == "Task"} == {"P": "offered", "Q": "offered"}


async def test_a_visit_whose_resources_are_not_valid_fhir_stores_nothing(schema):
    db = await schema()
    bad = PeerSupportIndicated(**{**visit("BAD").to_data(), "patient_ref": {"system": "urn:test:mrn", "value": ""}})
    with pytest.raises(pydantic.ValidationError, match="subject.identifier.value"):
        await db.batch([visit("G"), bad])  # the R4B model refuses the ServiceRequest: the run's transaction fails
    assert (await db.outcome())["referrals"] == []
    assert await db.batch([visit("G")]) == [1]  # alone (as the consumer retries a failed batch), the good one is kept
    assert [r["visit_number"] for r in (await db.outcome())["referrals"]] == ["G"]
