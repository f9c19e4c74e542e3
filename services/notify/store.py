"""SQL for notify's schema: contacts, the rota, offers, alerts and messages."""
from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from .domain.routing import Contact

Conn = asyncpg.Connection


def new_id() -> str:
    return str(uuid.uuid4())


def as_contact(row) -> Contact:
    return Contact(str(row["id"]), row["channel"], row["address"], row["rank"], row["verified_at"] is not None)


async def contacts_of(conn: Conn, kind: str, person_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM contacts WHERE person_kind = $1 AND person_id = $2 ORDER BY rank",
                            kind, person_id)


async def replace_contacts(conn: Conn, kind: str, person_id: str, channels: list[dict], now: datetime,
                           verified_channels: set[str]) -> None:
    """The person's contacts become these, in this order; a contact kept keeps its verification."""
    keep = [(c["channel"], c["address"]) for c in channels]
    await conn.execute(
        "DELETE FROM contacts WHERE person_kind = $1 AND person_id = $2 AND (channel, address) NOT IN"
        " (SELECT * FROM unnest($3::text[], $4::text[]))", kind, person_id, [k[0] for k in keep], [k[1] for k in keep])
    for rank, c in enumerate(channels, start=1):
        verified = now if c["channel"] in verified_channels else None
        await conn.execute(
            "INSERT INTO contacts (id, person_kind, person_id, channel, address, rank, verified_at, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (person_kind, person_id, channel, address)"
            " DO UPDATE SET rank = EXCLUDED.rank", new_id(), kind, person_id, c["channel"], c["address"], rank,
            verified, now)


async def find_contact(conn: Conn, kind: str, person_id: str, channel: str, address: str, *, lock: bool = False):
    return await conn.fetchrow("SELECT * FROM contacts WHERE person_kind = $1 AND person_id = $2 AND channel = $3"
                               " AND address = $4" + (" FOR UPDATE" if lock else ""), kind, person_id, channel, address)


async def set_contact(conn: Conn, contact_id: str, **values) -> None:
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(values, start=2))
    await conn.execute(f"UPDATE contacts SET {sets} WHERE id = $1", contact_id, *values.values())


async def verified_sender(conn: Conn, channel: str, address: str) -> asyncpg.Record | None:
    """The person a verified address belongs to (the most recently verified, should two share it)."""
    return await conn.fetchrow("SELECT * FROM contacts WHERE channel = $1 AND address = $2 AND verified_at IS NOT NULL"
                               " ORDER BY verified_at DESC LIMIT 1", channel, address)


async def rota(conn: Conn, facility: str | None = None) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM oncall WHERE ($1::text IS NULL OR facility = $1) ORDER BY starts_at",
                            facility)


async def replace_rota(conn: Conn, facility: str, entries: list[dict]) -> None:
    await conn.execute("DELETE FROM oncall WHERE facility = $1", facility)
    await conn.executemany("INSERT INTO oncall (facility, supervisor_id, starts_at, ends_at) VALUES ($1, $2, $3, $4)",
                           [(facility, e["supervisor_id"], e["starts_at"], e["ends_at"]) for e in entries])


async def known_facilities(conn: Conn) -> list[str]:
    return [r["facility"] for r in await conn.fetch(
        "SELECT facility FROM oncall UNION SELECT facility FROM visit_places UNION SELECT facility FROM offers")]


async def save_places(conn: Conn, places: dict[tuple[str, str], tuple[str | None, str | None]]) -> None:
    """Keep several visits' places with one statement (each visit once: its latest place)."""
    keys = list(places)
    await conn.execute(
        "INSERT INTO visit_places (facility, visit_number, location, bed)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])"
        " ON CONFLICT (facility, visit_number) DO UPDATE SET location = EXCLUDED.location, bed = EXCLUDED.bed",
        [f for f, _ in keys], [v for _, v in keys], [places[k][0] for k in keys], [places[k][1] for k in keys])


async def place_of(conn: Conn, facility: str, visit_number: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT location, bed FROM visit_places WHERE facility = $1 AND visit_number = $2",
                               facility, visit_number)


async def offers_known(conn: Conn, specialist_ids: list[str], assignment_ids: list[str]) -> list[asyncpg.Record]:
    """Of a run of offers: the open offers of their peers (whose reply codes a new offer must not repeat) and those
    of the offers already recorded (a redelivery under another event id), in one statement."""
    return await conn.fetch(
        "SELECT assignment_id::text, specialist_id, reply_code, status FROM offers"
        " WHERE (specialist_id = ANY($1::text[]) AND status = 'offered') OR assignment_id = ANY($2::uuid[])",
        specialist_ids, assignment_ids)


