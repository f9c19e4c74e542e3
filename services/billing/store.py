"""SQL for the billing schema."""
from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg

from services.contracts import EdVisitRegistered, EdVisitUpdated, PeerEncounterCompleted, PeerSupportIndicated

from .domain.claims import Prepared, Usage
from .domain.facility import ServiceFacility

# The visit events all carry the whole `Visit`: billing keeps the latest as the visit's facts.
VisitEvent = EdVisitRegistered | EdVisitUpdated | PeerSupportIndicated

# Claims that take units from a member's caps: not held, not voided, not replaced by another.
COUNTING = ("prepared", "approved", "exported", "accepted", "rejected", "paid")
REEVALUABLE = ("awaiting-visit", "held", "prepared")
# A later claim of a session already claimed (held by migration 0002): pricing it again would bill the session twice.
DUPLICATE_SESSION = "duplicate-session"


async def upsert_visit(conn: asyncpg.Connection, visit: VisitEvent) -> None:
    """Keep the visit's facts as its event data (to_data: the wire JSON), the snapshot pricing reads."""
    await conn.execute(
        "INSERT INTO visits (facility, visit_number, data) VALUES ($1, $2, $3)"
        " ON CONFLICT (facility, visit_number) DO UPDATE SET data = $3, updated_at = now()",
        visit.facility, visit.visit_number, visit.to_data())


# A run of visit events: which of their visits have claims a visit event re-prices (locked, as one at a time would
# lock them), and the latest facts of every other visit kept, all in one statement. A visit without such claims
# needs nothing else: the lookup one at a time would make could only find nothing.
KEEP_VISITS = """
WITH v AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[]) WITH ORDINALITY AS v(facility, visit_number, data, n)
), busy AS (
    SELECT c.facility, c.visit_number FROM claims c JOIN (SELECT DISTINCT facility, visit_number FROM v) k
        ON c.facility = k.facility AND c.visit_number = k.visit_number
    WHERE c.frequency = '1' AND c.status = ANY($4::text[]) AND NOT c.manual_hold AND NOT c.hold_reasons @> $5
    FOR UPDATE OF c
), kept AS (
    INSERT INTO visits (facility, visit_number, data)
    SELECT DISTINCT ON (facility, visit_number) facility, visit_number, data FROM v
    WHERE NOT EXISTS (SELECT FROM busy b WHERE b.facility = v.facility AND b.visit_number = v.visit_number)
    ORDER BY facility, visit_number, n DESC
    ON CONFLICT (facility, visit_number) DO UPDATE SET data = EXCLUDED.data, updated_at = now()
)
SELECT DISTINCT facility, visit_number FROM busy
"""


async def keep_visits(conn: asyncpg.Connection, visits: list[VisitEvent]) -> set[tuple[str, str]]:
    """Keep the facts of the run's visits that have no claims to re-price (each its latest); returns the visits
    that have some, untouched: their events are applied one at a time, in order."""
    rows = await conn.fetch(KEEP_VISITS, [v.facility for v in visits], [v.visit_number for v in visits],
                            [v.to_data() for v in visits], list(REEVALUABLE), [{"code": DUPLICATE_SESSION}])
    return {(r["facility"], r["visit_number"]) for r in rows}


async def cancel_visit(conn: asyncpg.Connection, facility: str, visit_number: str) -> None:
    await conn.execute(
        "INSERT INTO visits (facility, visit_number, data, cancelled) VALUES ($1, $2, $3, true)"
        " ON CONFLICT (facility, visit_number) DO UPDATE SET cancelled = true, updated_at = now()",
        facility, visit_number, {"facility": facility, "visit_number": visit_number})


async def get_visit(conn: asyncpg.Connection, facility: str, visit_number: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM visits WHERE facility = $1 AND visit_number = $2",
                               facility, visit_number)


def _session(encounter: PeerEncounterCompleted) -> tuple[str | None, datetime]:
    """The session's natural key: its assignment (absent from older events: no key) and its start."""
    return encounter.assignment_id, encounter.started_at


