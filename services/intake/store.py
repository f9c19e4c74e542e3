"""SQL for the intake schema: visits and the store of every received message."""
from __future__ import annotations

from datetime import datetime

import asyncpg

MESSAGE_COLUMNS = ("id, received_at, channel, sending_app, sending_facility, control_id, message_type, version,"
                   " status, ack_code, error, result, replay_of, duplicates, last_duplicate_at")


async def get_visit(conn: asyncpg.Connection, facility: str, visit_number: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM visits WHERE facility = $1 AND visit_number = $2",
                               facility, visit_number)


def visit_lock(facility: str, visit_number: str) -> str:
    return f"visit|{facility}|{visit_number}"


async def lock_visit(conn: asyncpg.Connection, facility: str, visit_number: str) -> None:
    """Serialise changes to one visit (the row may not exist yet, so a row lock is not enough)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", visit_lock(facility, visit_number))


async def upsert_visit(conn: asyncpg.Connection, facility: str, visit_number: str, *, status: str,
                       peer_indicated: bool, indications: list, data: dict) -> None:
    await conn.execute(
        "INSERT INTO visits (facility, visit_number, status, peer_indicated, indications, data)"
        " VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (facility, visit_number) DO UPDATE SET status = $3, peer_indicated = $4,"
        " indications = $5, data = $6, updated_at = now()",
        facility, visit_number, status, peer_indicated, indications, data)


async def find_claimed(conn: asyncpg.Connection, dedupe_key: str) -> asyncpg.Record | None:
    """The message that was applied or ignored under this sender and control id."""
    return await conn.fetchrow("SELECT id, status, ack_code FROM messages WHERE dedupe_key = $1", dedupe_key)


async def count_duplicate(conn: asyncpg.Connection, message_id, at: datetime) -> None:
    await conn.execute("UPDATE messages SET duplicates = duplicates + 1, last_duplicate_at = $2 WHERE id = $1",
                       message_id, at)


_INSERT = ("INSERT INTO messages (id, received_at, channel, sending_app, sending_facility, control_id, message_type,"
           " version, status, ack_code, error, result, raw, replay_of, dedupe_key)")


def _values(row: dict) -> tuple:
    return (row["id"], row["received_at"], row["channel"], row.get("sending_app", ""), row.get("sending_facility", ""),
            row.get("control_id", ""), row.get("message_type", ""), row.get("version", ""), row["status"],
            row["ack_code"], row.get("error"), row.get("result", {}), row["raw"], row.get("replay_of"),
            row.get("dedupe_key"))


async def insert_message(conn: asyncpg.Connection, row: dict) -> None:
    await conn.execute(_INSERT + " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                       *_values(row))


async def claim_message(conn: asyncpg.Connection, row: dict, lock: str | None = None) -> bool:
    """Store a message under its dedupe key, False if another message holds the key; optionally also take a
    transaction lock (a visit's) in the same round trip."""
    with_lock = ("WITH l AS (SELECT pg_advisory_xact_lock(hashtext($16))) " if lock else "")
    source = " SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15" + (" FROM l" if lock else "")
    args = _values(row) + ((lock,) if lock else ())
    inserted = await conn.fetchval(with_lock + _INSERT + source + " ON CONFLICT (dedupe_key) DO NOTHING RETURNING true",
                                   *args)
    return bool(inserted)


async def set_outcome(conn: asyncpg.Connection, message_id, status: str, ack_code: str, error: dict | None,
                      result: dict) -> None:
    await conn.execute("UPDATE messages SET status = $2, ack_code = $3, error = $4, result = $5,"
                       " dedupe_key = CASE WHEN $2 IN ('accepted', 'ignored') THEN dedupe_key END WHERE id = $1",
                       message_id, status, ack_code, error, result)


async def list_messages(conn: asyncpg.Connection, *, status: str | None, since: datetime | None,
                        until: datetime | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE ($1::text IS NULL OR status = $1)"
        " AND ($2::timestamptz IS NULL OR received_at >= $2) AND ($3::timestamptz IS NULL OR received_at < $3)"
        " ORDER BY received_at DESC LIMIT $4", status, since, until, limit)


async def get_message(conn: asyncpg.Connection, message_id, *, raw: bool = False) -> asyncpg.Record | None:
    columns = MESSAGE_COLUMNS + (", raw" if raw else "")
    return await conn.fetchrow(f"SELECT {columns} FROM messages WHERE id = $1", message_id)


async def replay_candidates(conn: asyncpg.Connection, status: str) -> list[asyncpg.Record]:
    """Original messages with this status that no replay has accepted yet, oldest first."""
    return await conn.fetch(
        "SELECT m.id, m.raw, m.channel FROM messages m WHERE m.status = $1 AND m.replay_of IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.replay_of = m.id AND r.status IN ('accepted', 'ignored'))"
        " ORDER BY m.received_at", status)


async def save_subscriber(conn: asyncpg.Connection, facility: str, visit_number: str, data: dict, *, source: str,
                          message_id, received_at: datetime) -> None:
    """Keep the newest demographics for a visit; a message received earlier (a late replay) never overwrites."""
    await conn.execute(
        "INSERT INTO subscribers (facility, visit_number, data, source, message_id, received_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (facility, visit_number) DO UPDATE"
        " SET data = $3, source = $4, message_id = $5, received_at = $6"
        " WHERE subscribers.received_at <= $6",
        facility, visit_number, data, source, message_id, received_at)


async def get_subscriber(conn: asyncpg.Connection, facility: str, visit_number: str) -> tuple[bool, dict | None]:
    """Whether the visit is known, and its demographics if any message carried them."""
    row = await conn.fetchrow(
        "SELECT s.data FROM visits v LEFT JOIN subscribers s USING (facility, visit_number)"
        " WHERE v.facility = $1 AND v.visit_number = $2", facility, visit_number)
    return (row is not None, row["data"] if row else None)


async def record_disclosure(conn: asyncpg.Connection, *, at: datetime, subject: str, role: str, facility: str,
                            visit_number_hash: str, purpose: str) -> None:
    await conn.execute(
        "INSERT INTO disclosures (disclosed_at, subject, role, facility, visit_number_hash, purpose)"
        " VALUES ($1, $2, $3, $4, $5, $6)", at, subject, role, facility, visit_number_hash, purpose)
