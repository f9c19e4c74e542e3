"""A consumer batch's run of visit events on real PostgreSQL: the visits without claims kept with one statement, those
with claims re-priced event by event, and the outcome the same as one event at a time (repeats, duplicates)."""
from __future__ import annotations

import pytest

from services.billing import store
from services.billing.domain.facility import ServiceFacility
from services.billing.domain.rules import load_rule_book
from services.billing.handlers import build_handlers
from services.runtime.clock import FixedClock
from services.runtime.envelope import new_event
from tests.support.consumer_runs import Applier, schema_pool
from tests.unit.billing.builders import FACILITY, NOW, make_encounter, make_visit

from .conftest import MIGRATIONS

pytestmark = pytest.mark.integration


@pytest.fixture
async def appliers(database_url):
    """Two billing schemas, each behind the runtime's consumer: one to take batches, one events one at a time."""
    made = []
    for _ in range(2):
        pool = await schema_pool(database_url, "billing", MIGRATIONS)
        async with pool.acquire() as conn:
            await store.put_facility(conn, "NEWARK", ServiceFacility(**FACILITY))
        made.append(Applier(pool, "billing", build_handlers(load_rule_book()), FixedClock(NOW)))
    yield made
    for applier in made:
        await applier.pool.close()


def scenario():
    """Events before the batch (one at a time) and the batch: repeats of a visit, a claim whose visit arrives in the
    batch and changes in it, events already applied."""
    registered_v3 = new_event("intake", "EdVisitRegistered", make_visit(visit_number="V3"))
    before = [new_event("pairing", "PeerEncounterCompleted", make_encounter(visit_number="V2")),  # visit not yet here
              registered_v3, new_event("pairing", "PeerEncounterCompleted", make_encounter(visit_number="V3"))]
    indicated_v1 = new_event("intake", "PeerSupportIndicated", make_visit(visit_number="V1", location="ED-2"))
    batch = [new_event("intake", "EdVisitRegistered", make_visit(visit_number="V1")),
             indicated_v1,
             new_event("intake", "EdVisitRegistered", make_visit(visit_number="V2")),  # prices V2's waiting claim
             new_event("intake", "EdVisitRegistered", make_visit(visit_number="V4", age_years=40)),
             new_event("intake", "EdVisitUpdated", make_visit(visit_number="V2", diagnoses=["R51"])),  # now held
             indicated_v1,  # twice in the batch (a relay's republish)
             registered_v3,  # applied before the batch
             new_event("intake", "EdVisitUpdated", make_visit(visit_number="V3", age_years=35)),
             new_event("intake", "EdVisitUpdated", make_visit(visit_number="V4", age_years=41))]
    return before, batch


async def state(applier: Applier) -> tuple:
    visits = await applier.pool.fetch("SELECT facility, visit_number, data, cancelled FROM visits ORDER BY 1, 2")
    claims = await applier.pool.fetch("SELECT claim_number, facility, visit_number, status, units, charge,"
                                      " hold_reasons, document FROM claims ORDER BY claim_number")
    return ([dict(r) for r in visits], [dict(r) for r in claims], await applier.emitted(drop=("claim_id",)))


async def test_a_batch_of_visit_events_ends_as_one_at_a_time(appliers):
    batched, single = appliers
    before, batch = scenario()
    for applier in appliers:
        await applier.each(before)
    outcomes = await batched.batch(batch)
    assert await single.each(batch) == outcomes
    assert outcomes == ["applied"] * 5 + ["duplicate", "duplicate", "applied", "applied"]
    assert await state(batched) == await state(single)

    visits, claims, emitted = await state(batched)
    data = {r["visit_number"]: r["data"] for r in visits}
    assert data["V1"]["location"] == "ED-2"  # the visit's latest event wins
    assert data["V4"]["age_years"] == 41 and data["V3"]["age_years"] == 35
    # V2's claim was priced by the registration, then held by the update: both announced, in that order.
    v2 = [(name, e.get("reasons")) for name, e in emitted if e["visit_number"] == "V2"]
    assert v2 == [("ClaimPrepared", None), ("ClaimHeld", ["no-qualifying-diagnosis"])]
    assert {c["visit_number"]: c["status"] for c in claims} == {"V2": "held", "V3": "prepared"}


async def test_a_run_without_claims_keeps_each_visits_latest_facts(appliers):
    batched, single = appliers
    kinds = ("EdVisitRegistered", "PeerSupportIndicated", "EdVisitUpdated")
    events = [new_event("intake", kinds[n % 3], make_visit(visit_number=f"W{n % 7}", age_years=20 + n))
              for n in range(40)]
    assert await batched.batch(events) == ["applied"] * 40
    await single.each(events)
    assert await state(batched) == await state(single)
    visits, claims, emitted = await state(batched)
    assert [(r["visit_number"], r["data"]["age_years"]) for r in visits] == [
        (f"W{k}", 20 + max(n for n in range(40) if n % 7 == k)) for k in range(7)]
    assert claims == [] and emitted == []
