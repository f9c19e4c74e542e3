"""SQL for inbound X12 files (999, 277CA, 835) and what they change: batches, claims, remittances."""
from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import orjson

# A 277CA or an 835 moves a claim only forward from these statuses (a late 277CA never undoes a payment).
ACK_FROM = {"accepted": ("exported", "rejected"), "rejected": ("exported", "accepted")}
REMIT_FROM = ("exported", "accepted", "rejected", "paid", "denied", "reversed")


async def file_by_sha(conn: asyncpg.Connection, sha256: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT id, kind, sha256, source, filename, summary, received_at FROM inbound_files"
                               " WHERE sha256 = $1", sha256)


async def insert_file(conn: asyncpg.Connection, *, file_id: str, sha256: str, kind: str, source: str,
                      filename: str | None, raw: bytes, summary: dict, received_at: datetime) -> bool:
    """Store the file once; False when the same bytes were stored meanwhile (a concurrent upload)."""
    done = await conn.fetchval(
        "INSERT INTO inbound_files (id, sha256, kind, source, filename, raw, summary, received_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sha256) DO NOTHING RETURNING true",
        file_id, sha256, kind, source, filename, raw, summary, received_at)
    return bool(done)


async def lock_sha(conn: asyncpg.Connection, sha256: str) -> None:
    """Two uploads of the same bytes at once: the second waits and then finds the first."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", "billing-inbound:" + sha256)


async def list_files(conn: asyncpg.Connection, kind: str | None) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT id, kind, sha256, source, filename, summary, received_at FROM inbound_files"
                            " WHERE $1::text IS NULL OR kind = $1 ORDER BY received_at DESC, seq DESC LIMIT 1000", kind)


async def get_file(conn: asyncpg.Connection, file_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM inbound_files WHERE id = $1", file_id)


async def acknowledge_batch(conn: asyncpg.Connection, group_control_number: int, status: str,
                            ack: dict) -> asyncpg.Record | None:
    """The 999's outcome on the batch whose GS06 it answers; a rejected file's claims become rejected."""
    batch = await conn.fetchrow(
        "UPDATE batches SET status = $2, acknowledgement = $3 WHERE interchange_control_number = $1"
        " RETURNING id, claim_count", group_control_number, status, ack)
    if batch is not None and status == "rejected":
        await conn.execute(
            "UPDATE claims SET status = 'rejected', acknowledgement = $2, updated_at = now()"
            " WHERE batch_id = $1 AND status = 'exported'", batch["id"], {"source": "999", **ack})
    return batch


async def acknowledge_claims(conn: asyncpg.Connection, acks: list[dict]) -> dict[str, str]:
    """Each 277CA claim on our claim of that number: status moved forward, the payer's number kept."""
    rows = await conn.fetch(
        "WITH a AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS a(claim_number text, accepted boolean,"
        " payer_claim_number text, ack jsonb))"
        " UPDATE claims c SET acknowledgement = a.ack,"
        " payer_claim_number = coalesce(a.payer_claim_number, c.payer_claim_number),"
        " status = CASE WHEN a.accepted AND c.status = ANY($2::text[]) THEN 'accepted'"
        "               WHEN NOT a.accepted AND c.status = ANY($3::text[]) THEN 'rejected' ELSE c.status END,"
        " updated_at = now() FROM a WHERE c.claim_number = a.claim_number RETURNING c.claim_number, c.id::text",
        acks, list(ACK_FROM["accepted"]), list(ACK_FROM["rejected"]))
    return {r["claim_number"]: r["id"] for r in rows}


async def insert_remittance(conn: asyncpg.Connection, *, file_id: str, remit, received_at: datetime) -> str:
    remittance_id = str(uuid.uuid4())
    await conn.execute(
        "INSERT INTO remittances (id, file_id, payer_name, payment_amount, payment_method, payment_date,"
        " trace_number, claims_paid, provider_adjustments, claim_count, received_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        remittance_id, file_id, remit.payer_name, remit.payment_amount, remit.method, remit.payment_date,
        remit.trace_number, remit.claims_paid, remit.plb_total, len(remit.claims), received_at)
    return remittance_id


