"""SQL for the referral schema: referrals, versioned FHIR resources and the push queue."""
from __future__ import annotations

from datetime import datetime

import asyncpg

from services.contracts import Visit
from services.contracts.base import TOLERANT

from .domain.lifecycle import Referral


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
