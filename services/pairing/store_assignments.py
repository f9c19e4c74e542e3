"""SQL for assignments, deadlines, consents and encounters."""
from __future__ import annotations

from datetime import datetime

import asyncpg

from .store import Conn, new_id, update_row


async def insert_assignment(conn: Conn, *, status: str = "offered", transfer_note: str | None = None,
                            accepted_at: datetime | None = None, **row) -> str:
    assignment_id = new_id()
    await conn.execute(
        "INSERT INTO assignments (id, case_id, specialist_id, facility, visit_number, status, attempt,"
        " offered_at, expires_at, explanation, transfer_note, accepted_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        assignment_id, row["case_id"], row["specialist_id"], row["facility"], row["visit_number"], status,
        row["attempt"], row["offered_at"], row["expires_at"], row["explanation"], transfer_note, accepted_at)
    return assignment_id


# Offers with their timeouts and the peers' last page, one statement for any number of them.
INSERT_OFFERS = """
WITH offer AS (
    INSERT INTO assignments (id, case_id, specialist_id, facility, visit_number, status, attempt, offered_at,
                             expires_at, explanation)
    SELECT id, case_id, specialist_id, facility, visit_number, 'offered', attempt, offered_at, expires_at, explanation
    FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::int[], $7::timestamptz[],
                $8::timestamptz[], $9::jsonb[])
         AS o(id, case_id, specialist_id, facility, visit_number, attempt, offered_at, expires_at, explanation)
    RETURNING id, case_id, expires_at
), timeout AS (
    INSERT INTO deadlines (case_id, assignment_id, kind, due_at)
    SELECT case_id, id, 'offer-timeout', expires_at FROM offer ON CONFLICT DO NOTHING
)
UPDATE specialists s SET last_paged_at = paged.at
FROM (SELECT specialist_id, max(offered_at) AS at
      FROM unnest($3::uuid[], $7::timestamptz[]) AS p(specialist_id, offered_at) GROUP BY specialist_id) AS paged
WHERE s.id = paged.specialist_id
"""


async def insert_offers(conn: Conn, offers: list[dict]) -> list[str]:
    """Write offers (assignment rows: case_id, specialist_id, facility, visit_number, attempt, offered_at, expires_at,
    explanation), each with its offer-timeout deadline, and page their peers; the new assignments' ids in order."""
    ids = [new_id() for _ in offers]
    columns = ("case_id", "specialist_id", "facility", "visit_number", "attempt", "offered_at", "expires_at",
               "explanation")
    await conn.execute(INSERT_OFFERS, ids, *([o[c] for o in offers] for c in columns))
    return ids


async def get_assignment(conn: Conn, assignment_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM assignments WHERE id = $1" + (" FOR UPDATE" if lock else ""),
                               assignment_id)


async def read_assignment(conn: Conn, assignment_id: str) -> asyncpg.Record | None:
    """The assignment with its case's visit (for the peer's screen), unlocked."""
    return await conn.fetchrow(
        "SELECT a.*, c.visit AS visit, c.crisis AS crisis,"
        " (SELECT count(*) FROM encounters e WHERE e.assignment_id = a.id) AS encounters,"
        " (SELECT jsonb_build_object('granted', k.granted, 'accepts_support', k.accepts_support, 'contact_ok',"
        " k.contact_ok, 'recorded_at', k.recorded_at) FROM consents k WHERE k.assignment_id = a.id"
        " ORDER BY k.recorded_at DESC LIMIT 1) AS consent"
        " FROM assignments a JOIN cases c ON c.id = a.case_id WHERE a.id = $1", assignment_id)


async def list_assignments(conn: Conn, *, facility: str | None, visit_number: str | None,
                           specialist_id: str | None, status: str | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT a.*, c.visit AS visit, c.crisis AS crisis FROM assignments a JOIN cases c ON c.id = a.case_id"
        " WHERE ($1::text IS NULL OR a.facility = $1)"
        " AND ($2::text IS NULL OR a.visit_number = $2) AND ($3::uuid IS NULL OR a.specialist_id = $3)"
        " AND ($4::text IS NULL OR a.status = $4)"
        " ORDER BY a.offered_at, a.attempt", facility, visit_number, specialist_id, status)


