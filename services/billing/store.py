"""SQL for the billing schema."""
from __future__ import annotations

import uuid

import asyncpg


async def upsert_visit(conn: asyncpg.Connection, facility: str, visit_number: str, data: dict) -> None:
    await conn.execute(
        "INSERT INTO visits (facility, visit_number, data) VALUES ($1, $2, $3)"
        " ON CONFLICT (facility, visit_number) DO UPDATE SET data = $3, updated_at = now()",
        facility, visit_number, data)


async def get_visit(conn: asyncpg.Connection, facility: str, visit_number: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM visits WHERE facility = $1 AND visit_number = $2",
                               facility, visit_number)


async def insert_draft_claim(conn: asyncpg.Connection, encounter: dict, payer: str | None) -> str | None:
    """A draft claim for the encounter; None when the encounter already has one."""
    return await conn.fetchval(
        "INSERT INTO claims (id, encounter_id, facility, visit_number, status, payer, encounter)"
        " VALUES ($1, $2, $3, $4, 'draft', $5, $6) ON CONFLICT (encounter_id) DO NOTHING RETURNING id::text",
        str(uuid.uuid4()), encounter["encounter_id"], encounter["facility"], encounter["visit_number"],
        payer, encounter)


async def list_claims(conn: asyncpg.Connection, *, status: str | None, facility: str | None,
                      visit_number: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM claims WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR facility = $2)"
        " AND ($3::text IS NULL OR visit_number = $3) ORDER BY created_at", status, facility, visit_number)