async def contacts_of_many(conn: Conn, kind: str, person_ids: list[str]) -> dict[str, list[asyncpg.Record]]:
    """Several people's contacts, each person's in rank order, with one statement."""
    found: dict[str, list[asyncpg.Record]] = {p: [] for p in person_ids}
    for row in await conn.fetch("SELECT * FROM contacts WHERE person_kind = $1 AND person_id = ANY($2::text[])"
                                " ORDER BY person_id, rank", kind, person_ids):
        found[row["person_id"]].append(row)
    return found


# Offers and the messages telling their peers, in one statement: a message only for an offer this statement recorded
# (a concurrent consumer may have recorded it first), each once per (cause, recipient, channel).
INSERT_OFFERS = """
WITH o AS (
    INSERT INTO offers (assignment_id, specialist_id, facility, visit_number, reply_code, offered_at, expires_at,
                        status)
    SELECT *, 'offered' FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
                                    $7::timestamptz[])
    ON CONFLICT DO NOTHING RETURNING assignment_id
), m AS (
    INSERT INTO messages (id, cause, kind, recipient_kind, recipient_id, channel, contact_id, address, facility,
                          visit_number, assignment_id, context, status, next_attempt_at, created_at)
    SELECT m.id, m.cause, 'offer', 'specialist', m.recipient_id, m.channel, m.contact_id, m.address, m.facility,
           m.visit_number, m.assignment_id, m.context, 'queued', m.at, m.at
    FROM unnest($8::uuid[], $9::text[], $10::text[], $11::text[], $12::uuid[], $13::text[], $14::text[], $15::text[],
                $16::uuid[], $17::jsonb[], $18::timestamptz[])
         AS m(id, cause, recipient_id, channel, contact_id, address, facility, visit_number, assignment_id, context, at)
    JOIN o USING (assignment_id)
    ON CONFLICT (cause, recipient_id, channel) DO NOTHING RETURNING id, assignment_id
)
SELECT o.assignment_id::text AS assignment_id, m.id::text AS message_id
FROM o LEFT JOIN m USING (assignment_id)
"""
OFFER_COLUMNS = ("assignment_id", "specialist_id", "facility", "visit_number", "reply_code", "offered_at",
                 "expires_at")
MESSAGE_COLUMNS = ("id", "cause", "recipient_id", "channel", "contact_id", "address", "facility", "visit_number",
                   "assignment_id", "context", "now")


async def insert_offers(conn: Conn, offers: list[dict], messages: list[dict]) -> dict[str, str | None]:
    """Record offers (OFFER_COLUMNS) and queue the offer messages to their peers (MESSAGE_COLUMNS, `id` given);
    returns {assignment_id: message id, or None when no message was queued} for the offers recorded now."""
    messages = [{**m, "context": json.loads(json.dumps(m["context"], default=str))} for m in messages]
    rows = await conn.fetch(INSERT_OFFERS, *([o[c] for o in offers] for c in OFFER_COLUMNS),
                            *([m[c] for m in messages] for c in MESSAGE_COLUMNS))
    return {r["assignment_id"]: r["message_id"] for r in rows}


async def close_offer(conn: Conn, assignment_id: str, status: str, now: datetime) -> asyncpg.Record | None:
    """Mark an offer answered, expired or withdrawn; the row as it was before, or None when unknown or closed."""
    return await conn.fetchrow(
        "UPDATE offers o SET status = $2, closed_at = $3 FROM offers old WHERE o.assignment_id = $1"
        " AND old.assignment_id = o.assignment_id AND o.closed_at IS NULL RETURNING old.*", assignment_id, status, now)


async def offers_of(conn: Conn, specialist_id: str, limit: int = 20) -> list[asyncpg.Record]:
    """The peer's offers, newest first, locked: a reply reads and answers them in one transaction."""
    return await conn.fetch("SELECT * FROM offers WHERE specialist_id = $1 ORDER BY offered_at DESC LIMIT $2"
                            " FOR UPDATE", specialist_id, limit)


async def record_reply(conn: Conn, assignment_id: str, reply: str, now: datetime) -> None:
    await conn.execute("UPDATE offers SET reply = $2, replied_at = $3 WHERE assignment_id = $1",
                       assignment_id, reply, now)


