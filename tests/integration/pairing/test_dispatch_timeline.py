"""Dispatch on real PostgreSQL with an injected clock: offers, timeouts, declines, escalation, restarts."""
from __future__ import annotations

import asyncio

import pytest

from services.contracts import EdVisitDischarged
from services.pairing.deadlines import DeadlineWorker
from services.pairing.handlers import build
from services.runtime.db import create_pool

pytestmark = pytest.mark.integration


async def test_offer_times_out_then_declined_then_escalates_exactly_once_across_a_restart(harness):
    peers = [await harness.add_peer(n) for n in ("a", "b", "c", "d")]
    data = await harness.open_visit()
    [first] = await harness.assignments(data)
    assert first["status"] == "offered" and str(first["specialist_id"]) in peers
    assert first["explanation"]["eligible"] == 4 and len(first["explanation"]["runners_up"]) == 3

    harness.clock.advance(minutes=9)
    assert await harness.worker.process_due() == 0  # not due yet
    harness.clock.advance(minutes=1)
    assert await harness.worker.process_due() == 1
    first, second = await harness.assignments(data)
    assert (first["status"], second["status"], second["attempt"]) == ("expired", "offered", 2)
    assert second["specialist_id"] != first["specialist_id"]

    async with harness.uow() as uow:
        assert await harness.service.decline(uow, second, "with another patient")
    *_, third = await harness.assignments(data)
    assert third["attempt"] == 3 and third["status"] == "offered"

    harness.clock.advance(minutes=10)
    assert await harness.worker.process_due() == 1  # third offer expires: escalation steps (3) are used up
    # A restart: a new pool and worker see the same stored deadlines and find nothing left to do.
    pool = await create_pool(harness.database_url, harness.schema)
    try:
        restarted = DeadlineWorker(pool, harness.service, harness.clock)
        harness.clock.advance(hours=2)
        assert await restarted.process_due() == 0
    finally:
        await pool.close()
    assert [a["status"] for a in await harness.assignments(data)] == ["expired", "declined", "expired"]
    [alert] = await harness.events("NoPeerAvailable", data)
    assert alert["reason"] == "no acceptance after 3 offer(s)"
    assert len(await harness.events("PeerAssignmentOffered", data)) == 3
    assert len(await harness.events("PeerAssignmentExpired", data)) == 2


async def test_no_eligible_peer_escalates_immediately(harness):
    await harness.add_peer("only-english", languages=["en"])
    data = await harness.open_visit(language="pl")
    assert await harness.assignments(data) == []
    [alert] = await harness.events("NoPeerAvailable", data)
    assert alert["reason"] == "no eligible peer on shift"


async def test_two_workers_racing_for_one_deadline_apply_it_once(harness):
    await harness.add_peer("a")
    await harness.add_peer("b")
    data = await harness.open_visit()
    harness.clock.advance(minutes=11)
    pool = await create_pool(harness.database_url, harness.schema)
    try:
        other = DeadlineWorker(pool, harness.service, harness.clock)
        counts = await asyncio.gather(harness.worker.process_due(), other.process_due())
    finally:
        await pool.close()
    assert sum(counts) == 1
    assert [a["status"] for a in await harness.assignments(data)] == ["expired", "offered"]
    assert len(await harness.events("PeerAssignmentExpired", data)) == 1


async def test_a_deadline_that_fails_midway_leaves_no_trace_and_is_applied_later(harness):
    await harness.add_peer("a")
    data = await harness.open_visit()
    harness.clock.advance(minutes=11)
    real = harness.service.offer_next

    async def crash(*_args, **_kwargs):
        raise RuntimeError("process died")

    harness.service.offer_next = crash
    with pytest.raises(RuntimeError):
        await harness.worker.process_one()
    assert [a["status"] for a in await harness.assignments(data)] == ["offered"]
    assert await harness.events("PeerAssignmentExpired", data) == []
    harness.service.offer_next = real
    assert await harness.worker.process_due() == 1
    assert [a["status"] for a in await harness.assignments(data)] == ["expired"]
    assert len(await harness.events("NoPeerAvailable", data)) == 1


async def test_accept_in_time_stops_the_clock(harness):
    await harness.add_peer("a")
    data = await harness.open_visit()
    [offer] = await harness.assignments(data)
    harness.clock.advance(minutes=4)
    async with harness.uow() as uow:
        assert await harness.service.accept(uow, offer)
    harness.clock.advance(hours=1)
    assert await harness.worker.process_due() == 0
    [offer] = await harness.assignments(data)
    assert offer["status"] == "accepted"
    [accepted] = await harness.events("PeerAssignmentAccepted", data)
    assert accepted["specialist_npi"]


async def test_discharge_before_arrival_withdraws_the_offer_and_the_deadline_does_nothing(harness):
    await harness.add_peer("a")
    await harness.add_peer("b")
    data = await harness.open_visit()
    event = EdVisitDischarged(facility=data["facility"], visit_number=data["visit_number"],
                              discharged_at=harness.clock.now())
    async with harness.uow() as uow:
        await build(harness.service)[EdVisitDischarged](event, uow)
    harness.clock.advance(minutes=30)
    await harness.worker.process_due()
    assert [a["status"] for a in await harness.assignments(data)] == ["withdrawn"]
    [withdrawn] = await harness.events("PeerAssignmentWithdrawn", data)
    assert withdrawn["reason"] == "discharged-before-peer"
    [closed] = await harness.events("CaseClosed", data)
    assert closed["reason"] == "discharged-before-peer"
