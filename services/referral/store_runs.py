"""Set-wise SQL for a run of events: visit locks, referral rows, FHIR resource versions, pushes and parked events,
each one statement for any number of referrals (a run of one is the single event's path)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Sequence

import asyncpg

from services.contracts import Visit, event_class, parse

from .domain.lifecycle import PairingEvent, Referral
from .store import to_domain

Key = tuple[str, str]  # (facility, visit number)

# Sorted by the lock's own key, so two runs that share visits take them in the same order (no deadlock).
LOCK_VISITS = ("SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(k, 0) AS h"
               " FROM unnest($1::text[]) AS k ORDER BY h) AS keys")


async def lock_visits(conn: asyncpg.Connection, keys: Sequence[Key]) -> None:
    """Serialise the visits' handlers across consumers until commit (so a parked event is never missed)."""
    await conn.execute(LOCK_VISITS, [f"{facility}\x1f{visit_number}" for facility, visit_number in keys])


async def create_referrals(conn: asyncpg.Connection, visits: Sequence[tuple[Visit, datetime]]) -> list[str | None]:
    """A new referral for each visit (distinct visits): their ids in order, None where the visit had one already."""
    ids = [str(uuid.uuid4()) for _ in visits]
    created = {r[0] for r in await conn.fetch(
        "INSERT INTO referrals (id, facility, visit_number, status, business_status, visit, authored_on)"
        " SELECT id, facility, visit_number, 'requested', 'awaiting-offer', visit, authored_on"
        " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::timestamptz[])"
        " AS r(id, facility, visit_number, visit, authored_on)"
        " ON CONFLICT (facility, visit_number) DO NOTHING RETURNING id::text",
        ids, [v.facility for v, _ in visits], [v.visit_number for v, _ in visits],
        [v.model_dump(mode="json", exclude_none=True) for v, _ in visits], [at for _, at in visits])}
    return [i if i in created else None for i in ids]


async def referrals(conn: asyncpg.Connection, keys: Sequence[Key]) -> dict[Key, Referral]:
    """The visits' referrals (distinct visits), locked until commit."""
    rows = await conn.fetch(
        "SELECT r.* FROM referrals r JOIN unnest($1::text[], $2::text[]) AS v(facility, visit_number)"
        " ON r.facility = v.facility AND r.visit_number = v.visit_number FOR UPDATE OF r",
        [f for f, _ in keys], [v for _, v in keys])
    return {(r["facility"], r["visit_number"]): to_domain(r) for r in rows}


async def save_referrals(conn: asyncpg.Connection, refs: Sequence[Referral], now: datetime) -> None:
    """Store each referral's state (distinct referrals)."""
    await conn.execute(
        "UPDATE referrals r SET status = u.status, business_status = u.business_status,"
        " status_reason = u.status_reason, owner_specialist_id = u.owner, encounter_id = u.encounter_id,"
        " consent = u.consent, updated_at = $10, owner_npi = u.owner_npi, owner_name = u.owner_name"
        " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::uuid[], $7::jsonb[],"
        " $8::text[], $9::text[]) AS u(id, status, business_status, status_reason, owner, encounter_id, consent,"
        " owner_npi, owner_name) WHERE r.id = u.id",
        [r.id for r in refs], [r.status for r in refs], [r.business_status for r in refs],
        [r.status_reason for r in refs], [r.owner for r in refs], [r.encounter_id for r in refs],
        [r.consent for r in refs], [r.owner_npi for r in refs], [r.owner_name for r in refs], now)


def _token(identifier: dict | None) -> str | None:
    return f"{identifier['system']}|{identifier['value']}" if identifier and "system" in identifier else None


def search_columns(body: dict) -> dict:
    """The values the search parameters match on, taken from the resource itself."""
    who = body.get("subject") or body.get("for") or body.get("patient") or {}
    return {"identifier": _token(body["identifier"][0]), "patient": _token(who.get("identifier")),
            "status": body["status"], "focus": (body.get("focus") or {}).get("reference"),
            "owner": (body.get("owner") or {}).get("reference")}