async def insert_claim(conn: asyncpg.Connection, encounter: PeerEncounterCompleted) -> asyncpg.Record | None:
    """A claim for the encounter, awaiting evaluation; None when its encounter or its session already has one."""
    # The claim keeps the encounter as its event data (to_data: the wire JSON), the snapshot pricing reads.
    # No conflict target: either unique index (encounter id, or assignment and start) makes the insert a no-op.
    return await conn.fetchrow(
        "INSERT INTO claims (id, claim_number, encounter_id, assignment_id, session_started_at, facility,"
        " visit_number, status, encounter)"
        " VALUES ($1, 'PB' || lpad(nextval('claim_numbers')::text, 10, '0'), $2, $3, $4, $5, $6, 'awaiting-visit',"
        " $7) ON CONFLICT DO NOTHING RETURNING *",
        str(uuid.uuid4()), encounter.encounter_id, *_session(encounter), encounter.facility, encounter.visit_number,
        encounter.to_data())


async def claim_of(conn: asyncpg.Connection, encounter: PeerEncounterCompleted) -> asyncpg.Record | None:
    """The claim (frequency 1) that already bills this encounter or its session."""
    return await conn.fetchrow(
        "SELECT id, encounter_id FROM claims WHERE frequency = '1' AND (encounter_id = $1"
        " OR (assignment_id = $2 AND session_started_at = $3)) ORDER BY encounter_id = $1 DESC LIMIT 1",
        encounter.encounter_id, *_session(encounter))


async def insert_derived(conn: asyncpg.Connection, original: asyncpg.Record, frequency: str) -> str:
    """A replacement (7) or void (8) of an exported claim, ready for approval."""
    return await conn.fetchval(
        "INSERT INTO claims (id, claim_number, encounter_id, assignment_id, session_started_at, facility,"
        " visit_number, status, frequency, original_claim_id, payer, plan_id, member_id, service_date, units,"
        " charge, document, encounter)"
        " SELECT $1, 'PB' || lpad(nextval('claim_numbers')::text, 10, '0'), encounter_id, assignment_id,"
        " session_started_at, facility, visit_number, 'prepared', $2, id, payer, plan_id, member_id, service_date,"
        " units, charge, document, encounter"
        " FROM claims WHERE id = $3 RETURNING id::text",
        str(uuid.uuid4()), frequency, original["id"])


async def derived_claim(conn: asyncpg.Connection, original_id: str, frequency: str) -> str | None:
    """The replacement (7) or void (8) already made of a claim."""
    return await conn.fetchval(
        "SELECT id::text FROM claims WHERE original_claim_id = $1 AND frequency = $2 ORDER BY created_at LIMIT 1",
        original_id, frequency)


async def get_claim(conn: asyncpg.Connection, claim_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT c.*, o.claim_number AS original_claim_number, o.payer_claim_number AS original_payer_claim_number"
        " FROM claims c"
        " LEFT JOIN claims o ON o.id = c.original_claim_id WHERE c.id = $1"
        + (" FOR UPDATE OF c" if lock else ""), claim_id)


async def claims_to_reevaluate(conn: asyncpg.Connection, facility: str, visit_number: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM claims WHERE facility = $1 AND visit_number = $2 AND frequency = '1'"
        " AND status = ANY($3::text[]) AND NOT manual_hold AND NOT hold_reasons @> $4"
        " ORDER BY created_at FOR UPDATE",
        facility, visit_number, list(REEVALUABLE), [{"code": DUPLICATE_SESSION}])