async def assignments_of_case(conn: Conn, case_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM assignments WHERE case_id = $1 ORDER BY attempt FOR UPDATE", case_id)


async def transition(conn: Conn, assignment_id: str, *, old: tuple[str, ...], new: str,
                     **values) -> asyncpg.Record | None:
    """Move an assignment from one of `old` to `new` atomically; None when it was not in `old`."""
    sets = "".join(f", {name} = ${i}" for i, name in enumerate(values, start=4))
    return await conn.fetchrow(f"UPDATE assignments SET status = $2{sets} WHERE id = $1 AND status = ANY($3::text[])"
                               " RETURNING *", assignment_id, new, list(old), *values.values())


async def set_assignment(conn: Conn, assignment_id: str, **values) -> None:
    await update_row(conn, "assignments", assignment_id, values)


async def taken_assignment(conn: Conn, case_id: str, specialist_id: str) -> str | None:
    """The latest assignment of the case that this peer took (accepted or completed), if any."""
    return await conn.fetchval("SELECT id::text FROM assignments WHERE case_id = $1 AND specialist_id = $2"
                               " AND status IN ('accepted', 'completed') ORDER BY attempt DESC LIMIT 1",
                               case_id, specialist_id)


async def offers_of_specialist(conn: Conn, specialist_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM assignments WHERE specialist_id = $1 AND status = 'offered'"
                            " ORDER BY offered_at FOR UPDATE", specialist_id)


async def add_deadline(conn: Conn, case_id: str, assignment_id: str | None, kind: str, due_at: datetime) -> None:
    await conn.execute("INSERT INTO deadlines (case_id, assignment_id, kind, due_at) VALUES ($1, $2, $3, $4)"
                       " ON CONFLICT DO NOTHING", case_id, assignment_id, kind, due_at)


async def settle_deadlines(conn: Conn, assignment_id: str, now: datetime, outcome: str) -> None:
    await conn.execute("UPDATE deadlines SET done_at = $2, outcome = $3 WHERE assignment_id = $1 AND done_at IS NULL",
                       assignment_id, now, outcome)


async def take_due_deadline(conn: Conn, now: datetime) -> asyncpg.Record | None:
    """The oldest due deadline nobody else is processing, locked for this transaction."""
    return await conn.fetchrow("SELECT * FROM deadlines WHERE done_at IS NULL AND due_at <= $1"
                               " ORDER BY due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED", now)


async def finish_deadline(conn: Conn, deadline_id: int, now: datetime, outcome: str) -> None:
    await conn.execute("UPDATE deadlines SET done_at = $2, outcome = $3 WHERE id = $1", deadline_id, now, outcome)


async def insert_consent(conn: Conn, assignment_id: str, body: dict, now: datetime) -> str:
    consent_id = new_id()
    signed = bool(body.get("signature"))
    await conn.execute("INSERT INTO consents (id, assignment_id, granted, scope, accepts_support, contact_ok,"
                       " recorded_at, signature, signer, signed_at, recipients)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)", consent_id, assignment_id,
                       body["granted"], body.get("scope"), body["accepts_support"], body["contact_ok"], now,
                       body.get("signature"), (body.get("signer") or "patient") if signed else None,
                       (body.get("signed_at") or now) if signed else None, body.get("recipients"))
    return consent_id


async def latest_consent(conn: Conn, assignment_id: str) -> asyncpg.Record | None:
    """The consent recorded last for this assignment (a repeat of it is no new consent)."""
    return await conn.fetchrow("SELECT id::text AS id, granted, scope, accepts_support, contact_ok, recipients"
                               " FROM consents WHERE assignment_id = $1 ORDER BY recorded_at DESC LIMIT 1",
                               assignment_id)


async def encounter_started_at(conn: Conn, assignment_id: str, started_at) -> dict | None:
    """The encounter of this assignment that started at this instant (its natural key), if recorded."""
    row = await conn.fetchrow("SELECT id, ended_at, modality, kind FROM encounters"
                              " WHERE assignment_id = $1 AND started_at = $2", assignment_id, started_at)
    return dict(row) if row else None


async def insert_encounter(conn: Conn, assignment_id: str, body: dict) -> str:
    encounter_id = new_id()
    await conn.execute(
        "INSERT INTO encounters (id, assignment_id, started_at, ended_at, modality, kind, patient_at_home, note)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", encounter_id, assignment_id, body["started_at"],
        body["ended_at"], body["modality"], body["kind"], body.get("patient_at_home"), body.get("note"))
    return encounter_id


async def any_arrived(conn: Conn, case_id: str) -> bool:
    """Whether a peer of this case has reached the bedside."""
    return bool(await conn.fetchval("SELECT bool_or(arrived_at IS NOT NULL) FROM assignments WHERE case_id = $1",
                                    case_id))


async def consent_signature(conn: Conn, consent_id: str) -> asyncpg.Record | None:
    """A consent's signature image with what decides who may read it (its facility, whether it was granted)."""
    return await conn.fetchrow("SELECT k.signature, k.granted, k.recipients, k.scope, a.facility FROM consents k"
                               " JOIN assignments a ON a.id = k.assignment_id WHERE k.id::text = $1", consent_id)
