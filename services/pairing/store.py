"""SQL for the pairing schema."""
from __future__ import annotations

import uuid

import asyncpg


async def insert_specialist(conn: asyncpg.Connection, data: dict) -> str:
    specialist_id = str(uuid.uuid4())
    await conn.execute("INSERT INTO specialists (id, npi, status, data) VALUES ($1, $2, $3, $4)",
                       specialist_id, data["npi"], data["status"], data)
    return specialist_id


async def get_specialist(conn: asyncpg.Connection, specialist_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM specialists WHERE id = $1", specialist_id)


async def active_specialists(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM specialists WHERE status = 'active' ORDER BY created_at")


async def open_case(conn: asyncpg.Connection, facility: str, visit_number: str, visit: dict, opened_at) -> str | None:
    """Open the visit's case; None when it already has one."""
    return await conn.fetchval(
        "INSERT INTO cases (id, facility, visit_number, status, visit, opened_at) VALUES ($1, $2, $3, 'open', $4, $5)"
        " ON CONFLICT (facility, visit_number) DO NOTHING RETURNING id::text",
        str(uuid.uuid4()), facility, visit_number, visit, opened_at)


async def insert_assignment(conn: asyncpg.Connection, **row) -> str:
    assignment_id = str(uuid.uuid4())
    await conn.execute(
        "INSERT INTO assignments (id, case_id, specialist_id, facility, visit_number, status, attempt,"
        " offered_at, expires_at, explanation) VALUES ($1, $2, $3, $4, $5, 'offered', $6, $7, $8, $9)",
        assignment_id, row["case_id"], row["specialist_id"], row["facility"], row["visit_number"],
        row["attempt"], row["offered_at"], row["expires_at"], row["explanation"])
    return assignment_id


async def get_assignment(conn: asyncpg.Connection, assignment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM assignments WHERE id = $1", assignment_id)


async def list_assignments(conn: asyncpg.Connection, *, facility: str | None, visit_number: str | None,
                           specialist_id: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM assignments WHERE ($1::text IS NULL OR facility = $1)"
        " AND ($2::text IS NULL OR visit_number = $2) AND ($3::uuid IS NULL OR specialist_id = $3)"
        " ORDER BY offered_at", facility, visit_number, specialist_id)


async def set_assignment_status(conn: asyncpg.Connection, assignment_id: str, status: str, **times) -> None:
    await conn.execute("UPDATE assignments SET status = $2, accepted_at = COALESCE($3, accepted_at) WHERE id = $1",
                       assignment_id, status, times.get("accepted_at"))


async def insert_encounter(conn: asyncpg.Connection, assignment_id: str, body: dict) -> str:
    encounter_id = str(uuid.uuid4())
    await conn.execute(
        "INSERT INTO encounters (id, assignment_id, started_at, ended_at, modality, kind, note)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)", encounter_id, assignment_id, body["started_at"],
        body["ended_at"], body["modality"], body["kind"], body.get("note"))
    return encounter_id
