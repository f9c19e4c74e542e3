"""SQL that reads the record for outcomes: the period's cases with their offers, consent, windows and contacts, and
per peer their offers, caseload and supervision. Tables another change adds are read only when they exist."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from .domain.outcomes import CaseFacts, Contact, Window
from .store import Conn

CASES = """
SELECT c.id::text AS id, c.facility, c.opened_at, c.closed_at, c.close_reason, c.status,
       (SELECT min(a.offered_at) FROM assignments a WHERE a.case_id = c.id AND a.expires_at > a.offered_at)
           AS first_offer,
       (SELECT min(a.accepted_at) FROM assignments a WHERE a.case_id = c.id) AS first_accept,
       (SELECT min(a.arrived_at) FROM assignments a WHERE a.case_id = c.id) AS first_bedside,
       k.granted AS consent_granted, k.accepts_support
  FROM cases c
  LEFT JOIN LATERAL (SELECT k.granted, k.accepts_support FROM consents k JOIN assignments a ON a.id = k.assignment_id
                      WHERE a.case_id = c.id ORDER BY k.recorded_at DESC LIMIT 1) k ON true
 WHERE c.opened_at >= $1 AND c.opened_at < $2 AND ($3::text IS NULL OR c.facility = $3)
 ORDER BY c.opened_at, c.id"""


async def table_exists(conn: Conn, name: str) -> bool:
    """Whether a table of the service's schema exists (one that another change adds may not yet)."""
    return await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name)


async def case_facts(conn: Conn, start: datetime, end: datetime, facility: str | None,
                     target_minutes) -> tuple[list[CaseFacts], bool]:
    """The period's indicated visits as CaseFacts; and whether crisis hand-offs could be read."""
    rows = await conn.fetch(CASES, start, end, facility)
    ids = [r["id"] for r in rows]
    windows, contacts, crises = defaultdict(list), defaultdict(list), defaultdict(int)
    for t in await conn.fetch("SELECT case_id::text AS case_id, offset_hours, kind, closes_at, outcome FROM touchpoints"
                              " WHERE case_id = ANY($1::uuid[]) ORDER BY due_at, id", ids):
        windows[t["case_id"]].append(Window(t["offset_hours"], t["kind"], t["closes_at"], t["outcome"]))
    for k in await conn.fetch("SELECT case_id::text AS case_id, at, outcome, learned FROM contacts"
                              " WHERE case_id = ANY($1::uuid[]) ORDER BY at", ids):
        contacts[k["case_id"]].append(Contact(k["at"], k["outcome"], tuple(k["learned"] or ())))
    crisis_table = await table_exists(conn, "crisis_handoffs")
    if crisis_table:
        for r in await conn.fetch("SELECT case_id::text AS case_id, count(*) AS n FROM crisis_handoffs"
                                  " WHERE case_id = ANY($1::uuid[]) GROUP BY case_id", ids):
            crises[r["case_id"]] = r["n"]
    return [CaseFacts(case_id=r["id"], facility=r["facility"], opened_at=r["opened_at"],
                      target_minutes=target_minutes(r["facility"]), first_offer=r["first_offer"],
                      first_accept=r["first_accept"], first_bedside=r["first_bedside"], closed_at=r["closed_at"],
                      close_reason=r["close_reason"], consent_granted=r["consent_granted"],
                      accepts_support=r["accepts_support"], windows=tuple(windows[r["id"]]),
                      contacts=tuple(contacts[r["id"]]), crisis_handoffs=crises[r["id"]]) for r in rows], crisis_table


async def peer_rows(conn: Conn, start: datetime, end: datetime, facility: str | None) -> list[dict]:
    """Assignments of the period's cases: offers (a hand-over, by a supervisor or a re-match, is accepted as it is
    made: no deadline), acceptances, arrivals with the case's opening."""
    rows = await conn.fetch(
        "SELECT a.specialist_id::text AS specialist_id, a.case_id::text AS case_id, a.facility, a.status,"
        " a.accepted_at, a.arrived_at, c.opened_at, a.expires_at = a.offered_at AS handed_over"
        " FROM assignments a JOIN cases c ON c.id = a.case_id"
        " WHERE c.opened_at >= $1 AND c.opened_at < $2 AND ($3::text IS NULL OR c.facility = $3)"
        " ORDER BY a.offered_at", start, end, facility)
    return [dict(r) for r in rows]


async def caseloads(conn: Conn) -> dict[str, int]:
    rows = await conn.fetch("SELECT specialist_id::text AS id, count(*) AS n FROM cases WHERE status <> 'closed'"
                            " AND specialist_id IS NOT NULL GROUP BY specialist_id")
    return {r["id"]: r["n"] for r in rows}


async def specialists(conn: Conn, facility: str | None) -> list[dict]:
    """Active or on-leave peers serving the facility (all when none is given): those supervision is owed to."""
    rows = await conn.fetch("SELECT id::text AS id, data->'facilities' AS facilities FROM specialists"
                            " WHERE status <> 'inactive' AND ($1::text IS NULL OR data->'facilities' ? $1)"
                            " ORDER BY created_at, id", facility)
    return [dict(r) for r in rows]


async def supervision_minutes(conn: Conn, start: datetime, end: datetime) -> dict[str, float] | None:
    """Minutes of supervision per peer held in the period; None when the sessions table does not exist."""
    if not await table_exists(conn, "supervision_sessions"):
        return None
    rows = await conn.fetch("SELECT specialist_id::text AS id, sum(minutes) AS m FROM supervision_sessions"
                            " WHERE held_on >= $1::date AND held_on < $2::date GROUP BY specialist_id",
                            start.date(), end.date())
    return {r["id"]: float(r["m"]) for r in rows}
