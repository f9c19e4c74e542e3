"""SQL for the intake schema."""
from __future__ import annotations

import asyncpg


async def get_visit(conn: asyncpg.Connection, facility: str, visit_number: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM visits WHERE facility = $1 AND visit_number = $2",
                               facility, visit_number)


async def upsert_visit(conn: asyncpg.Connection, facility: str, visit_number: str, *, status: str,
                       peer_indicated: bool, indications: list, data: dict) -> None:
    await conn.execute(
        "INSERT INTO visits (facility, visit_number, status, peer_indicated, indications, data)"
        " VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (facility, visit_number) DO UPDATE SET status = $3, peer_indicated = $4,"
        " indications = $5, data = $6, updated_at = now()",
        facility, visit_number, status, peer_indicated, indications, data)
