"""SQL for the referral schema: referrals, versioned FHIR resources and the push queue."""
from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from services.contracts import Visit, event_class, parse
from services.contracts.base import TOLERANT

from .domain.lifecycle import PairingEvent, Referral


async def lock_visit(conn: asyncpg.Connection, facility: str, visit_number: str) -> None:
    """Serialise a visit's handlers across consumers until commit (so a parked event is never missed)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{facility}\x1f{visit_number}")


async def create_referral(conn: asyncpg.Connection, visit: Visit, authored_on: datetime) -> str | None:
    """A new referral for the visit; None when it already has one."""
    return await conn.fetchval(
        "INSERT INTO referrals (id, facility, visit_number, status, business_status, visit, authored_on)"
        " VALUES ($1, $2, $3, 'requested', 'awaiting-offer', $4, $5)"
        " ON CONFLICT (facility, visit_number) DO NOTHING RETURNING id::text",
        str(uuid.uuid4()), visit.facility, visit.visit_number, visit.model_dump(mode="json", exclude_none=True),
        authored_on)


async def get_referral(conn: asyncpg.Connection, facility: str, visit_number: str, *,
                       lock: bool = False) -> asyncpg.Record | None:
    sql = "SELECT * FROM referrals WHERE facility = $1 AND visit_number = $2"
    return await conn.fetchrow(sql + (" FOR UPDATE" if lock else ""), facility, visit_number)


async def get_referral_by_id(conn: asyncpg.Connection, referral_id: str, *,
                             lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM referrals WHERE id = $1" + (" FOR UPDATE" if lock else ""), referral_id)


async def expired_consents(pool: asyncpg.Pool, now: datetime) -> list[str]:
    """Referrals whose consent is still marked active though its expiry has passed."""
    rows = await pool.fetch("SELECT id::text FROM referrals WHERE consent->>'status' = 'active'"
                            " AND (consent->>'expires_at')::timestamptz <= $1 LIMIT 1000", now)
    return [r["id"] for r in rows]


def to_domain(row: asyncpg.Record) -> Referral:
    """The referral of a row; its stored visit read tolerantly (older rows may hold fields the model dropped)."""
    visit = Visit.model_validate(row["visit"], context=TOLERANT)
    return Referral(id=str(row["id"]), facility=row["facility"], visit_number=row["visit_number"],
                    visit=visit, authored_on=row["authored_on"], status=row["status"],
                    business_status=row["business_status"], status_reason=row["status_reason"],
                    owner=str(row["owner_specialist_id"]) if row["owner_specialist_id"] else None,
                    encounter_id=str(row["encounter_id"]) if row["encounter_id"] else None,
                    owner_npi=row["owner_npi"], owner_name=row["owner_name"],
                    consent=row["consent"])


async def save_referral(conn: asyncpg.Connection, ref: Referral, now: datetime) -> None:
    await conn.execute(
        "UPDATE referrals SET status = $2, business_status = $3, status_reason = $4, owner_specialist_id = $5,"
        " encounter_id = $6, consent = $7, updated_at = $8, owner_npi = $9, owner_name = $10 WHERE id = $1",
        ref.id, ref.status, ref.business_status, ref.status_reason, ref.owner, ref.encounter_id, ref.consent, now,
        ref.owner_npi, ref.owner_name)


def _token(identifier: dict | None) -> str | None:
    return f"{identifier['system']}|{identifier['value']}" if identifier and "system" in identifier else None


def search_columns(body: dict) -> dict:
    """The values the search parameters match on, taken from the resource itself."""
    who = body.get("subject") or body.get("for") or body.get("patient") or {}
    return {"identifier": _token(body["identifier"][0]), "patient": _token(who.get("identifier")),
            "status": body["status"], "focus": (body.get("focus") or {}).get("reference"),
            "owner": (body.get("owner") or {}).get("reference")}


# One round trip per resource: lock the current version, skip when only version metadata would change,
# otherwise write the next version to the history and make it current.
SAVE_RESOURCE = """
WITH cur AS (
    SELECT version_id, body FROM fhir_resources WHERE resource_type = $1 AND id = $2 FOR UPDATE
), next AS (
    SELECT COALESCE((SELECT version_id FROM cur), 0) + 1 AS v
    WHERE NOT EXISTS (SELECT 1 FROM cur WHERE (body #- '{meta,versionId}' #- '{meta,lastUpdated}') = $3::jsonb)
), doc AS (
    SELECT v, jsonb_set(jsonb_set($3::jsonb, '{meta,versionId}', to_jsonb(v::text)),
                        '{meta,lastUpdated}', to_jsonb($4::text)) AS body FROM next
), hist AS (
    INSERT INTO fhir_history (resource_type, id, version_id, last_updated, body)
    SELECT $1, $2, v, $5::timestamptz, body FROM doc
)
INSERT INTO fhir_resources (resource_type, id, version_id, last_updated, referral_id, identifier, patient,
                            status, focus, owner, body)
SELECT $1, $2, v, $5::timestamptz, $6::uuid, $7::text, $8::text, $9::text, $10::text, $11::text, body FROM doc
ON CONFLICT (resource_type, id) DO UPDATE SET version_id = EXCLUDED.version_id,
    last_updated = EXCLUDED.last_updated, patient = EXCLUDED.patient, status = EXCLUDED.status,
    focus = EXCLUDED.focus, owner = EXCLUDED.owner, body = EXCLUDED.body
RETURNING version_id
"""


async def save_resource(conn: asyncpg.Connection, body: dict, referral_id: str, now: datetime) -> int | None:
    """Store a new version when the content changed; returns its version id, or None when nothing changed."""
    body = {**body, "meta": {k: v for k, v in body.get("meta", {}).items() if k not in ("versionId", "lastUpdated")}}
    cols = search_columns(body)
    return await conn.fetchval(SAVE_RESOURCE, body["resourceType"], body["id"], body, now.isoformat(), now,
                               referral_id, cols["identifier"], cols["patient"], cols["status"], cols["focus"],
                               cols["owner"])


async def read_resource(conn: asyncpg.Connection, rtype: str, rid: str) -> asyncpg.Record | None:
    """The current version, with its referral's facility and consent (who may see it depends on them)."""
    return await conn.fetchrow(
        "SELECT r.version_id, r.last_updated, r.body, f.facility, f.consent FROM fhir_resources r"
        " JOIN referrals f ON f.id = r.referral_id WHERE r.resource_type = $1 AND r.id = $2", rtype, rid)


async def read_version(conn: asyncpg.Connection, rtype: str, rid: str, version: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT version_id, last_updated, body FROM fhir_history WHERE resource_type = $1 AND id = $2"
        " AND version_id = $3", rtype, rid, version)


async def history(conn: asyncpg.Connection, rtype: str, rid: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT version_id, last_updated, body FROM fhir_history WHERE resource_type = $1 AND id = $2"
        " ORDER BY version_id DESC", rtype, rid)


# A facility's own systems see its referrals only while the patient's consent permits disclosure, as a push would
# (domain.lifecycle.consent_active, here as SQL so that totals and pages count only what may be seen).
# (domain.consent.for_facility: the facility named among the recipients the patient listed, else by the scope).
DISCLOSABLE = ("referral_id IN (SELECT id FROM referrals WHERE facility = ANY(${}) AND consent->>'status' = 'active'"
               " AND CASE WHEN jsonb_typeof(consent->'recipients') = 'array' THEN consent->'recipients' @>"
               " jsonb_build_array(jsonb_build_object('system', 'urn:peerbridge:facility', 'value', facility))"
               " ELSE COALESCE(consent->>'scope', '') NOT IN ('peer-program-only', 'program-only') END"
               " AND (consent->>'expires_at' IS NULL OR (consent->>'expires_at')::timestamptz > ${}))")

# A named recipient's systems (an HIE): only under an active consent that names it (domain.consent.covers).
DISCLOSABLE_TO_NAMED = (
    "referral_id IN (SELECT id FROM referrals WHERE facility = ANY(${}) AND consent->>'status' = 'active'"
    " AND (consent->>'expires_at' IS NULL OR (consent->>'expires_at')::timestamptz > ${})"
    " AND consent->'recipients' @> jsonb_build_array(jsonb_build_object('system', ${}::text, 'value', ${}::text)))")


async def search(conn: asyncpg.Connection, rtype: str, where: list[tuple[str, str, object]],
                 count: int, offset: int, *, disclosed_to: list[str] | None = None,
                 now: datetime | None = None, recipient: tuple[str, str] | None = None
                 ) -> tuple[int, list[asyncpg.Record]]:
    """Matching current resources (total, one page); `where` holds (column, operator, value) from the parser;
    `disclosed_to` limits them to referrals of those facilities under an active consent at `now`."""
    clauses, args = ["resource_type = $1"], [rtype]
    for column, op, value in where:
        args.append(value)
        clauses.append(f"{column} {op}(${len(args)})" if op.endswith("ANY") else f"{column} {op} ${len(args)}")
    if disclosed_to is not None and recipient is not None:
        args += [disclosed_to, now, recipient[0], recipient[1]]
        clauses.append(DISCLOSABLE_TO_NAMED.format(*range(len(args) - 3, len(args) + 1)))
    elif disclosed_to is not None:
        args += [disclosed_to, now]
        clauses.append(DISCLOSABLE.format(len(args) - 1, len(args)))
    sql_where = " AND ".join(clauses)
    total = await conn.fetchval(f"SELECT count(*) FROM fhir_resources WHERE {sql_where}", *args)
    rows = await conn.fetch(
        f"SELECT id, version_id, last_updated, body FROM fhir_resources WHERE {sql_where}"
        f" ORDER BY last_updated, id LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}", *args, count, offset)
    return total, rows


async def enqueue_push(conn: asyncpg.Connection, referral_id: str, facility: str, now: datetime) -> None:
    await conn.execute("INSERT INTO push_queue (referral_id, facility, enqueued_at, next_attempt_at)"
                       " VALUES ($1, $2, $3, $3)", referral_id, facility, now)


async def lock_push_state(conn: asyncpg.Connection, referral_id: str) -> str | None:
    """Lock the referral's push state until commit and return the digest of the last Bundle its facility took."""
    return await conn.fetchval(
        "INSERT INTO push_state (referral_id) VALUES ($1) ON CONFLICT (referral_id)"
        " DO UPDATE SET referral_id = EXCLUDED.referral_id RETURNING pushed_digest", referral_id)


async def coalesce_pushes(conn: asyncpg.Connection, referral_id: str, seq: int, now: datetime) -> None:
    """Settle the referral's other pending pushes that no pusher holds: push `seq` will send their state too."""
    await conn.execute(
        "UPDATE push_queue SET state = 'coalesced', done_at = $3 WHERE seq IN (SELECT seq FROM push_queue"
        " WHERE referral_id = $1 AND state = 'pending' AND seq <> $2 FOR UPDATE SKIP LOCKED)", referral_id, seq, now)


async def record_push(conn: asyncpg.Connection, referral_id: str, digest: str, now: datetime) -> None:
    await conn.execute("UPDATE push_state SET pushed_digest = $2, pushed_at = $3 WHERE referral_id = $1",
                       referral_id, digest, now)


async def park(conn: asyncpg.Connection, event: PairingEvent, now: datetime) -> None:
    """Keep a pairing event that came before the visit's referral, as its data (the wire form)."""
    await conn.execute("INSERT INTO parked_events (facility, visit_number, name, data, parked_at)"
                       " VALUES ($1, $2, $3, $4, $5)", event.facility, event.visit_number, event.name(),
                       event.to_data(), now)


async def unpark(conn: asyncpg.Connection, facility: str, visit_number: str) -> list[PairingEvent]:
    """The visit's parked events in arrival order, as their contract models, removed from the table."""
    rows = await conn.fetch("DELETE FROM parked_events WHERE facility = $1 AND visit_number = $2"
                            " RETURNING seq, name, data", facility, visit_number)
    return [parse(event_class(r["name"]), r["data"]) for r in sorted(rows, key=lambda r: r["seq"])]


async def settle_without_endpoint(conn: asyncpg.Connection, facilities: list[str], now: datetime) -> None:
    """Settle in bulk the pending pushes of facilities with no FHIR server, not one transaction per change."""
    await conn.execute("UPDATE push_queue SET state = 'no-endpoint', done_at = $2 WHERE state = 'pending'"
                       " AND NOT (facility = ANY($1::text[]))", facilities, now)


async def next_push(conn: asyncpg.Connection, now: datetime) -> asyncpg.Record | None:
    """The oldest push due now that no other pusher holds, locked until commit."""
    return await conn.fetchrow("SELECT * FROM push_queue WHERE state = 'pending' AND next_attempt_at <= $1"
                               " ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED", now)


async def finish_push(conn: asyncpg.Connection, seq: int, state: str, now: datetime, status: int | None = None,
                      error: str | None = None) -> None:
    await conn.execute("UPDATE push_queue SET state = $2, last_status = $3, last_error = $4, done_at = $5,"
                       " attempts = attempts + 1 WHERE seq = $1", seq, state, status, error, now)


async def retry_push(conn: asyncpg.Connection, seq: int, at: datetime, status: int | None, error: str | None) -> None:
    await conn.execute("UPDATE push_queue SET attempts = attempts + 1, next_attempt_at = $2, last_status = $3,"
                       " last_error = $4 WHERE seq = $1", seq, at, status, error)
