"""Billing on real PostgreSQL: one claim per encounter, late visit data, caps across visits, 837P batches."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.billing import corrections, service, store
from services.billing.app import create_app
from services.billing.intake import IntakeUnavailable
from services.billing.settings import BillingSettings
from services.billing.validate837 import validate_837
from tests.unit.billing.builders import NOW, make_encounter, make_visit
from tests.unit.billing.test_x12 import INTAKE_ANSWER

pytestmark = pytest.mark.integration
NEW_YORK = ZoneInfo("America/New_York")


def intake(answers: dict, seen: list | None = None) -> httpx.MockTransport:
    """Intake's subscriber lookup in process: path -> (status, body); unknown paths 404."""
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        status, body = answers.get(request.url.raw_path.decode(), (404, {"detail": "no such visit"}))
        return httpx.Response(status, json=body)
    return httpx.MockTransport(handle)


def context(transport: httpx.AsyncBaseTransport | None = None):
    transport = transport or intake({"/visits/NEWARK/V1/subscriber": (200, INTAKE_ANSWER)})
    ctx = create_app().state.billing
    return replace(ctx, intake=BillingSettings(jwt_secret="s" * 32).intake_client(transport))


async def export(billing, ctx, payer="NJ-MEDICAID") -> service.BatchResult:
    return await service.create_batch(billing.pool, billing.uow, ctx, payer)


async def test_a_redelivered_encounter_never_makes_a_second_claim(billing):
    await billing.deliver("PeerSupportIndicated", make_visit())
    encounter = make_encounter()
    first = await billing.deliver("PeerEncounterCompleted", encounter)
    again = await billing.deliver("PeerEncounterCompleted", encounter)
    [claim] = await billing.claims()
    assert (claim["status"], claim["payer"], claim["plan_id"], claim["units"]) == (
        "prepared", "NJ-MEDICAID", "NJMCD", 3)
    assert [e.name for e in first] == ["ClaimPrepared"] and again == []
    assert first[0].data == {"claim_id": str(claim["id"]), "facility": "NEWARK", "visit_number": "V1",
                             "payer": "NJ-MEDICAID", "plan_id": "NJMCD", "units": 3, "charge": "60.00"}


async def test_the_visit_and_the_encounter_are_kept_as_the_json_that_was_sent(billing):
    visit = make_visit(trigger="A04", payer={"plan_id": "NJMCD", "member_id": "M123"})
    encounter = make_encounter(assignment_id=str(uuid.uuid4()), specialist_name="Dana Peer",
                               # NOW's morning, written in New York's offset as a feed would send it
                               started_at=(NOW - timedelta(hours=7, minutes=40)).astimezone(NEW_YORK).isoformat(),
                               patient_at_home=False)
    await billing.deliver("EdVisitRegistered", visit)
    await billing.deliver("PeerEncounterCompleted", encounter)
    [claim] = await billing.claims()
    async with billing.pool.acquire() as conn:
        stored = await store.get_visit(conn, "NEWARK", "V1")
    assert claim["encounter"] == encounter and stored["data"] == visit


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
                                                         "cancelled_at": NOW.isoformat(), "reason": "cancelled"})
    assert emitted[0].data["reasons"] == ["visit-cancelled"]


async def test_a_visit_cancelled_before_its_facts_arrive_holds_its_claims_until_they_do(billing):
    await billing.deliver("PeerEncounterCompleted", make_encounter())
    cancelled = await billing.deliver("EdVisitCancelled", {"facility": "NEWARK", "visit_number": "V1",
                                                           "cancelled_at": NOW.isoformat(), "reason": "cancelled"})
    assert cancelled[0].data["reasons"] == ["unknown-payer", "visit-cancelled"]
    facts = await billing.deliver("EdVisitRegistered", make_visit())
    assert facts[0].data["reasons"] == ["visit-cancelled"]