async def post_claims(conn: asyncpg.Connection, remittance_id: str, claims: list) -> int:
    """Post every CLP: the 835's record of it in remittance_claims (one statement), and on our claim of that number
    its outcome, payment and a pointer to that record (one statement); returns how many were ours."""
    # Arrays rather than one JSON document: asyncpg sends them in binary, and PostgreSQL parses 10,000 small
    # documents (orjson-written) faster than one of several megabytes.
    numbers = [c.claim_number for c in claims]
    await conn.execute(
        "INSERT INTO remittance_claims (remittance_id, seq, claim_id, claim_number, status_code, outcome, charge,"
        " paid, patient_responsibility, payer_claim_number, detail)"
        " SELECT $1, r.seq, c.id, r.claim_number, r.status_code, r.outcome, r.charge, r.paid, r.patient,"
        " r.payer_number, r.detail::jsonb"
        " FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::numeric[], $8::numeric[],"
        " $9::text[], $10::text[]) AS r(seq, claim_number, status_code, outcome, charge, paid, patient, payer_number,"
        " detail) LEFT JOIN claims c ON c.claim_number = r.claim_number",
        remittance_id, [c.seq for c in claims], numbers, [c.status_code for c in claims],
        [c.outcome for c in claims], [c.charge for c in claims], [c.paid for c in claims],
        [c.patient_responsibility for c in claims], [c.payer_claim_number for c in claims],
        [orjson.dumps(c.detail()).decode() for c in claims])
    return await conn.fetchval(
        "WITH r AS (SELECT * FROM remittance_claims WHERE remittance_id = $1 AND claim_id IS NOT NULL),"
        " posted AS (UPDATE claims c SET paid_amount = r.paid,"
        " remittance = jsonb_build_object('remittance_id', r.remittance_id, 'seq', r.seq, 'outcome', r.outcome),"
        " payer_claim_number = coalesce(r.payer_claim_number, c.payer_claim_number),"
        " status = CASE WHEN c.status = ANY($2::text[]) THEN r.outcome ELSE c.status END, updated_at = now()"
        " FROM r WHERE c.id = r.claim_id RETURNING 1) SELECT count(*) FROM posted",
        remittance_id, list(REMIT_FROM))


async def remittance_detail(conn: asyncpg.Connection, pointer: dict | None) -> asyncpg.Record | None:
    """The 835's record of a claim (claims.remittance points at it), with its remittance's payment."""
    if not pointer:
        return None
    return await conn.fetchrow(
        "SELECT rc.detail, r.payer_name, r.payment_date, r.trace_number, r.received_at FROM remittance_claims rc"
        " JOIN remittances r ON r.id = rc.remittance_id WHERE rc.remittance_id = $1 AND rc.seq = $2",
        uuid.UUID(pointer["remittance_id"]), int(pointer["seq"]))


async def list_remittances(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM remittances ORDER BY received_at DESC, seq DESC LIMIT 1000")


async def get_remittance(conn: asyncpg.Connection, remittance_id: str) -> tuple[asyncpg.Record | None, list]:
    head = await conn.fetchrow("SELECT * FROM remittances WHERE id = $1", remittance_id)
    lines = await conn.fetch("SELECT * FROM remittance_claims WHERE remittance_id = $1 ORDER BY seq",
                             remittance_id) if head else []
    return head, lines


async def work_queue(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Claims a biller must act on: denied by the payer, rejected by the clearinghouse or the payer's front end."""
    return await conn.fetch(
        "SELECT c.*, rc.detail AS remittance_detail FROM claims c LEFT JOIN remittance_claims rc"
        " ON rc.remittance_id = (c.remittance->>'remittance_id')::uuid AND rc.seq = (c.remittance->>'seq')::int"
        " WHERE c.status IN ('denied', 'rejected') ORDER BY c.updated_at, c.claim_number LIMIT 1000")


async def record_refusal(conn: asyncpg.Connection, *, sha256: str, source: str, filename: str | None, raw: bytes,
                         problems: list[dict], at: datetime) -> str:
    """Keep a refused file for reprocessing; the same bytes again add an attempt and the latest reasons."""
    return str(await conn.fetchval(
        "INSERT INTO inbound_refusals (id, sha256, source, filename, raw, problems, first_refused_at, last_refused_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (sha256) DO UPDATE SET attempts ="
        " inbound_refusals.attempts + 1, problems = EXCLUDED.problems, last_refused_at = EXCLUDED.last_refused_at"
        " RETURNING id", str(uuid.uuid4()), sha256, source, filename, raw, problems, at))


async def list_refusals(conn: asyncpg.Connection, pending: bool) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, sha256, source, filename, problems, attempts, first_refused_at, last_refused_at, applied_file_id"
        " FROM inbound_refusals WHERE NOT $1 OR applied_file_id IS NULL ORDER BY last_refused_at DESC, seq DESC"
        " LIMIT 1000", pending)


async def get_refusal(conn: asyncpg.Connection, refusal_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM inbound_refusals WHERE id = $1", refusal_id)


async def mark_refusal_applied(conn: asyncpg.Connection, sha256: str, file_id: str) -> None:
    await conn.execute("UPDATE inbound_refusals SET applied_file_id = $2 WHERE sha256 = $1", sha256, file_id)
