"""SQL for the pairing schema (asyncpg), used inside a unit of work's transaction."""
from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Protocol

import asyncpg

from services.contracts import EdVisitRegistered, EdVisitUpdated, PeerSupportIndicated

Conn = asyncpg.Connection
# The visit events whose data is the whole visit; a case keeps the latest as jsonb.
VisitEvent = EdVisitRegistered | EdVisitUpdated | PeerSupportIndicated


def new_id() -> str:
    return str(uuid.uuid4())


class PatientId(Protocol):
    """A patient identifier: a visit's PatientRef, or a recusal."""

    system: str
    value: str


def patient_hash(ref: PatientId | None) -> str | None:
    """A stable hash of a patient identifier, so recusals need no identifier in clear."""
    if ref is None or not ref.value:
        return None
    return hashlib.sha256(f"{ref.system}\x1f{ref.value}".encode()).hexdigest()


# --- roster ---------------------------------------------------------------------------------------------

async def insert_specialist(conn: Conn, data: dict, status_reason: str | None = None) -> str | None:
    """Add a specialist; None when the NPI is taken (a concurrent insert of it waits here until that one commits)."""
    return await conn.fetchval(
        "INSERT INTO specialists (id, npi, status, status_reason, data) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (npi) DO NOTHING RETURNING id::text",
        new_id(), data["npi"], data["status"], status_reason, data)


async def update_specialist(conn: Conn, specialist_id: str, data: dict, status_reason: str | None) -> None:
    await conn.execute("UPDATE specialists SET npi = $2, status = $3, status_reason = $4, data = $5,"
                       " updated_at = now() WHERE id = $1", specialist_id, data["npi"], data["status"],
                       status_reason, data)


async def get_specialist(conn: Conn, specialist_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM specialists WHERE id = $1" + (" FOR UPDATE" if lock else ""),
                               specialist_id)


async def npi_owner(conn: Conn, npi: str) -> str | None:
    return await conn.fetchval("SELECT id::text FROM specialists WHERE npi = $1", npi)


async def specialist_by_npi(conn: Conn, npi: str) -> asyncpg.Record | None:
    """The specialist with this NPI (its natural key)."""
    return await conn.fetchrow("SELECT id::text AS id, data, status_reason FROM specialists WHERE npi = $1", npi)


async def list_specialists(conn: Conn, *, facility: str | None, status: str | None) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM specialists WHERE ($1::text IS NULL OR data->'facilities' ? $1)"
                            " AND ($2::text IS NULL OR status = $2) ORDER BY created_at", facility, status)


async def replace_shifts(conn: Conn, specialist_id: str, windows) -> None:
    await conn.execute("DELETE FROM shifts WHERE specialist_id = $1", specialist_id)
    await conn.executemany("INSERT INTO shifts (specialist_id, facility, starts_at, ends_at) VALUES ($1, $2, $3, $4)",
                           [(specialist_id, w.facility, w.starts_at, w.ends_at) for w in windows])


async def list_shifts(conn: Conn, specialist_id: str, *, ending_after: datetime | None = None) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT facility, starts_at, ends_at FROM shifts WHERE specialist_id = $1"
                            " AND ($2::timestamptz IS NULL OR ends_at > $2) ORDER BY starts_at", specialist_id,
                            ending_after)


async def load_of(conn: Conn, specialist_id: str) -> asyncpg.Record:
    """A peer's open cases and pending offers, counted as matching counts them against the cap."""
    return await conn.fetchrow(
        "SELECT (SELECT count(*) FROM cases WHERE specialist_id = $1 AND status <> 'closed') AS open_cases,"
        " (SELECT count(*) FROM assignments WHERE specialist_id = $1 AND status = 'offered') AS pending_offers",
        specialist_id)