async def test_approved_claims_go_out_in_a_valid_837p_with_unique_control_numbers(billing):
    ctx = context()
    await billing.deliver("EdVisitRegistered", make_visit())
    for _ in range(2):
        await billing.deliver("PeerEncounterCompleted", make_encounter())
    first, second = await billing.claims()
    async with billing.uow() as uow:
        await service.approve(uow, str(first["id"]))
        await service.hold(uow, str(second["id"]), "documentation missing")
    result = await export(billing, ctx)
    batch_id = result.batch_id
    assert result.claim_count == 1
    with pytest.raises(service.Conflict):
        await export(billing, ctx)
    # the manual hold is lifted by approval; the original is replaced after export
    await billing.count("UPDATE claims SET payer_claim_number = 'ICN77' WHERE id = $1 RETURNING 1", first["id"])
    async with billing.uow() as uow:
        await service.approve(uow, str(second["id"]))
        replacement = (await corrections.derive(uow, ctx.book, str(first["id"]), "7")).claim_id
        await service.approve(uow, replacement)
    result = await export(billing, ctx)
    batch2, count2 = result.batch_id, result.claim_count
    async with billing.pool.acquire() as conn:
        one, two = await store.get_batch(conn, batch_id), await store.get_batch(conn, batch2)
        original = await store.get_claim(conn, str(first["id"]))
    assert count2 == 2 and one["interchange_control_number"] != two["interchange_control_number"]
    assert validate_837(one["content"]) == [] and validate_837(two["content"]) == []
    assert "REF*F8*ICN77~" in two["content"] and ":B:7*" in two["content"]
    assert original["status"] == "replaced"
    assert "NM1*IL*1*DOE-SMITH*JANE*Q***MI*M123~N3*12 ELM STREET*APT 4~N4*NEWARK*NJ*071021234~DMG*D8*19850307*F~" \
        in one["content"]


async def approved_claims(billing, *visits: str) -> list:
    for visit_number in visits:
        await billing.deliver("EdVisitRegistered", make_visit(visit_number=visit_number))
        await billing.deliver("PeerEncounterCompleted", make_encounter(visit_number=visit_number))
    claims = await billing.claims()
    async with billing.uow() as uow:
        for claim in claims:
            await service.approve(uow, str(claim["id"]))
    return claims


async def test_claims_without_complete_subscriber_data_are_held_naming_what_is_missing(billing):
    await approved_claims(billing, "V1", "V/2", "V3")
    seen = []
    incomplete = {**INTAKE_ANSWER, "birth_date": None, "address": {**INTAKE_ANSWER["address"], "city": None}}
    ctx = context(intake({"/visits/NEWARK/V1/subscriber": (200, INTAKE_ANSWER),
                          "/visits/NEWARK/V%2F2/subscriber": (200, incomplete)}, seen))
    result = await export(billing, ctx)
    assert (result.claim_count, result.held) == (1, 2)
    assert {r.headers["authorization"].split()[0] for r in seen} == {"Bearer"}
    by_visit = {c["visit_number"]: c for c in await billing.claims()}
    assert by_visit["V1"]["status"] == "exported"
    assert by_visit["V/2"]["hold_reasons"] == [{"code": "no-subscriber-demographics",
                                                "detail": "intake lacks the subscriber's birth date, city"}]
    assert by_visit["V3"]["hold_reasons"][0]["detail"] == "intake lacks the subscriber's visit unknown to intake"
    # once intake has the data, a biller approves again and the next batch carries the claim
    async with billing.uow() as uow:
        await service.approve(uow, str(by_visit["V/2"]["id"]))
    result = await export(billing, context(intake({"/visits/NEWARK/V%2F2/subscriber": (200, INTAKE_ANSWER)})))
    assert (result.claim_count, result.held) == (1, 0)
    # a batch whose only claim is held exports nothing but keeps the hold
    async with billing.uow() as uow:
        await service.approve(uow, str(by_visit["V3"]["id"]))
    assert await export(billing, ctx) == service.BatchResult(None, 0, 1)
    assert [c["status"] for c in await billing.claims(visit_number="V3")] == ["held"]


