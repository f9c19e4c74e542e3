"""SQL for inbound X12 files (999, 277CA, 835) and what they change: batches, claims, remittances."""
from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

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
    """Post every CLP: one statement updates our claims, one copy stores the remittance lines; matched count."""
    details = [{"claim_number": c.claim_number, "outcome": c.outcome, "paid": str(c.paid),
                "payer_claim_number": c.payer_claim_number, "detail": {"remittance_id": remittance_id,
                                                                       **c.detail()}} for c in claims]
    matched = dict(await conn.fetch(  # claim number -> our claim id
        "WITH r AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(claim_number text, outcome text, paid numeric,"
        " payer_claim_number text, detail jsonb))"
        " UPDATE claims c SET remittance = r.detail, paid_amount = r.paid,"
        " payer_claim_number = coalesce(r.payer_claim_number, c.payer_claim_number),"
        " status = CASE WHEN c.status = ANY($2::text[]) THEN r.outcome ELSE c.status END, updated_at = now()"
        " FROM r WHERE c.claim_number = r.claim_number RETURNING c.claim_number, c.id", details, list(REMIT_FROM)))
    # One statement for the lines too (COPY cannot encode the jsonb detail with the pool's text codec).
    await conn.execute(
        "INSERT INTO remittance_claims (remittance_id, seq, claim_id, claim_number, status_code, outcome, charge,"
        " paid, patient_responsibility, payer_claim_number, detail)"
        " SELECT $1, r.seq, c.id, r.claim_number, r.status_code, r.outcome, r.charge, r.paid, r.patient_responsibility,"
        " r.payer_claim_number, r.detail FROM jsonb_to_recordset($2::jsonb) AS r(seq int, claim_number text,"
        " status_code text, outcome text, charge numeric, paid numeric, patient_responsibility numeric,"
        " payer_claim_number text, detail jsonb) LEFT JOIN claims c ON c.claim_number = r.claim_number",
        remittance_id, [{"seq": c.seq, "claim_number": c.claim_number, "status_code": c.status_code,
                         "outcome": c.outcome, "charge": str(c.charge), "paid": str(c.paid),
                         "patient_responsibility": None if c.patient_responsibility is None
                         else str(c.patient_responsibility), "payer_claim_number": c.payer_claim_number,
                         "detail": d["detail"]} for c, d in zip(claims, details)])
    return len(matched)


async def list_remittances(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM remittances ORDER BY received_at DESC, seq DESC LIMIT 1000")


async def get_remittance(conn: asyncpg.Connection, remittance_id: str) -> tuple[asyncpg.Record | None, list]:
    head = await conn.fetchrow("SELECT * FROM remittances WHERE id = $1", remittance_id)
    lines = await conn.fetch("SELECT * FROM remittance_claims WHERE remittance_id = $1 ORDER BY seq",
                             remittance_id) if head else []
    return head, lines


async def work_queue(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Claims a biller must act on: denied by the payer, rejected by the clearinghouse or the payer's front end."""
    return await conn.fetch("SELECT * FROM claims WHERE status IN ('denied', 'rejected')"
                            " ORDER BY updated_at, claim_number LIMIT 1000")
