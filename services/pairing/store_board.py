"""SQL for the supervisor's board: open cases with where each stands, the roster with its load, case actions."""
from __future__ import annotations

from datetime import datetime

import asyncpg

from .store import Conn, new_id

BOARD = """
SELECT c.id, c.facility, c.visit_number, c.status, c.opened_at, c.visit, c.specialist_id,
       (c.crisis OR coalesce((c.visit->>'crisis')::boolean, false)) AS crisis,
       a.id AS assignment_id, a.specialist_id AS assigned_to, a.status AS assignment_status, a.attempt,
       a.offered_at, a.expires_at, a.accepted_at, a.arrived_at, s.data->>'name' AS specialist_name,
       e.kind AS escalation_kind, e.reason AS escalation_reason, e.escalated_at,
       ack.actor AS acknowledged_by, ack.at AS acknowledged_at,
       k.granted AS consent_granted, k.recorded_at AS consent_at, tp.next_due AS next_follow_up,
       (SELECT count(*) FROM assignments x WHERE x.case_id = c.id) AS offers
  FROM cases c
  LEFT JOIN LATERAL (SELECT * FROM assignments x WHERE x.case_id = c.id
                      ORDER BY x.attempt DESC, x.offered_at DESC LIMIT 1) a ON true
  LEFT JOIN specialists s ON s.id = a.specialist_id
  LEFT JOIN LATERAL (SELECT * FROM escalations x WHERE x.case_id = c.id ORDER BY x.escalated_at DESC LIMIT 1) e ON true
  LEFT JOIN LATERAL (SELECT actor, at FROM case_actions x WHERE x.case_id = c.id AND x.kind = 'acknowledge'
                        AND x.escalation_kind = e.kind LIMIT 1) ack ON true
  LEFT JOIN LATERAL (SELECT k.granted, k.recorded_at FROM consents k JOIN assignments x ON x.id = k.assignment_id
                      WHERE x.case_id = c.id ORDER BY k.recorded_at DESC LIMIT 1) k ON true
  LEFT JOIN LATERAL (SELECT min(t.due_at) AS next_due FROM touchpoints t
                      WHERE t.case_id = c.id AND t.done_at IS NULL) tp ON true
 WHERE c.status <> 'closed' AND ($1::text IS NULL OR c.facility = $1) AND ($2::uuid IS NULL OR c.id = $2)
 ORDER BY crisis DESC, c.opened_at, c.id
 LIMIT $3
"""


async def board(conn: Conn, *, facility: str | None, case_id: str | None = None,
                limit: int = 500) -> list[asyncpg.Record]:
    """Open cases, crisis first, then oldest first, with their latest assignment, escalation, consent, next call."""
    return await conn.fetch(BOARD, facility, case_id, limit)


async def facilities(conn: Conn) -> list[str]:
    """Facilities with cases or peers: the board's choice of facility."""
    rows = await conn.fetch("SELECT facility FROM cases UNION SELECT jsonb_array_elements_text(data->'facilities')"
                            " FROM specialists UNION SELECT facility FROM shifts ORDER BY 1")
    return [r[0] for r in rows]


async def actions(conn: Conn, case_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM case_actions WHERE case_id = $1 ORDER BY at, id", case_id)


async def rematch_from(conn: Conn, case_id: str, assignment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM case_actions WHERE case_id = $1 AND kind = 'rematch'"
                               " AND from_assignment = $2", case_id, assignment_id)


async def acknowledgement(conn: Conn, case_id: str, escalation_kind: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM case_actions WHERE case_id = $1 AND kind = 'acknowledge'"
                               " AND escalation_kind = $2", case_id, escalation_kind)


async def latest_escalation(conn: Conn, case_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM escalations WHERE case_id = $1 ORDER BY escalated_at DESC LIMIT 1",
                               case_id)


async def record_action(conn: Conn, case_id: str, kind: str, actor: str, at: datetime, **values) -> str:
    action_id = new_id()
    await conn.execute(
        "INSERT INTO case_actions (id, case_id, kind, from_assignment, assignment_id, specialist_id, reason,"
        " overridden, escalation_kind, actor, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        action_id, case_id, kind, values.get("from_assignment"), values.get("assignment_id"),
        values.get("specialist_id"), values.get("reason"), values.get("overridden") or [],
        values.get("escalation_kind"), actor, at)
    return action_id


async def roster(conn: Conn, *, facility: str | None, start: datetime, end: datetime) -> tuple[list, list]:
    """Every specialist (any status) with open cases, pending offers and recusals; their shifts in [start, end)."""
    people = await conn.fetch(
        "SELECT s.id::text AS id, s.status, s.status_reason, s.data,"
        " (SELECT count(*) FROM cases c WHERE c.specialist_id = s.id AND c.status <> 'closed') AS open_cases,"
        " (SELECT count(*) FROM assignments a WHERE a.specialist_id = s.id AND a.status = 'offered') AS offers,"
        " (SELECT count(*) FROM recusals r WHERE r.specialist_id = s.id) AS recusals"
        " FROM specialists s WHERE $1::text IS NULL OR s.data->'facilities' ? $1"
        " OR EXISTS (SELECT 1 FROM shifts w WHERE w.specialist_id = s.id AND w.facility = $1)"
        " ORDER BY s.data->>'name', s.id", facility)
    shifts = await conn.fetch(
        "SELECT specialist_id::text AS specialist_id, facility, starts_at, ends_at FROM shifts"
        " WHERE starts_at < $2 AND ends_at > $1 AND specialist_id = ANY($3::uuid[]) ORDER BY starts_at",
        start, end, [p["id"] for p in people])
    return people, shifts
