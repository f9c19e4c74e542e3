"""A consumer batch's run of visits on real PostgreSQL: cases and first offers written set-wise, with the same
outcome per visit as one at a time (repeats, recusals, crisis, follow-up, caseload)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.contracts import PeerSupportIndicated
from services.pairing import store
from services.pairing.handlers import build
from services.runtime.envelope import new_event
from services.runtime.outbox import UnitOfWork
from tests.unit.pairing.builders import NOW, visit_data

pytestmark = pytest.mark.integration
PATIENT = {"system": "urn:mrn", "value": "P-1"}


async def apply_run(harness, events: list[PeerSupportIndicated]) -> None:
    """The run as the consumer hands it over: one transaction, a unit of work per event, the batch's shared state."""
    handle = build(harness.service)[PeerSupportIndicated]
    async with harness.pool.acquire() as conn, conn.transaction():
        pending, shared = [], {}
        run = [(event, UnitOfWork(conn, "pairing", clock=harness.clock, deferred=True, pending=pending, batch=shared,
                                  cause=new_event("intake", "PeerSupportIndicated", event.to_data())))
               for event in events]
        await handle.run(run)
        await UnitOfWork(conn, "pairing", pending=pending).flush()


async def test_a_run_of_visits_opens_each_case_once_and_offers_as_one_at_a_time(harness):
    peers = {name: await harness.add_peer(name, caseload_cap=2) for name in ("a", "b", "c")}
    async with harness.uow() as uow:
        await store.replace_recusals(uow.conn, peers["a"], [store.patient_hash(type("R", (), PATIENT))])
    before = await harness.open_visit()  # a case from an earlier batch
    v0 = before["visit_number"]
    visits = [PeerSupportIndicated(**visit_data(visit_number="V1", patient_ref=PATIENT)),
              PeerSupportIndicated(**visit_data(visit_number="V1", patient_ref=PATIENT)),  # redelivered in the run
              PeerSupportIndicated(**before),
              PeerSupportIndicated(**visit_data(visit_number="V2", crisis=True, crisis_rules=["self-harm-intent-2"])),
              PeerSupportIndicated(**visit_data(visit_number="V3", arrived_at=(NOW - timedelta(days=3)).isoformat())),
              *(PeerSupportIndicated(**visit_data(visit_number=f"V{n}")) for n in range(4, 8))]
    await apply_run(harness, visits)

    cases = {r["visit_number"]: r for r in await harness.pool.fetch("SELECT * FROM cases")}
    assert set(cases) == {v0, "V1", "V2", "V3", "V4", "V5", "V6", "V7"}
    offers = {r["visit_number"]: r for r in await harness.pool.fetch("SELECT * FROM assignments")}
    # One offer per visit that pages (not the follow-up V3); the earlier visit keeps its one, V1 is offered once.
    assert set(offers) == {v0, "V1", "V2", "V4", "V5", "V6"} and await harness.pool.fetchval(
        "SELECT count(*) FROM assignments") == 6
    assert str(offers["V1"]["specialist_id"]) != peers["a"]  # recused from this patient
    assert cases["V3"]["status"] == "follow-up" and await harness.pool.fetchval(
        "SELECT count(*) FROM touchpoints WHERE case_id = $1", cases["V3"]["id"]) > 0
    assert cases["V2"]["crisis"] is True
    # Caps of two each: six places; the seventh paging visit finds every peer full and escalates.
    assert cases["V7"]["status"] == "escalated"
    loads = await harness.pool.fetch("SELECT specialist_id, count(*) FROM assignments GROUP BY 1")
    assert sorted(n for _, n in loads) == [2, 2, 2]
    # Each offer has its timeout, and each peer's last page is the clock's.
    assert await harness.pool.fetchval("SELECT count(*) FROM deadlines WHERE kind = 'offer-timeout'") == 6
    paged = await harness.pool.fetch("SELECT last_paged_at FROM specialists")
    assert all(r["last_paged_at"] == NOW for r in paged)
    # Announced once each, in the run's order, the crisis offer marked as one.
    announced = [e["visit_number"] for e in await harness.events("PeerAssignmentOffered")]
    assert announced == [v0, "V1", "V2", "V4", "V5", "V6"]
    [crisis] = await harness.events("PeerAssignmentOffered", {"visit_number": "V2"})
    assert crisis["crisis"] is True
    [alert] = await harness.events("NoPeerAvailable", {"visit_number": "V7"})
    assert alert["reason"] == "no eligible peer on shift"


async def test_the_same_run_again_changes_nothing(harness):
    await harness.add_peer("a")
    visits = [PeerSupportIndicated(**visit_data(visit_number=f"W{n}")) for n in range(3)]
    await apply_run(harness, visits)
    first = (await harness.pool.fetch("SELECT id, specialist_id FROM assignments ORDER BY visit_number"),
             await harness.events("PeerAssignmentOffered"))
    await apply_run(harness, visits)  # the same visits, as new events (a replay from the EHR's side)
    assert await harness.pool.fetchval("SELECT count(*) FROM cases") == 3
    assert (await harness.pool.fetch("SELECT id, specialist_id FROM assignments ORDER BY visit_number"),
            await harness.events("PeerAssignmentOffered")) == first
    assert len(first[0]) == 3