async def replace_recusals(conn: Conn, specialist_id: str, hashes: list[str]) -> None:
    await conn.execute("DELETE FROM recusals WHERE specialist_id = $1", specialist_id)
    await conn.executemany("INSERT INTO recusals (specialist_id, patient_hash) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                           [(specialist_id, h) for h in hashes])


async def count_recusals(conn: Conn, specialist_id: str) -> int:
    return await conn.fetchval("SELECT count(*) FROM recusals WHERE specialist_id = $1", specialist_id)


async def recused_for(conn: Conn, hashed: str | None) -> list[str]:
    if hashed is None:
        return []
    return [r[0] for r in await conn.fetch("SELECT specialist_id::text FROM recusals WHERE patient_hash = $1", hashed)]


ROSTER = (
    "SELECT s.id::text AS id, s.profile_version, s.last_paged_at,"
    " (SELECT count(*) FROM cases c WHERE c.specialist_id = s.id AND c.status <> 'closed')"
    " + (SELECT count(*) FROM assignments a WHERE a.specialist_id = s.id AND a.status = 'offered') AS load")
# The shifts covering the instant, as three arrays per specialist, come with the people: one round trip, not two (a
# batch of visits reads the roster while it holds the matching lock, so each round trip there delays the next batch).
ROSTER_WITH_SHIFTS = (
    "WITH on_shift AS (SELECT specialist_id, array_agg(facility) AS facilities, array_agg(starts_at) AS starts,"
    " array_agg(ends_at) AS ends FROM shifts WHERE starts_at <= $1 AND ends_at > $1 GROUP BY specialist_id) "
    + ROSTER + ", w.facilities, w.starts, w.ends FROM specialists s LEFT JOIN on_shift w ON w.specialist_id = s.id"
    " WHERE s.status = 'active' ORDER BY s.created_at, s.id")


async def roster_state(conn: Conn, now: datetime, *, with_shifts: bool = True) -> tuple[list, list]:
    """Active specialists with their profile's version, live load and last page, and the shifts covering `now`."""
    if not with_shifts:
        return await conn.fetch(ROSTER + " FROM specialists s WHERE s.status = 'active'"
                                " ORDER BY s.created_at, s.id"), []
    people = await conn.fetch(ROSTER_WITH_SHIFTS, now)
    shifts = [{"specialist_id": p["id"], "facility": facility, "starts_at": starts, "ends_at": ends}
              for p in people if p["facilities"]
              for facility, starts, ends in zip(p["facilities"], p["starts"], p["ends"])]
    return people, shifts


async def profiles(conn: Conn, ids: list[str]) -> list[asyncpg.Record]:
    """These specialists' profiles (data) with their versions."""
    return await conn.fetch("SELECT id::text AS id, profile_version, data FROM specialists WHERE id = ANY($1::uuid[])",
                            ids)


async def lock_roster(conn: Conn) -> None:
    """Hold the schema's matching lock until commit: batches that keep a roster in memory take turns, so none offers
    on a load another has changed since it read."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':roster'))")


async def mark_paged(conn: Conn, specialist_id: str, now: datetime) -> None:
    await conn.execute("UPDATE specialists SET last_paged_at = $2 WHERE id = $1", specialist_id, now)


# --- cases ---------------------------------------------------------------------------------------------

async def open_case(conn: Conn, visit: VisitEvent, status: str, opened_at: datetime) -> str | None:
    """Open the visit's case, keeping the visit as its event data (jsonb); None when it already has one."""
    return await conn.fetchval(
        "INSERT INTO cases (id, facility, visit_number, status, visit, patient_hash, opened_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (facility, visit_number) DO NOTHING RETURNING id::text",
        new_id(), visit.facility, visit.visit_number, status, visit.to_data(), patient_hash(visit.patient_ref),
        opened_at)


async def open_cases(conn: Conn, visits: list[VisitEvent], statuses: list[str],
                     opened_at: datetime) -> list[asyncpg.Record | None]:
    """Open the cases of many visits in one statement: each visit's new case row with `recused` (the peers recused
    from its patient, read in the same round trip), None where the visit had one (or came earlier in the list)."""
    ids = [new_id() for _ in visits]
    rows = {str(r["id"]): r for r in await conn.fetch(
        "INSERT INTO cases (id, facility, visit_number, status, visit, patient_hash, opened_at)"
        " SELECT *, $6::timestamptz FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[],"
        " $7::text[]) ON CONFLICT (facility, visit_number) DO NOTHING RETURNING *, ARRAY(SELECT r.specialist_id::text"
        " FROM recusals r WHERE r.patient_hash = cases.patient_hash ORDER BY r.specialist_id) AS recused",
        ids, [v.facility for v in visits], [v.visit_number for v in visits], statuses,
        [v.to_data() for v in visits], opened_at, [patient_hash(v.patient_ref) for v in visits])}
    return [rows.get(i) for i in ids]


async def replace_visit(conn: Conn, case, visit: VisitEvent) -> None:
    """Keep the case's visit current; the patient's hash stays when the new visit names no patient."""
    await set_case(conn, case["id"], visit=visit.to_data(),
                   patient_hash=patient_hash(visit.patient_ref) or case["patient_hash"])


async def get_case(conn: Conn, case_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM cases WHERE id = $1" + (" FOR UPDATE" if lock else ""), case_id)


async def case_of_visit(conn: Conn, facility: str, visit_number: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM cases WHERE facility = $1 AND visit_number = $2 FOR UPDATE",
                               facility, visit_number)


async def update_row(conn: Conn, table: str, row_id: str, values: dict) -> None:
    """Set columns of one row; table and column names come from code, never from input."""
    columns = ", ".join(f"{name} = ${i}" for i, name in enumerate(values, start=2))
    await conn.execute(f"UPDATE {table} SET {columns} WHERE id = $1", row_id, *values.values())


async def list_cases(conn: Conn, *, facility: str | None, visit_number: str | None, status: str | None,
                     specialist_id: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM cases WHERE ($1::text IS NULL OR facility = $1) AND ($2::text IS NULL OR visit_number = $2)"
        " AND ($3::text IS NULL OR status = $3) AND ($4::uuid IS NULL OR specialist_id = $4) ORDER BY opened_at",
        facility, visit_number, status, specialist_id)


async def set_case(conn: Conn, case_id: str, **values) -> None:
    await update_row(conn, "cases", case_id, values)


async def set_preferences(conn: Conn, case_id: str, preferences: dict, at: datetime) -> None:
    """Replace the patient's preferences on the case (what matching reads when the case is offered again)."""
    await set_case(conn, case_id, preferences=preferences, preferences_recorded_at=at)


async def cases_of_specialist(conn: Conn, specialist_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM cases WHERE specialist_id = $1 AND status = 'assigned'"
                            " ORDER BY opened_at FOR UPDATE", specialist_id)


async def escalate_once(conn: Conn, case_id: str, kind: str, facility: str, supervisor: str | None,
                        reason: str, now: datetime) -> bool:
    return bool(await conn.fetchval(
        "INSERT INTO escalations (case_id, kind, facility, supervisor, reason, escalated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true",
        case_id, kind, facility, supervisor, reason, now))


async def cancel_touchpoints(conn: Conn, case_id: str, outcome: str) -> None:
    """Cancel the windows not yet settled, and their reminders and closes with them."""
    await conn.execute("UPDATE touchpoints SET outcome = $2 WHERE case_id = $1 AND done_at IS NULL"
                       " AND outcome IS NULL", case_id, outcome)
    await conn.execute("UPDATE deadlines SET done_at = now(), outcome = $2 WHERE case_id = $1"
                       " AND touchpoint_id IS NOT NULL AND done_at IS NULL", case_id, outcome)


async def touchpoints(conn: Conn, case_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM touchpoints WHERE case_id = $1 ORDER BY due_at, id", case_id)


async def contact_at(conn: Conn, case_id: str, at: datetime, outcome: str) -> asyncpg.Record | None:
    """The contact of this case recorded at this instant (its natural key), one with this outcome first."""
    return await conn.fetchrow("SELECT id::text AS id, outcome, learned, treatment_type, barc10 FROM contacts"
                               " WHERE case_id = $1 AND at = $2"
                               " ORDER BY outcome = $3 DESC LIMIT 1", case_id, at, outcome)


async def contacts(conn: Conn, case_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT id, at, outcome, touchpoint_id, learned, treatment_type, barc10, barc10_total"
                            " FROM contacts WHERE case_id = $1 ORDER BY at", case_id)
