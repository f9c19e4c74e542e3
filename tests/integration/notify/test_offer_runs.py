"""A consumer batch's run of offers (and of indicated visits) on real PostgreSQL, written set-wise: each offer told
once, reply codes unlike the peer's other open offers, and the outcome the same as one event at a time."""
from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import services.notify
from services.notify import store
from services.notify.domain.templates import reply_code
from services.notify.handlers import build
from services.notify.service import NotifyService
from services.notify.settings import NotifySettings
from services.runtime.clock import FixedClock
from services.runtime.envelope import new_event
from tests.support.consumer_runs import Applier, schema_pool

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)  # an arbitrary instant: the clock is fixed at it
MIGRATIONS = Path(services.notify.__file__).with_name("migrations")
SMS, EMAIL = "+15550001111", "peer-c@example.org"
A, B, C = (str(uuid.UUID(int=n)) for n in (1, 2, 3))


def colliding_offers() -> tuple[str, str, str]:
    """Three offer ids for one peer: the second's first-choice code is the first's (so it takes another), and the
    third's first choice is the code the second took: only a run that counts its own codes keeps them apart."""
    ids = (str(uuid.UUID(int=n)) for n in itertools.count(1))
    found: dict[str, str] = {}
    for second in ids:
        first = found.setdefault(reply_code(second), second)
        if first != second:
            break
    taken = reply_code(second, {reply_code(first)})
    third = next(i for i in ids if reply_code(i) == taken)
    return first, second, third


@pytest.fixture
async def appliers(database_url):
    """Two notify schemas behind the runtime's consumer (one for batches, one for events one at a time), with peer
    A reachable by SMS, B by nothing verified and C by email."""
    made = []
    for _ in range(2):
        pool = await schema_pool(database_url, "notify", MIGRATIONS)
        async with pool.acquire() as conn:
            await store.replace_contacts(conn, "specialist", A, [{"channel": "sms", "address": SMS}], NOW, {"sms"})
            await store.replace_contacts(conn, "specialist", B, [{"channel": "sms", "address": "+15550002222"}],
                                         NOW, set())
            await store.replace_contacts(conn, "specialist", C, [{"channel": "email", "address": EMAIL}], NOW,
                                         {"email"})
        made.append(Applier(pool, "notify", build(NotifyService(NotifySettings())), FixedClock(NOW)))
    yield made
    for applier in made:
        await applier.pool.close()


def offer(visit_number: str, specialist: str, assignment_id: str | None = None, **extra):
    return new_event("pairing", "PeerAssignmentOffered", {
        "assignment_id": assignment_id or str(uuid.uuid4()), "facility": "MERCY", "visit_number": visit_number,
        "specialist_id": specialist, "offered_at": NOW.isoformat(),
        "expires_at": (NOW + timedelta(minutes=10)).isoformat(), "attempt": 1, **extra})


def indicated(visit_number: str, location: str, bed: str):
    return new_event("intake", "PeerSupportIndicated", {
        "facility": "MERCY", "visit_number": visit_number, "arrived_at": NOW.isoformat(), "location": location,
        "bed": bed, "diagnoses": ["T401X1A"], "peer_indicated": True, "indications": [],
        "patient_ref": {"system": "urn:mrn", "value": "M-1"}})


async def state(applier: Applier) -> tuple:
    places = await applier.pool.fetch("SELECT * FROM visit_places ORDER BY 1, 2")
    offers = await applier.pool.fetch("SELECT assignment_id, specialist_id, visit_number, reply_code, status"
                                      " FROM offers ORDER BY assignment_id")
    messages = await applier.pool.fetch(
        "SELECT cause, kind, recipient_kind, recipient_id, channel, address, facility, visit_number, assignment_id,"
        " context, status FROM messages ORDER BY cause, recipient_id, channel")
    return ([dict(r) for r in places], [dict(r) for r in offers], [dict(r) for r in messages],
            await applier.emitted(drop=("message_id",)))


async def test_a_batch_of_offers_tells_each_peer_once_as_one_at_a_time(appliers):
    batched, single = appliers
    first, second, third = colliding_offers()
    earlier = offer("V0", A, first)  # A's open offer from an earlier batch: its code is taken
    o1 = offer("V1", A, second)
    again = o1.data["assignment_id"]
    batch = [o1,
             offer("V2", A, third),  # A again in the run: a code unlike both
             offer("V1", A, assignment_id=again),  # the same offer under another event id: told once
             offer("V0", A, assignment_id=earlier.data["assignment_id"]),  # recorded before the batch
             offer("V3", B),  # no verified contact: recorded, nobody texted
             offer("V4", C, crisis=True),
             o1,  # the same event twice in the batch
             earlier]  # and one applied before it
    for applier in appliers:
        await applier.each([indicated("V0", "ED-EAST", "12"), earlier])
    places = [indicated("V1", "ED-WEST", "3"), indicated("V2", "ED-EAST", "7"), indicated("V1", "ED-WEST", "4")]
    outcomes = await batched.batch(places) + await batched.batch(batch)
    assert await single.each(places) + await single.each(batch) == outcomes
    assert outcomes == ["applied"] * 9 + ["duplicate"] * 2
    assert await state(batched) == await state(single)

    places, offers, messages, emitted = await state(batched)
    assert {r["visit_number"]: r["bed"] for r in places} == {"V0": "12", "V1": "4", "V2": "7"}  # the latest place
    assert len(offers) == 5
    codes = [r["reply_code"] for r in offers if r["specialist_id"] == A]
    assert len(codes) == 3 == len(set(codes))
    told = {(m["visit_number"], m["recipient_id"], m["channel"]) for m in messages}
    assert told == {("V0", A, "sms"), ("V1", A, "sms"), ("V2", A, "sms"), ("V4", C, "email")} and len(messages) == 4
    [crisis] = [m for m in messages if m["visit_number"] == "V4"]
    assert crisis["context"]["crisis"] is True and crisis["address"] == EMAIL
    assert [(name, e["visit_number"], e["status"]) for name, e in emitted] == [
        ("MessageStatusChanged", v, "queued") for v in ("V0", "V1", "V2", "V4")]