async def lock_member(conn: asyncpg.Connection, payer: str, member_id: str) -> None:
    """Serialise cap arithmetic for one member, so two encounters cannot both take the last units."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"billing-cap:{payer}:{member_id}")


async def usage(conn: asyncpg.Connection, *, payer: str, member_id: str, day: date, since: date | None,
                facility: str, visit_number: str, exclude: str) -> Usage:
    """Units the member already has under the payer: that day, in the rolling period, in the episode."""
    row = await conn.fetchrow(
        "SELECT coalesce(sum(units) FILTER (WHERE service_date = $3), 0) AS day,"
        " coalesce(sum(units) FILTER (WHERE $4::date IS NOT NULL AND service_date BETWEEN $4 AND $3), 0) AS period,"
        " coalesce(sum(units) FILTER (WHERE facility = $5 AND visit_number = $6), 0) AS episode"
        " FROM claims WHERE payer = $1 AND member_id = $2 AND frequency <> '8' AND status = ANY($7::text[])"
        " AND id <> $8",
        payer, member_id, day, since, facility, visit_number, list(COUNTING), exclude)
    return Usage(day=row["day"], period=row["period"], episode=row["episode"])


async def save_prepared(conn: asyncpg.Connection, claim_id: str, prepared: Prepared) -> None:
    await conn.execute(
        "UPDATE claims SET status = $2, payer = $3, plan_id = $4, member_id = $5, service_date = $6, units = $7,"
        " charge = $8, document = $9, hold_reasons = $10, updated_at = now() WHERE id = $1",
        claim_id, prepared.status, prepared.payer, prepared.plan_id, prepared.member_id,
        date.fromisoformat(prepared.service_date), prepared.units, prepared.charge, prepared.document(),
        prepared.document()["hold_reasons"])


async def set_status(conn: asyncpg.Connection, claim_id: str, status: str, *, hold_reasons: list | None = None,
                     manual_hold: bool | None = None, batch_id: str | None = None) -> None:
    await conn.execute(
        "UPDATE claims SET status = $2, hold_reasons = coalesce($3, hold_reasons),"
        " manual_hold = coalesce($4, manual_hold), batch_id = coalesce($5::uuid, batch_id), updated_at = now()"
        " WHERE id = $1", claim_id, status, hold_reasons, manual_hold, batch_id)


async def list_claims(conn: asyncpg.Connection, *, status: str | None, facility: str | None,
                      visit_number: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM claims WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR facility = $2)"
        " AND ($3::text IS NULL OR visit_number = $3) ORDER BY created_at, claim_number LIMIT 1000",
        status, facility, visit_number)


async def approved_visits(conn: asyncpg.Connection, payer: str,
                          facility: str | None = None) -> list[tuple[str, str]]:
    """The visits of the payer's approved claims (of one facility, if given): whose subscribers the batch needs."""
    rows = await conn.fetch("SELECT DISTINCT facility, visit_number FROM claims WHERE status = 'approved'"
                            " AND payer = $1 AND ($2::text IS NULL OR facility = $2)"
                            " ORDER BY facility, visit_number", payer, facility)
    return [(r["facility"], r["visit_number"]) for r in rows]


def _visit_arrays(visits) -> tuple[list[str], list[str]]:
    visits = list(visits)
    return [f for f, _ in visits], [v for _, v in visits]


async def hold_approved(conn: asyncpg.Connection, payer: str, facility: str, visit_number: str,
                        reasons: list[dict]) -> list[asyncpg.Record]:
    """Hold the payer's approved claims of one visit (a batch could not carry them)."""
    return await conn.fetch(
        "UPDATE claims SET status = 'held', hold_reasons = $4, manual_hold = false, updated_at = now()"
        " WHERE status = 'approved' AND payer = $1 AND facility = $2 AND visit_number = $3"
        " RETURNING id, facility, visit_number, payer, plan_id", payer, facility, visit_number, reasons)


async def take_approved(conn: asyncpg.Connection, payer: str, batch_id: str, visits) -> list[asyncpg.Record]:
    """Mark the payer's approved claims of these visits exported in the batch; return what the 837P needs."""
    facilities, numbers = _visit_arrays(visits)
    # One statement locks, updates and reads; the caller's transaction rolls it back if the file fails validation.
    return await conn.fetch(
        "WITH v AS (SELECT * FROM unnest($3::text[], $4::text[]) AS v(facility, visit_number)),"
        " taken AS (UPDATE claims c SET status = 'exported', batch_id = $2, updated_at = now() FROM v"
        " WHERE c.status = 'approved' AND c.payer = $1 AND c.facility = v.facility"
        " AND c.visit_number = v.visit_number"
        " RETURNING c.id, c.claim_number, c.frequency, c.member_id, c.document, c.original_claim_id,"
        " c.facility, c.visit_number, c.encounter, c.payer)"
        " SELECT t.*, o.claim_number AS original_claim_number, o.payer_claim_number AS original_payer_claim_number"
        " FROM taken t"
        " LEFT JOIN claims o ON o.id = t.original_claim_id ORDER BY t.claim_number",
        payer, batch_id, facilities, numbers)


