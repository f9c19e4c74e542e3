"""Billing on real PostgreSQL: a peer session is claimed once, whatever its encounter ids; migration 0002 keeps the
first claim of a session claimed twice before and holds the others."""
from __future__ import annotations

import shutil
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs

from services.runtime.db import create_pool, migrate
from services.runtime.envelope import new_event
from tests.integration.billing.conftest import MIGRATIONS, Billing
from tests.unit.billing.builders import NOW, make_encounter, make_visit

pytestmark = pytest.mark.integration
START = NOW - timedelta(hours=7, minutes=40)  # the builders' encounter: 10:20 UTC on NOW's day
NEW_YORK = ZoneInfo("America/New_York")


async def outcomes(billing) -> int:
    return await billing.count("SELECT count(*) FROM outbox WHERE event_type LIKE ANY($1::text[])",
                               ["%.ClaimPrepared", "%.ClaimHeld"])


@pytest.mark.parametrize("visit_first", [True, False])
async def test_two_encounter_ids_of_one_session_make_one_claim(billing, visit_first):
    assignment = str(uuid.uuid4())
    first = make_encounter(assignment_id=assignment, started_at=START.isoformat())
    # pairing's second record of the session: another encounter id, the same start written in another offset
    second = make_encounter(assignment_id=assignment, started_at=START.astimezone(NEW_YORK).isoformat())
    if visit_first:
        await billing.deliver("EdVisitRegistered", make_visit())
    emitted = await billing.deliver("PeerEncounterCompleted", first)
    with capture_logs() as logs:
        again = await billing.deliver("PeerEncounterCompleted", second)
    if not visit_first:
        emitted = await billing.deliver("EdVisitRegistered", make_visit())
    [claim] = await billing.claims()
    assert str(claim["encounter_id"]) == first["encounter_id"] and claim["status"] == "prepared"
    assert [e.name for e in emitted] == ["ClaimPrepared"] and again == []
    assert await outcomes(billing) == 1
    [line] = [entry for entry in logs if entry["event"] == "encounter_ignored_duplicate_session"]
    assert (line["encounter_id"], line["claim_id"]) == (second["encounter_id"], str(claim["id"]))


async def test_another_start_of_the_same_assignment_is_another_session(billing):
    assignment = str(uuid.uuid4())
    await billing.deliver("EdVisitRegistered", make_visit())
    for start in (START, START + timedelta(hours=2)):
        end = start + timedelta(minutes=50)
        await billing.deliver("PeerEncounterCompleted", make_encounter(
            assignment_id=assignment, started_at=start.isoformat(), ended_at=end.isoformat()))
    assert [c["status"] for c in await billing.claims()] == ["prepared", "prepared"]
    assert await outcomes(billing) == 2


async def test_the_same_event_delivered_twice_makes_one_claim(billing):
    await billing.deliver("EdVisitRegistered", make_visit())
    event = new_event("pairing", "PeerEncounterCompleted", make_encounter(assignment_id=str(uuid.uuid4())))
    first = await billing.handle(event)
    with capture_logs() as logs:
        again = await billing.handle(event)
    assert len(await billing.claims()) == 1
    assert [e.name for e in first] == ["ClaimPrepared"] and again == []
    assert await outcomes(billing) == 1
    # a redelivery is not a second record of the session: nothing to report
    assert not [entry for entry in logs if entry["event"] == "encounter_ignored_duplicate_session"]


async def test_migration_keeps_the_first_claim_of_a_session_and_holds_the_later_ones(database_url, tmp_path):
    schema = f"billing_{uuid.uuid4().hex[:10]}"
    shutil.copy(MIGRATIONS / "0001_claims.sql", tmp_path)
    await migrate(database_url, schema, tmp_path)
    pool = await create_pool(database_url, schema)
    try:
        assignment = str(uuid.uuid4())
        # oldest first: the session's first claim, a later one, a later one already sent, another session
        rows = [("prepared", START), ("approved", START.astimezone(NEW_YORK)), ("exported", START),
                ("prepared", START + timedelta(hours=2))]
        async with pool.acquire() as conn:
            for n, (status, start) in enumerate(rows):
                encounter = make_encounter(assignment_id=assignment, started_at=start.isoformat())
                await conn.execute(
                    "INSERT INTO claims (id, claim_number, encounter_id, facility, visit_number, status, encounter,"
                    " created_at) VALUES ($1, $2, $3, 'NEWARK', 'V1', $4, $5, $6)",
                    str(uuid.uuid4()), f"PB{n:010d}", encounter["encounter_id"], status, encounter,
                    NOW + timedelta(minutes=n))
        applied = await migrate(database_url, schema, MIGRATIONS)
        assert applied[:2] == [f"{schema}:0002_session_natural_key", f"{schema}:0003_lifecycle"]  # then any later
        billing = Billing(pool)
        claims = {c["claim_number"]: c for c in await billing.claims()}
        kept, later, sent, other = (claims[f"PB{n:010d}"] for n in range(4))
        assert [c["assignment_id"] is not None for c in (kept, later, sent, other)] == [True, False, False, True]
        assert (kept["status"], kept["hold_reasons"]) == ("prepared", [])
        assert later["status"] == "held" and later["hold_reasons"] == [
            {"code": "duplicate-session", "detail": "the same peer session is billed by claim PB0000000000"}]
        assert (sent["status"], sent["hold_reasons"]) == ("exported", [])  # gone out: a biller voids it
        # the held duplicate is not priced again when the visit's facts arrive, and the session takes no third claim
        await billing.deliver("EdVisitRegistered", make_visit())
        await billing.deliver("PeerEncounterCompleted", make_encounter(assignment_id=assignment,
                                                                       started_at=START.isoformat()))
        after = {c["claim_number"]: c["status"] for c in await billing.claims()}
        assert after == {"PB0000000000": "prepared", "PB0000000001": "held", "PB0000000002": "exported",
                         "PB0000000003": "prepared"}
    finally:
        await pool.close()