# Resources in order, a resource possibly several times (its successive contents): each row that differs from the
# content before it is the next version, in the history and current. A row is compared with the stored content only
# when it is its resource's first (`first`); a later row reaches this statement only when it differs from the row
# before it (save_resources). Answers each row's version (the current one when unchanged) and whether it is new.
SAVE_RESOURCES = """
WITH input AS (
    SELECT * FROM unnest($1::int[], $2::bool[], $3::text[], $4::uuid[], $5::jsonb[], $6::uuid[], $7::text[],
                         $8::text[], $9::text[], $10::text[], $11::text[])
        AS i(n, first, resource_type, id, body, referral_id, identifier, patient, status, focus, owner)
), cur AS (
    SELECT r.resource_type, r.id, r.version_id, r.body #- '{meta,versionId}' #- '{meta,lastUpdated}' AS content
    FROM fhir_resources r WHERE (r.resource_type, r.id) IN (SELECT resource_type, id FROM input)
    FOR UPDATE
), doc AS (
    SELECT i.*, COALESCE(c.version_id, 0) + row_number() OVER (PARTITION BY i.resource_type, i.id ORDER BY i.n) AS v
    FROM input i LEFT JOIN cur c ON c.resource_type = i.resource_type AND c.id = i.id
    WHERE NOT (i.first AND c.content IS NOT DISTINCT FROM i.body)
), stamped AS (
    SELECT n, resource_type, id, v, referral_id, identifier, patient, status, focus, owner,
           jsonb_set(jsonb_set(body, '{meta,versionId}', to_jsonb(v::text)), '{meta,lastUpdated}',
                     to_jsonb($12::text)) AS body
    FROM doc
), hist AS (
    INSERT INTO fhir_history (resource_type, id, version_id, last_updated, body)
    SELECT resource_type, id, v, $13::timestamptz, body FROM stamped
), latest AS (
    INSERT INTO fhir_resources (resource_type, id, version_id, last_updated, referral_id, identifier, patient,
                                status, focus, owner, body)
    SELECT DISTINCT ON (resource_type, id) resource_type, id, v, $13::timestamptz, referral_id, identifier, patient,
           status, focus, owner, body
    FROM stamped ORDER BY resource_type, id, v DESC
    ON CONFLICT (resource_type, id) DO UPDATE SET version_id = EXCLUDED.version_id,
        last_updated = EXCLUDED.last_updated, patient = EXCLUDED.patient, status = EXCLUDED.status,
        focus = EXCLUDED.focus, owner = EXCLUDED.owner, body = EXCLUDED.body
)
SELECT i.n, COALESCE(s.v, c.version_id) AS version, s.v IS NOT NULL AS new
FROM input i LEFT JOIN stamped s ON s.n = i.n LEFT JOIN cur c ON c.resource_type = i.resource_type AND c.id = i.id
"""


async def save_resources(conn: asyncpg.Connection, bodies: Sequence[tuple[dict, str]],
                         now: datetime) -> list[tuple[int, bool]]:
    """Store (body, referral id) in order, a new version wherever the content changed: each body's version and whether
    it is new. A body equal to its resource's previous one in the list never reaches the database."""
    sent, last, repeats = [], {}, {}
    for n, (body, referral_id) in enumerate(bodies):
        body = {**body, "meta": {k: v for k, v in body.get("meta", {}).items()
                                 if k not in ("versionId", "lastUpdated")}}
        key = (body["resourceType"], body["id"])
        before = last.get(key)
        last[key] = (n, body)
        if before is not None and before[1] == body:
            repeats[n] = before[0]
        else:
            sent.append((n, before is None, body, referral_id, search_columns(body)))
    saved: dict[int, tuple[int, bool]] = {}
    if sent:
        rows = await conn.fetch(
            SAVE_RESOURCES, [s[0] for s in sent], [s[1] for s in sent], [s[2]["resourceType"] for s in sent],
            [s[2]["id"] for s in sent], [s[2] for s in sent], [s[3] for s in sent],
            *([s[4][c] for s in sent] for c in ("identifier", "patient", "status", "focus", "owner")),
            now.isoformat(), now)
        saved = {r["n"]: (r["version"], r["new"]) for r in rows}
    for n in sorted(repeats):  # a repeat has its predecessor's version, resolved before it
        saved[n] = (saved[repeats[n]][0], False)
    return [saved[n] for n in range(len(bodies))]


async def enqueue_pushes(conn: asyncpg.Connection, refs: Sequence[Referral], now: datetime) -> None:
    """Queue a push of each referral's state, in order."""
    await conn.execute(
        "INSERT INTO push_queue (referral_id, facility, enqueued_at, next_attempt_at)"
        " SELECT referral_id, facility, $3, $3 FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY"
        " AS p(referral_id, facility, n) ORDER BY n", [r.id for r in refs], [r.facility for r in refs], now)


async def park(conn: asyncpg.Connection, events: Sequence[PairingEvent], now: datetime) -> None:
    """Keep pairing events that came before their visit's referral, in order, as their data (the wire form)."""
    await conn.execute(
        "INSERT INTO parked_events (facility, visit_number, name, data, parked_at)"
        " SELECT facility, visit_number, name, data, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])"
        " WITH ORDINALITY AS p(facility, visit_number, name, data, n) ORDER BY n",
        [e.facility for e in events], [e.visit_number for e in events], [e.name() for e in events],
        [e.to_data() for e in events], now)


async def unpark(conn: asyncpg.Connection, keys: Sequence[Key]) -> dict[Key, list[PairingEvent]]:
    """The visits' parked events in arrival order, as their contract models, removed from the table."""
    rows = await conn.fetch(
        "DELETE FROM parked_events p USING unnest($1::text[], $2::text[]) AS v(facility, visit_number)"
        " WHERE p.facility = v.facility AND p.visit_number = v.visit_number"
        " RETURNING p.seq, p.facility, p.visit_number, p.name, p.data",
        [f for f, _ in keys], [v for _, v in keys])
    parked: dict[Key, list[PairingEvent]] = {}
    for r in sorted(rows, key=lambda r: r["seq"]):
        parked.setdefault((r["facility"], r["visit_number"]), []).append(parse(event_class(r["name"]), r["data"]))
    return parked