async def next_control_number(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT nextval('interchange_control_numbers')")


async def insert_batch(conn: asyncpg.Connection, batch_id: str, payer: str, control_number: int,
                       claim_count: int, content: str) -> None:
    await conn.execute(
        "INSERT INTO batches (id, payer, interchange_control_number, claim_count, content)"
        " VALUES ($1, $2, $3, $4, $5)", batch_id, payer, control_number, claim_count, content)


async def get_batch(conn: asyncpg.Connection, batch_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM batches WHERE id = $1", batch_id)


async def untake(conn: asyncpg.Connection, claim_id, reasons: list[dict]) -> None:
    """A claim taken into a batch that must not go out after all: held, in no batch."""
    await conn.execute("UPDATE claims SET status = 'held', batch_id = NULL, hold_reasons = $2, manual_hold = false,"
                       " updated_at = now() WHERE id = $1", claim_id, reasons)


BATCH = ("SELECT b.id, b.payer, b.interchange_control_number, b.claim_count, b.status, b.acknowledgement,"
         " b.created_at, (SELECT coalesce(jsonb_object_agg(s.status, s.n), '{}') FROM (SELECT status, count(*) AS n"
         " FROM claims WHERE batch_id = b.id GROUP BY status) s) AS claims_by_status FROM batches b")


async def list_batches(conn: asyncpg.Connection, status: str | None) -> list[asyncpg.Record]:
    """The batches with how many of their claims are in each status now (the 277CA's and 835's outcome)."""
    return await conn.fetch(BATCH + " WHERE $1::text IS NULL OR b.status = $1"
                            " ORDER BY b.created_at DESC, b.interchange_control_number DESC LIMIT 1000", status)


async def batch_summary(conn: asyncpg.Connection, batch_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(BATCH + " WHERE b.id = $1", batch_id)


async def month_claims(conn: asyncpg.Connection, first: date, after: date) -> list[asyncpg.Record]:
    """Every claim with a date of service in [first, after), with its original and batch."""
    return await conn.fetch(
        "SELECT c.claim_number, c.status, c.frequency, c.payer, c.plan_id, c.facility, c.visit_number,"
        " c.service_date, c.units, c.charge, c.paid_amount, c.payer_claim_number,"
        " o.claim_number AS original_claim_number, c.batch_id, b.interchange_control_number,"
        " b.status AS batch_status FROM claims c LEFT JOIN claims o ON o.id = c.original_claim_id"
        " LEFT JOIN batches b ON b.id = c.batch_id WHERE c.service_date >= $1 AND c.service_date < $2"
        " ORDER BY c.service_date, c.claim_number", first, after)


async def facilities(conn: asyncpg.Connection, codes: list[str]) -> dict[str, ServiceFacility]:
    rows = await conn.fetch("SELECT * FROM service_facilities WHERE code = ANY($1::text[])", codes)
    return {r["code"]: ServiceFacility(**{k: r[k] for k in ServiceFacility.model_fields}) for r in rows}


async def put_facility(conn: asyncpg.Connection, code: str, facility: ServiceFacility) -> None:
    await conn.execute(
        "INSERT INTO service_facilities (code, name, npi, address, city, state, zip) VALUES ($1, $2, $3, $4, $5, $6,"
        " $7) ON CONFLICT (code) DO UPDATE SET name = $2, npi = $3, address = $4, city = $5, state = $6, zip = $7,"
        " updated_at = now()", code, facility.name, facility.npi, facility.address, facility.city, facility.state,
        facility.zip)


async def list_facilities(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM service_facilities ORDER BY code")


async def reprice_derived(conn: asyncpg.Connection, claim_id: str, prepared: Prepared, encounter: dict) -> None:
    """A replacement's edited, re-priced lines (and the edited encounter it was priced from)."""
    await save_prepared(conn, claim_id, prepared)
    await conn.execute("UPDATE claims SET encounter = $2 WHERE id = $1", claim_id, encounter)
