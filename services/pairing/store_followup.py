"""SQL for follow-up windows: the plan with its window deadlines, coded contacts, reached and missed windows."""
from __future__ import annotations

from datetime import datetime

import asyncpg

from .domain.followup import WINDOW_CLOSE, WINDOW_CLOSING, WINDOW_OPEN, Touchpoint, barc10_total
from .store import Conn, new_id


async def add_touchpoints(conn: Conn, case_id: str, plan: list[Touchpoint]) -> None:
    """Store the plan's touchpoints and, for each, its window's deadlines (open, closing reminder, close)."""
    for t in plan:
        touchpoint_id = await conn.fetchval(
            "INSERT INTO touchpoints (case_id, kind, due_at, opens_at, closes_at, offset_hours)"
            " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id", case_id, t.kind, t.due_at, t.opens_at, t.closes_at,
            t.offset_hours)
        await conn.executemany(
            "INSERT INTO deadlines (case_id, kind, due_at, touchpoint_id) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT DO NOTHING",
            [(case_id, WINDOW_OPEN, t.opens_at, touchpoint_id), (case_id, WINDOW_CLOSING, t.remind_at, touchpoint_id),
             (case_id, WINDOW_CLOSE, t.closes_at, touchpoint_id)])


async def get_touchpoint(conn: Conn, touchpoint_id: int, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM touchpoints WHERE id = $1" + (" FOR UPDATE" if lock else ""),
                               touchpoint_id)


async def record_contact(conn: Conn, case_id: str, contact: dict, who: str, touchpoint_id: int | None) -> str:
    """Store a coded contact against the window it fell in (None: between windows)."""
    contact_id = new_id()
    barc10 = contact.get("barc10")
    await conn.execute(
        "INSERT INTO contacts (id, case_id, at, outcome, recorded_by, touchpoint_id, learned, treatment_type,"
        " barc10, barc10_total) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", contact_id, case_id,
        contact["at"], contact["outcome"], who, touchpoint_id, list(contact.get("learned") or []),
        contact.get("treatment_type"), list(barc10) if barc10 else None, barc10_total(barc10))
    return contact_id


async def window_reached(conn: Conn, touchpoint_id: int, at: datetime) -> None:
    """The window's patient was reached: done at the first reached contact (a later one leaves it)."""
    await conn.execute("UPDATE touchpoints SET done_at = $2, outcome = 'reached' WHERE id = $1"
                       " AND (outcome IS NULL OR outcome = 'missed' OR done_at > $2)", touchpoint_id, at)


async def window_missed(conn: Conn, touchpoint_id: int, now: datetime) -> bool:
    """Mark a window that closed without a reached contact as missed; False when it was settled otherwise."""
    return bool(await conn.fetchval("UPDATE touchpoints SET outcome = 'missed', missed_at = $2 WHERE id = $1"
                                    " AND outcome IS NULL AND done_at IS NULL RETURNING true", touchpoint_id, now))


async def attempts_in(conn: Conn, touchpoint_id: int) -> int:
    return await conn.fetchval("SELECT count(*) FROM contacts WHERE touchpoint_id = $1", touchpoint_id)
