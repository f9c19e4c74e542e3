"""SQL for the referral schema."""
from __future__ import annotations

import uuid

import asyncpg


async def create_referral(conn: asyncpg.Connection, facility: str, visit_number: str, visit: dict) -> str | None:
    """A new referral for the visit; None when it already has one."""
    return await conn.fetchval(
        "INSERT INTO referrals (id, facility, visit_number, status, business_status, visit)"
        " VALUES ($1, $2, $3, 'requested', 'awaiting-offer', $4)"
        " ON CONFLICT (facility, visit_number) DO NOTHING RETURNING id::text",
        str(uuid.uuid4()), facility, visit_number, visit)


async def get_referral(conn: asyncpg.Connection, facility: str, visit_number: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM referrals WHERE facility = $1 AND visit_number = $2",
                               facility, visit_number)


async def set_status(conn: asyncpg.Connection, referral_id, status: str, business_status: str | None,
                     owner: str | None = None) -> None:
    await conn.execute(
        "UPDATE referrals SET status = $2, business_status = $3, owner_specialist_id = COALESCE($4, owner_specialist_id),"
        " updated_at = now() WHERE id = $1", referral_id, status, business_status, owner)
