"""Billing on real PostgreSQL: one claim per encounter, late visit data, caps across visits, 837P batches."""
from __future__ import annotations

import pytest

from services.billing import service, store
from services.billing.app import create_app
from services.billing.validate837 import validate_837
from tests.unit.billing.builders import make_encounter, make_visit

pytestmark = pytest.mark.integration


def context():
    return create_app().state.billing


async def test_a_redelivered_encounter_never_makes_a_second_claim(billing):
    await billing.deliver("PeerSupportIndicated", make_visit())
    encounter = make_encounter()
    first = await billing.deliver("PeerEncounterCompleted", encounter)
    again = await billing.deliver("PeerEncounterCompleted", encounter)
    [claim] = await billing.claims()
    assert (claim["status"], claim["payer"], claim["plan_id"], claim["units"]) == ("prepared", "NJ-MEDICAID", "NJMCD", 3)
    assert [e.name for e in first] == ["ClaimPrepared"] and again == []
    assert first[0].data["units"] == 3 and first[0].data["charge"] == "60.00"


async def test_an_encounter_before_its_visit_waits_and_is_priced_when_the_visit_arrives(billing):
    assert await billing.deliver("PeerEncounterCompleted", make_encounter()) == []
    [claim] = await billing.claims()
    assert claim["status"] == "awaiting-visit"
    emitted = await billing.deliver("EdVisitRegistered", make_visit())
    assert [e.name for e in emitted] == ["ClaimPrepared"]
    assert (await billing.claims())[0]["status"] == "prepared"


async def test_a_visit_update_with_a_qualifying_diagnosis_releases_the_hold(billing):
    await billing.deliver("EdVisitRegistered", make_visit(diagnoses=["T401X1A"]))
    held = await billing.deliver("PeerEncounterCompleted", make_encounter())
    assert held[0].name == "ClaimHeld" and held[0].data["reasons"] == ["no-qualifying-diagnosis"]
    released = await billing.deliver("EdVisitUpdated", make_visit(diagnoses=["T401X1A", "F1120"]))
    assert [e.name for e in released] == ["ClaimPrepared"]
    assert await billing.deliver("EdVisitUpdated", make_visit(diagnoses=["T401X1A", "F1120"])) == []


async def test_the_daily_cap_counts_every_encounter_of_the_member_across_visits(billing):
    for visit_number in ("V1", "V2"):
        await billing.deliver("EdVisitRegistered", make_visit(visit_number=visit_number))
    await billing.deliver("PeerEncounterCompleted", make_encounter(minutes=200))  # 13 units
    await billing.deliver("PeerEncounterCompleted", make_encounter(visit_number="V2", minutes=60))  # 4 -> 3
    third = await billing.deliver("PeerEncounterCompleted", make_encounter(visit_number="V2", minutes=30))
    units = [(c["visit_number"], c["status"], c["units"]) for c in await billing.claims()]
    assert units[:2] == [("V1", "prepared", 13), ("V2", "prepared", 3)]
    assert units[2][1] == "held" and third[0].data["reasons"] == ["cap-reached"]


async def test_a_cancelled_visit_holds_its_claims(billing):
    await billing.deliver("EdVisitRegistered", make_visit())
    await billing.deliver("PeerEncounterCompleted", make_encounter())
    emitted = await billing.deliver("EdVisitCancelled", {"facility": "NEWARK", "visit_number": "V1",
                                                         "cancelled_at": "2026-11-27T12:00:00Z", "reason": "cancelled"})
    assert emitted[0].data["reasons"] == ["visit-cancelled"]


async def test_approved_claims_go_out_in_a_valid_837p_with_unique_control_numbers(billing):
    ctx = context()
    await billing.deliver("EdVisitRegistered", make_visit())
    for _ in range(2):
        await billing.deliver("PeerEncounterCompleted", make_encounter())
    first, second = await billing.claims()
    async with billing.uow() as uow:
        await service.approve(uow, str(first["id"]))
        await service.hold(uow, str(second["id"]), "documentation missing")
    async with billing.uow() as uow:
        batch_id, count = await service.export_batch(uow, ctx, "NJ-MEDICAID")
    assert count == 1 and [e.name for e in uow.emitted] == ["BatchExported"]
    with pytest.raises(service.Conflict):
        async with billing.uow() as uow:
            await service.export_batch(uow, ctx, "NJ-MEDICAID")
    # the manual hold is lifted by approval; the original is replaced after export
    async with billing.uow() as uow:
        await service.approve(uow, str(second["id"]))
        replacement = await service.derive(uow, str(first["id"]), "7")
        await service.approve(uow, replacement)
    async with billing.uow() as uow:
        batch2, count2 = await service.export_batch(uow, ctx, "NJ-MEDICAID")
    async with billing.pool.acquire() as conn:
        one, two = await store.get_batch(conn, batch_id), await store.get_batch(conn, batch2)
        original = await store.get_claim(conn, str(first["id"]))
    assert count2 == 2 and one["interchange_control_number"] != two["interchange_control_number"]
    assert validate_837(one["content"]) == [] and validate_837(two["content"]) == []
    assert f"REF*F8*{first['claim_number']}~" in two["content"] and ":B:7*" in two["content"]
    assert original["status"] == "replaced"


async def test_a_system_hold_cannot_be_approved(billing):
    await billing.deliver("EdVisitRegistered", make_visit(age_years=16))
    await billing.deliver("PeerEncounterCompleted", make_encounter())
    [claim] = await billing.claims()
    with pytest.raises(service.Conflict, match="under-minimum-age"):
        async with billing.uow() as uow:
            await service.approve(uow, str(claim["id"]))
