"""SQL for the intake schema: visits and the store of every received message."""
from __future__ import annotations

import hashlib
from datetime import datetime

import asyncpg
import orjson

MESSAGE_COLUMNS = ("id, received_at, channel, sending_app, sending_facility, control_id, message_type, version,"
                   " status, ack_code, error, result, replay_of, duplicates, last_duplicate_at, control_id_reused")


async def get_visit(conn: asyncpg.Connection, facility: str, visit_number: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM visits WHERE facility = $1 AND visit_number = $2",
                               facility, visit_number)


def visit_lock(facility: str, visit_number: str) -> int:
    """A visit's advisory-lock key: 64 bits of a hash, so keys of different visits practically never collide."""
    digest = hashlib.blake2b(f"intake|visit|{facility}|{visit_number}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock_and_read_visits(conn: asyncpg.Connection, keys: list[tuple[str, str]]) -> list[asyncpg.Record]:
    """Lock visits for this transaction, in key order so two transactions never wait on each other, then read them.

    The read is a separate statement so that its snapshot is taken after every lock is held."""
    locks = sorted({visit_lock(*key) for key in keys})
    await conn.execute("SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::bigint[]) AS k",
                       locks)
    facilities, numbers = zip(*keys)
    return await conn.fetch(
        "SELECT v.facility, v.visit_number, v.status, v.data FROM visits v"
        " JOIN unnest($1::text[], $2::text[]) AS k(facility, visit_number) USING (facility, visit_number)",
        list(facilities), list(numbers))


async def upsert_visits(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    """Write visits (facility, visit number, status, peer indicated, indications, data), one row per visit."""
    if not rows:
        return
    await conn.execute(
        "INSERT INTO visits (facility, visit_number, status, peer_indicated, indications, data)"
        " SELECT f, v, s, p, i::jsonb, d::jsonb"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::text[], $6::text[]) AS r(f, v, s, p, i, d)"
        " ON CONFLICT (facility, visit_number) DO UPDATE SET status = excluded.status,"
        " peer_indicated = excluded.peer_indicated, indications = excluded.indications, data = excluded.data,"
        " updated_at = now()",
        *_columns(rows, json_at=(4, 5)))


def _json(value) -> str:
    # orjson: a fifth of the stdlib's cost, on every message and visit row.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _columns(rows: list[tuple], json_at: tuple[int, ...]) -> list[list]:
    """Rows as one array per column; JSON values go as text (asyncpg would read a JSON list as a sub-array)."""
    columns = [list(column) for column in zip(*rows)]
    for i in json_at:
        columns[i] = [None if value is None else _json(value) for value in columns[i]]
    return columns


async def find_claimed(conn: asyncpg.Connection, dedupe_key: str) -> asyncpg.Record | None:
    """The message that was applied or ignored under this sender and control id."""
    return await conn.fetchrow("SELECT id, status, ack_code FROM messages WHERE dedupe_key = $1", dedupe_key)


async def count_duplicates(conn: asyncpg.Connection, keys: list[str], at: datetime) -> dict[str, asyncpg.Record]:
    """Count resends against the messages that hold these dedupe keys; returns each holder's status and ACK code."""
    rows = await conn.fetch(
        "UPDATE messages m SET last_duplicate_at = $2,"
        " duplicates = m.duplicates + (SELECT count(*) FROM unnest($1::text[]) AS k WHERE k = m.dedupe_key)"
        " WHERE m.dedupe_key = ANY($1::text[]) RETURNING m.dedupe_key, m.id, m.status, m.ack_code", keys, at)
    return {row["dedupe_key"]: row for row in rows}


_COLUMNS = ("id, received_at, channel, sending_app, sending_facility, control_id, message_type, version, status,"
            " ack_code, error, result, raw, replay_of, dedupe_key")
_INSERT = f"INSERT INTO messages ({_COLUMNS})"


def _values(row: dict) -> tuple:
    return (row["id"], row["received_at"], row["channel"], row.get("sending_app", ""), row.get("sending_facility", ""),
            row.get("control_id", ""), row.get("message_type", ""), row.get("version", ""), row["status"],
            row["ack_code"], row.get("error"), row.get("result", {}), row["raw"], row.get("replay_of"),
            row.get("dedupe_key"))


async def insert_message(conn: asyncpg.Connection, row: dict) -> None:
    await conn.execute(_INSERT + " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                       *_values(row))


async def insert_messages(conn: asyncpg.Connection, rows: list[dict]) -> dict:
    """Store messages in one statement; a row whose dedupe key another message holds is skipped.

    Returns, for each message stored, whether its sender's control id was already taken by a message with other
    content (or the row came flagged so); a message with a dedupe key that is not among them is a resend."""
    stored = await conn.fetch(
        f"INSERT INTO messages ({_COLUMNS}, control_id_reused)"
        " SELECT i, t, c, sa, sf, ci, mt, v, s, a, e::jsonb, r::jsonb, raw, ro, k, cr OR (k IS NOT NULL AND EXISTS ("
        "   SELECT 1 FROM messages o WHERE o.control_id = m.ci AND o.sending_facility = m.sf AND o.sending_app = m.sa"
        "   AND o.dedupe_key IS NOT NULL AND o.dedupe_key <> m.k))"
        " FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],"
        " $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bytea[], $14::uuid[], $15::text[],"
        " $16::boolean[]) AS m(i, t, c, sa, sf, ci, mt, v, s, a, e, r, raw, ro, k, cr)"
        " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, control_id_reused",
        *_columns([(*_values(row), row.get("control_id_reused", False)) for row in rows], json_at=(10, 11)))
    return {row["id"]: row["control_id_reused"] for row in stored}


async def mark_ignored(conn: asyncpg.Connection, message_ids: list, result: dict) -> None:
    """Stored messages that turned out to concern nothing we track (still acknowledged AA)."""
    if message_ids:
        await conn.execute("UPDATE messages SET status = 'ignored', result = $2 WHERE id = ANY($1::uuid[])",
                           message_ids, result)


async def list_messages(conn: asyncpg.Connection, *, status: str | None, since: datetime | None,
                        until: datetime | None, limit: int,
                        control_id_reused: bool | None = None, control_id: str | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE ($1::text IS NULL OR status = $1)"
        " AND ($2::timestamptz IS NULL OR received_at >= $2) AND ($3::timestamptz IS NULL OR received_at < $3)"
        " AND ($5::boolean IS NULL OR control_id_reused = $5) AND ($6::text IS NULL OR control_id = $6)"
        " ORDER BY received_at DESC LIMIT $4", status, since, until, limit, control_id_reused, control_id)


async def get_message(conn: asyncpg.Connection, message_id, *, raw: bool = False) -> asyncpg.Record | None:
    columns = MESSAGE_COLUMNS + (", raw" if raw else "")
    return await conn.fetchrow(f"SELECT {columns} FROM messages WHERE id = $1", message_id)


async def replay_candidates(conn: asyncpg.Connection, status: str) -> list[asyncpg.Record]:
    """Original messages with this status that no replay has accepted yet, oldest first."""
    return await conn.fetch(
        "SELECT m.id, m.raw, m.channel, m.result FROM messages m WHERE m.status = $1 AND m.replay_of IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.replay_of = m.id AND r.status IN ('accepted', 'ignored'))"
        " ORDER BY m.received_at", status)


async def save_subscribers(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    """Keep the newest demographics per visit (facility, visit number, data, source, message id, received at);
    a message received earlier (a late replay) never overwrites. One row per visit."""
    if not rows:
        return
    await conn.execute(
        "INSERT INTO subscribers (facility, visit_number, data, source, message_id, received_at)"
        " SELECT f, v, d::jsonb, s, m, r"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::timestamptz[])"
        " AS x(f, v, d, s, m, r)"
        " ON CONFLICT (facility, visit_number) DO UPDATE SET data = excluded.data, source = excluded.source,"
        " message_id = excluded.message_id, received_at = excluded.received_at"
        " WHERE subscribers.received_at <= excluded.received_at",
        *_columns(rows, json_at=(2,)))


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