async def insert_message(conn: Conn, **m: Any) -> asyncpg.Record | None:
    """Queue a message; its row, or None when this (cause, recipient, channel) was queued before."""
    return await conn.fetchrow(
        "INSERT INTO messages (id, cause, kind, recipient_kind, recipient_id, channel, contact_id, address, facility,"
        " visit_number, assignment_id, alert_id, context, status, next_attempt_at, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'queued', $14, $14)"
        " ON CONFLICT (cause, recipient_id, channel) DO NOTHING RETURNING *",
        new_id(), m["cause"], m["kind"], m["recipient_kind"], m["recipient_id"], m["channel"], m.get("contact_id"),
        m["address"], m.get("facility"), m.get("visit_number"), m.get("assignment_id"), m.get("alert_id"),
        json.loads(json.dumps(m.get("context") or {}, default=str)), m["now"])


async def take_due(conn: Conn, now: datetime, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM messages WHERE status = 'queued' AND next_attempt_at <= $1"
                            " ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED", now, limit)


async def take_fallbacks(conn: Conn, now: datetime, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM messages WHERE fallback_at <= $1 ORDER BY fallback_at LIMIT $2"
                            " FOR UPDATE SKIP LOCKED", now, limit)


async def update_message(conn: Conn, message_id: str, **values) -> asyncpg.Record:
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(values, start=2))
    return await conn.fetchrow(f"UPDATE messages SET {sets} WHERE id = $1 RETURNING *", message_id, *values.values())


async def channels_tried(conn: Conn, cause: str, recipient_id: str) -> set[str]:
    return {r["channel"] for r in await conn.fetch(
        "SELECT channel FROM messages WHERE cause = $1 AND recipient_id = $2", cause, recipient_id)}


async def message_by_provider_ref(conn: Conn, ref: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM messages WHERE provider_ref = $1 FOR UPDATE", ref)


async def get_message(conn: Conn, message_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM messages WHERE id = $1", message_id)


async def list_messages(conn: Conn, *, facility: str | None, visit_number: str | None, assignment_id: str | None,
                        limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM messages WHERE ($1::text IS NULL OR facility = $1) AND ($2::text IS NULL OR visit_number = $2)"
        " AND ($3::uuid IS NULL OR assignment_id = $3) ORDER BY created_at, id LIMIT $4",
        facility, visit_number, assignment_id, limit)


async def open_messages_of(conn: Conn, *, assignment_id: str | None = None, alert_id: str | None = None):
    """Messages about an offer or an alert that are still waiting to go or for a receipt, locked."""
    return await conn.fetch(
        "SELECT * FROM messages WHERE ((assignment_id = $1 AND kind = 'offer') OR alert_id = $2)"
        " AND (status = 'queued' OR fallback_at IS NOT NULL) FOR UPDATE", assignment_id, alert_id)


async def insert_alert(conn: Conn, **a) -> str | None:
    return await conn.fetchval(
        "INSERT INTO alerts (id, event_id, facility, visit_number, case_id, supervisor_id, raised_at, next_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id) DO NOTHING RETURNING id::text",
        new_id(), a["event_id"], a["facility"], a["visit_number"], a["case_id"], a["supervisor_id"], a["raised_at"],
        a["next_at"])


async def due_alerts(conn: Conn, now: datetime, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM alerts WHERE acked_at IS NULL AND next_at <= $1 ORDER BY next_at"
                            " LIMIT $2 FOR UPDATE SKIP LOCKED", now, limit)


async def set_alert(conn: Conn, alert_id: str, **values) -> asyncpg.Record | None:
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(values, start=2))
    return await conn.fetchrow(f"UPDATE alerts SET {sets} WHERE id = $1 RETURNING *", alert_id, *values.values())


async def get_alert(conn: Conn, alert_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM alerts WHERE id = $1" + (" FOR UPDATE" if lock else ""), alert_id)


async def open_alerts(conn: Conn, *, facility: str | None = None, visit_number: str | None = None,
                      supervisor_id: str | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM alerts WHERE acked_at IS NULL AND ($1::text IS NULL OR facility = $1)"
        " AND ($2::text IS NULL OR visit_number = $2) AND ($3::text IS NULL OR supervisor_id = $3)"
        " ORDER BY raised_at FOR UPDATE", facility, visit_number, supervisor_id)


async def list_alerts(conn: Conn, *, facility: str | None, open_only: bool, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM alerts WHERE ($1::text IS NULL OR facility = $1)"
                            " AND (NOT $2 OR acked_at IS NULL) ORDER BY raised_at DESC LIMIT $3",
                            facility, open_only, limit)


async def inbound_once(conn: Conn, ref: str, now: datetime, outcome: str) -> bool:
    """Record an inbound text by its provider id; False when it was handled before (a webhook retry)."""
    return bool(await conn.fetchval("INSERT INTO inbound (provider_ref, received_at, outcome) VALUES ($1, $2, $3)"
                                    " ON CONFLICT DO NOTHING RETURNING true", ref, now, outcome))
