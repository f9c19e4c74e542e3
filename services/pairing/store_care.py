"""SQL of the care tables (migration 0008): crisis hand-offs, re-matches, supervision, renewal warnings, leave."""
from __future__ import annotations

from datetime import date, datetime

import asyncpg

from .store import new_id

Conn = asyncpg.Connection


# --- crisis ---------------------------------------------------------------------------------------------

async def open_handoff(conn: Conn, case_id: str) -> asyncpg.Record | None:
    """The case's hand-off still waiting for its outcome (at most one: a unique partial index)."""
    return await conn.fetchrow("SELECT * FROM crisis_handoffs WHERE case_id = $1 AND outcome IS NULL", case_id)


async def insert_handoff(conn: Conn, case, *, raised_at: datetime, raised_by: str, route: str,
                         contact: str | None) -> str:
    handoff_id = new_id()
    await conn.execute("INSERT INTO crisis_handoffs (id, case_id, facility, visit_number, raised_at, raised_by, route,"
                       " contact) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", handoff_id, case["id"], case["facility"],
                       case["visit_number"], raised_at, raised_by, route, contact)
    return handoff_id


async def get_handoff(conn: Conn, handoff_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM crisis_handoffs WHERE id = $1" + (" FOR UPDATE" if lock else ""),
                               handoff_id)


async def set_handoff_outcome(conn: Conn, handoff_id: str, *, outcome: str, handed_off_at: datetime | None,
                              notes_code: str | None) -> None:
    await conn.execute("UPDATE crisis_handoffs SET outcome = $2, handed_off_at = $3, notes_code = $4 WHERE id = $1",
                       handoff_id, outcome, handed_off_at, notes_code)


async def list_handoffs(conn: Conn, *, facility: str | None, case_id: str | None, open_only: bool,
                        specialist_id: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT h.* FROM crisis_handoffs h JOIN cases c ON c.id = h.case_id"
        " WHERE ($1::text IS NULL OR h.facility = $1) AND ($2::uuid IS NULL OR h.case_id = $2)"
        " AND (NOT $3 OR h.outcome IS NULL) AND ($4::uuid IS NULL OR c.specialist_id = $4) ORDER BY h.raised_at",
        facility, case_id, open_only, specialist_id)


# --- re-matching one case -------------------------------------------------------------------------------

async def latest_rematch(conn: Conn, case_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM rematches WHERE case_id = $1 ORDER BY requested_at DESC, id LIMIT 1",
                               case_id)


async def insert_rematch(conn: Conn, **row) -> str:
    rematch_id = new_id()
    await conn.execute("INSERT INTO rematches (id, case_id, requested_at, requested_by, reason, recorded_by,"
                       " from_specialist, to_specialist, assignment_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                       rematch_id, row["case_id"], row["requested_at"], row["requested_by"], row["reason"],
                       row["recorded_by"], row["from_specialist"], row["to_specialist"], row["assignment_id"])
    return rematch_id


async def add_recusal(conn: Conn, specialist_id: str, hashed: str) -> None:
    await conn.execute("INSERT INTO recusals (specialist_id, patient_hash) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                       specialist_id, hashed)


# --- supervision ----------------------------------------------------------------------------------------

async def session_of(conn: Conn, specialist_id: str, supervisor: str, held_on: date,
                     fmt: str) -> asyncpg.Record | None:
    """The session known by its natural key (peer, supervisor, day, format)."""
    return await conn.fetchrow("SELECT * FROM supervision_sessions WHERE specialist_id = $1 AND supervisor = $2"
                               " AND held_on = $3 AND format = $4", specialist_id, supervisor, held_on, fmt)


async def insert_session(conn: Conn, specialist_id: str, body: dict, now: datetime) -> str | None:
    """None when a concurrent insert of the same session won (then read it by its natural key)."""
    return await conn.fetchval(
        "INSERT INTO supervision_sessions (id, specialist_id, supervisor, held_on, minutes, format, topics,"
        " recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id::text",
        new_id(), specialist_id, body["supervisor"], body["held_on"], body["minutes"], body["format"],
        body["topics"], now)


async def sessions(conn: Conn, specialist_id: str, *, since: date | None = None) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM supervision_sessions WHERE specialist_id = $1"
                            " AND ($2::date IS NULL OR held_on >= $2) ORDER BY held_on, id", specialist_id, since)


async def all_sessions_since(conn: Conn, since: date) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT specialist_id::text AS specialist_id, held_on, minutes, format"
                            " FROM supervision_sessions WHERE held_on >= $1", since)


# --- renewals -------------------------------------------------------------------------------------------

async def specialists_for_renewal(conn: Conn) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT id::text AS id, data, status FROM specialists WHERE status <> 'inactive'"
                            " ORDER BY created_at, id")


async def warn_once(conn: Conn, r, now: datetime) -> bool:
    """Record a renewal warning; False when this one (credential, date, threshold) was sent before."""
    return bool(await conn.fetchval(
        "INSERT INTO renewal_warnings (specialist_id, credential, kind, due_on, threshold_days, warned_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true",
        r.specialist_id, r.credential, r.kind, r.due_on, r.threshold_days, now))


# --- leave ----------------------------------------------------------------------------------------------

async def open_leave(conn: Conn, specialist_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM specialist_leaves WHERE specialist_id = $1 AND ended_at IS NULL",
                               specialist_id)


async def start_leave(conn: Conn, specialist_id: str, *, since: datetime, reason: str, supervisor: str,
                      recorded_by: str) -> str:
    leave_id = new_id()
    await conn.execute("INSERT INTO specialist_leaves (id, specialist_id, started_at, reason, supervisor, recorded_by)"
                       " VALUES ($1, $2, $3, $4, $5, $6)", leave_id, specialist_id, since, reason, supervisor,
                       recorded_by)
    # Off the roster matching reads (status), with the time it began; the reason stays in specialist_leaves.
    await conn.execute("UPDATE specialists SET status = 'on-leave', on_leave_since = $2,"
                       " data = jsonb_set(data, '{status}', '\"on-leave\"'), updated_at = now() WHERE id = $1",
                       specialist_id, since)
    return leave_id


async def end_leave(conn: Conn, specialist_id: str, at: datetime) -> None:
    await conn.execute("UPDATE specialist_leaves SET ended_at = $2 WHERE specialist_id = $1 AND ended_at IS NULL",
                       specialist_id, at)
    await conn.execute("UPDATE specialists SET status = 'active', on_leave_since = NULL,"
                       " data = jsonb_set(data, '{status}', '\"active\"'), updated_at = now() WHERE id = $1",
                       specialist_id)


CARE_CALLS = frozenset({"open_handoff", "insert_handoff", "get_handoff", "set_handoff_outcome", "latest_rematch",
                        "insert_rematch", "add_recusal"})


class CareStore:
    """The care SQL the crisis and re-match use cases call, on one connection (tests fake it: fakes_care.py)."""

    def __init__(self, conn: Conn):
        self.conn = conn

    def __getattr__(self, name: str):
        if name not in CARE_CALLS:
            raise AttributeError(name)
        function = globals()[name]

        async def bound(*args, **kwargs):
            return await function(self.conn, *args, **kwargs)
        return bound


def care_store(uow) -> CareStore:
    """The unit of work's care store: a test's fake when it brings one, else the SQL on its connection."""
    return getattr(uow, "care", None) or CareStore(uow.conn)