async def test_a_batch_for_one_facility_leaves_the_other_facilities_claims_approved(billing):
    await approved_claims(billing, "V1")
    await billing.deliver("EdVisitRegistered", make_visit(facility="CAMDEN", visit_number="C1"))
    await billing.deliver("PeerEncounterCompleted", make_encounter(facility="CAMDEN", visit_number="C1"))
    [camden] = await billing.claims(visit_number="C1")
    async with billing.uow() as uow:
        await service.approve(uow, str(camden["id"]))
    seen = []
    ctx = context(intake({"/visits/NEWARK/V1/subscriber": (200, INTAKE_ANSWER)}, seen))
    result = await service.create_batch(billing.pool, billing.uow, ctx, "NJ-MEDICAID", facility="NEWARK")
    assert (result.claim_count, result.held) == (1, 0)
    assert [r.url.path for r in seen] == ["/visits/NEWARK/V1/subscriber"]  # CAMDEN's subscriber not even asked
    assert [c["status"] for c in await billing.claims(visit_number="C1")] == ["approved"]
    with pytest.raises(service.Conflict, match="for facility NEWARK"):
        await service.create_batch(billing.pool, billing.uow, ctx, "NJ-MEDICAID", facility="NEWARK")


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), 500, 401])
async def test_when_intake_fails_nothing_is_exported_or_held(billing, failure):
    await approved_claims(billing, "V1")

    def handle(request):
        if isinstance(failure, Exception):
            raise failure
        return httpx.Response(failure, json={})
    with pytest.raises(IntakeUnavailable):
        await export(billing, context(httpx.MockTransport(handle)))
    assert [c["status"] for c in await billing.claims()] == ["approved"]
    async with billing.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM batches") == 0


async def test_a_system_hold_cannot_be_approved(billing):
    await billing.deliver("EdVisitRegistered", make_visit(age_years=16))
    await billing.deliver("PeerEncounterCompleted", make_encounter())
    [claim] = await billing.claims()
    with pytest.raises(service.Conflict, match="under-minimum-age"):
        async with billing.uow() as uow:
            await service.approve(uow, str(claim["id"]))


async def test_export_holds_a_claim_dated_after_today_or_billing_more_units_than_its_minutes(billing):
    from services.runtime.clock import FixedClock

    first, second = await approved_claims(billing, "V1", "V2")
    # the second claim's line was edited by hand to 5 units: 50 minutes support 3
    await billing.count("UPDATE claims SET document = jsonb_set(document, '{lines,0,units}', '5') WHERE id = $1"
                        " RETURNING 1", second["id"])
    ctx = context(intake({"/visits/NEWARK/V1/subscriber": (200, INTAKE_ANSWER),
                          "/visits/NEWARK/V2/subscriber": (200, INTAKE_ANSWER)}))
    billing.clock = FixedClock(NOW - timedelta(days=1))  # the day before the sessions took place
    result = await export(billing, ctx)
    assert (result.batch_id, result.held) == (None, 2)
    by_id = {c["id"]: c for c in await billing.claims()}
    assert [h["code"] for h in by_id[first["id"]]["hold_reasons"]] == ["future-date-of-service"]
    assert [h["code"] for h in by_id[second["id"]]["hold_reasons"]] == ["future-date-of-service",
                                                                          "units-exceed-minutes"]
    assert {c["status"] for c in by_id.values()} == {"held"} and not any(c["batch_id"] for c in by_id.values())
    # the day comes: the date hold is lifted by approving again, the units hold is not approvable
    billing.clock = FixedClock(NOW)
    async with billing.uow() as uow:
        await service.approve(uow, str(first["id"]))
        with pytest.raises(service.Conflict, match="units-exceed-minutes"):
            await service.approve(uow, str(second["id"]))
    assert (await export(billing, ctx)).claim_count == 1
