"""Subscription notifications: queued with the Task change that causes them, delivered by rest-hook with retries
and backoff, heartbeats on quiet subscriptions, the delivery state shown on the Subscription."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import asyncpg
import httpx
import structlog

from services.runtime.fhir_errors import FHIR_JSON
from services.runtime.loops import Backoff, run_loop

from . import audit
from .domain.consent import covers, for_facility
from .domain.lifecycle import Referral, consent_active

log = structlog.get_logger("referral.subscriptions")

# Notifications of any number of changes in one statement: the matching subscriptions of each change (an ehr
# subscriber's only while the patient's consent lets its facility see it; a change that only became visible, to the
# facility's subscribers alone), numbered per subscription in the changes' order.
ENQUEUE = """
WITH note AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::int[], $7::text[],
                         $8::bool[], $9::bool[], $10::text[], $11::bool[])
        AS n(n, resource_type, status, owner, referral_id, version, facility, visible, active, named, newly_visible)
), hit AS (
    SELECT s.id, note.n, note.referral_id, note.version, note.resource_type
    FROM subscriptions s JOIN note ON s.resource_type = note.resource_type
    WHERE s.status <> 'off' AND (s.statuses IS NULL OR note.status = ANY(s.statuses))
      AND (s.owners IS NULL OR note.owner = ANY(s.owners))
      AND (s.focuses IS NULL OR note.referral_id::text = ANY(s.focuses))
      AND ((s.facilities IS NULL AND NOT note.newly_visible) OR (note.facility = ANY(s.facilities)
           AND CASE WHEN s.recipient IS NULL THEN note.visible
                    ELSE note.active AND note.named::jsonb ? s.recipient END))
), locked AS (  -- in id order, so transactions that notify the same subscriptions wait instead of deadlocking
    SELECT s.id FROM subscriptions s WHERE s.id IN (SELECT id FROM hit) ORDER BY s.id FOR UPDATE
), bump AS (
    UPDATE subscriptions s SET events_since_start = s.events_since_start + h.k
    FROM (SELECT id, count(*) AS k FROM hit GROUP BY id) AS h
    WHERE s.id = h.id AND s.id IN (SELECT id FROM locked) AND s.status <> 'off'
    RETURNING s.id, s.events_since_start - h.k AS base
)
INSERT INTO subscription_deliveries (subscription_id, kind, event_number, referral_id, task_version, created_at,
                                     next_attempt_at, resource_type)
SELECT hit.id, 'event-notification', bump.base + row_number() OVER (PARTITION BY hit.id ORDER BY hit.n),
       hit.referral_id, hit.version, $12, $12, hit.resource_type
FROM hit JOIN bump ON bump.id = hit.id ORDER BY hit.n, hit.id
"""
HEARTBEATS = """
INSERT INTO subscription_deliveries (subscription_id, kind, created_at, next_attempt_at)
SELECT s.id, 'heartbeat', $1, $1 FROM subscriptions s
WHERE s.status <> 'off' AND s.heartbeat_seconds > 0
  AND COALESCE(s.last_sent_at, s.created_at) + make_interval(secs => s.heartbeat_seconds) <= $1
  AND NOT EXISTS (SELECT 1 FROM subscription_deliveries d WHERE d.subscription_id = s.id AND d.state = 'pending')
"""


def change(ref: Referral, body: dict, version: int, now: datetime, *, newly_visible: bool = False) -> dict | None:
    """What subscribers match a new Task or ServiceRequest version on (domain/criteria.py: status, owner, focus,
    facility); `newly_visible`: it is unchanged but a consent now lets its facility see it, so only the facility's
    subscribers hear of it (None when it does not). Queued by `enqueue` in the transaction that writes it."""
    active = consent_active(ref.consent, now)
    visible = active and for_facility(ref.consent, ref.facility)
    named = [f"{r['system']}|{r['value']}" for r in (ref.consent or {}).get("recipients") or ()]
    if newly_visible and not (visible or (active and named)):
        return None
    owner = (ref.owner or "").lower() if body["resourceType"] == "Task" else None
    return dict(resource_type=body["resourceType"], status=body["status"], owner=owner or None, referral_id=ref.id,
                version=version, facility=ref.facility, visible=visible, active=active, named=named,
                newly_visible=newly_visible)


async def enqueue(conn: asyncpg.Connection, changes: list[dict], now: datetime) -> None:
    """Queue the notifications the changes cause (in their order), with one statement."""
    if not changes:
        return
    columns = ("resource_type", "status", "owner", "referral_id", "version", "facility", "visible", "active", "named",
               "newly_visible")
    rows = [{**c, "named": json.dumps(c["named"])} for c in changes]  # a list in a list would be a 2-D array
    await conn.execute(ENQUEUE, list(range(len(rows))), *([c[k] for c in rows] for k in columns), now)


def notification(sub: asyncpg.Record, row: asyncpg.Record, task: dict | None, base_url: str, now: datetime) -> dict:
    """The R4 notification Bundle (history) in the style of the Subscriptions R5 Backport: a Parameters status
    entry first (subscription, status, type, events since start, the event and its focus), then the Task for
    full-resource subscriptions."""
    params = [{"name": "subscription", "valueReference": {"reference": f"Subscription/{sub['id']}"}},
              {"name": "status", "valueCode": "error" if sub["status"] == "error" else "active"},
              {"name": "type", "valueCode": row["kind"]},
              {"name": "events-since-subscription-start", "valueString": str(sub["events_since_start"])}]
    if row["kind"] == "event-notification":
        params.append({"name": "notification-event", "part": [
            {"name": "event-number", "valueString": str(row["event_number"])},
            {"name": "timestamp", "valueInstant": row["created_at"].isoformat()},
            {"name": "focus", "valueReference": {
                "reference": f"{base_url}/{row['resource_type']}/{row['referral_id']}"}}]})
    status_entry = {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": {"resourceType": "Parameters",
                                                                        "parameter": params},
                    "request": {"method": "GET", "url": f"Subscription/{sub['id']}/$status"},
                    "response": {"status": "200"}}
    entries = [status_entry]
    if task is not None:
        rtype = task["resourceType"]
        entries.append({"fullUrl": f"{base_url}/{rtype}/{task['id']}", "resource": task,
                        "request": {"method": "PUT", "url": f"{rtype}/{task['id']}"},
                        "response": {"status": "200", "etag": f'W/"{task["meta"]["versionId"]}"'}})
    return {"resourceType": "Bundle", "type": "history", "timestamp": now.isoformat(), "entry": entries}


async def _still_visible(conn: asyncpg.Connection, sub: asyncpg.Record, row: asyncpg.Record, now: datetime) -> bool:
    """Whether an ehr subscriber may still hear of the Task: its consent lets the facility see it now."""
    if sub["facilities"] is None or row["kind"] != "event-notification":
        return True
    ref = await conn.fetchrow("SELECT consent, facility FROM referrals WHERE id = $1", row["referral_id"])
    named = tuple(sub["recipient"].split("|", 1)) if sub["recipient"] else None
    return consent_active(ref["consent"], now) and covers(ref["consent"], ref["facility"], named)


class Deliverer:
    """Works subscription_deliveries: one POST per notification, retried with backoff until it is taken."""

    def __init__(self, runtime, settings, *, transport: httpx.AsyncBaseTransport | None = None):
        self.runtime, self.settings = runtime, settings
        self.base_url = settings.public_fhir_base_url.rstrip("/")
        self.retry = Backoff(first=settings.subscription_backoff_seconds, factor=2.0,
                             cap=settings.subscription_max_backoff_seconds)
        self.client = httpx.AsyncClient(transport=transport, timeout=settings.push_timeout_seconds)

    async def run(self) -> None:
        try:
            await run_loop(self.deliver_due, name="subscriptions", log=log, failed="subscription_loop_failed",
                           every=self.settings.push_poll_seconds,
                           backoff=Backoff(first=self.settings.push_poll_seconds, factor=2.0, cap=10.0))
        finally:
            await self.client.aclose()

    async def deliver_due(self) -> None:
        await self.runtime.pool.execute(HEARTBEATS, self.runtime.clock.now())
        while await self.deliver_one():
            pass

    async def deliver_one(self) -> bool:
        clock = self.runtime.clock
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT * FROM subscription_deliveries WHERE state = 'pending'"
                                      " AND next_attempt_at <= $1 ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED",
                                      clock.now())
            if row is None:
                return False
            sub = await conn.fetchrow("SELECT * FROM subscriptions WHERE id = $1", row["subscription_id"])
            if sub["status"] == "off":
                await conn.execute("UPDATE subscription_deliveries SET state = 'dropped', done_at = $2"
                                   " WHERE seq = $1", row["seq"], clock.now())
                return True
            if not await _still_visible(conn, sub, row, clock.now()):
                # The consent ended (revoked, expired) after the change was queued: it no longer leaves.
                await conn.execute("UPDATE subscription_deliveries SET state = 'withheld', done_at = $2"
                                   " WHERE seq = $1", row["seq"], clock.now())
                return True
            task = None
            if sub["full_resource"] and row["kind"] == "event-notification":
                task = await conn.fetchval("SELECT body FROM fhir_history WHERE resource_type = $3 AND id = $1"
                                           " AND version_id = $2", row["referral_id"], row["task_version"],
                                           row["resource_type"])
            body = json.dumps(notification(sub, row, task, self.base_url, clock.now())).encode()
            status, error = await self._post(sub, body)
            now = clock.now()
            if status is not None and 200 <= status < 300:
                await conn.execute("UPDATE subscription_deliveries SET state = 'sent', attempts = attempts + 1,"
                                   " last_status = $2, done_at = $3 WHERE seq = $1", row["seq"], status, now)
                await conn.execute("UPDATE subscriptions SET status = 'active', error = NULL, last_sent_at = $2"
                                   " WHERE id = $1", sub["id"], now)
                if row["kind"] == "event-notification":
                    await audit.record(conn, audit.AuditRecord(
                        action="notification", actor="referral-subscriptions", purpose="TREAT", outcome="success",
                        resource_type=row["resource_type"], resource_ids=(str(row["referral_id"]),),
                        referral_id=str(row["referral_id"]), destination=sub["owner"], status_code=status), now)
                return True
            delay = self.retry.delay(row["attempts"] + 1)
            await conn.execute("UPDATE subscription_deliveries SET attempts = attempts + 1, next_attempt_at = $2,"
                               " last_status = $3, last_error = $4 WHERE seq = $1",
                               row["seq"], now + timedelta(seconds=delay), status, error)
            await conn.execute("UPDATE subscriptions SET status = 'error', error = $2 WHERE id = $1",
                               sub["id"], f"delivery failing since {row['created_at'].isoformat()}: {error}")
            log.warning("subscription_delivery_retry", subscription_id=str(sub["id"]), status_code=status,
                        error_class=error, attempt=row["attempts"] + 1)
            return True

    async def _post(self, sub: asyncpg.Record, body: bytes) -> tuple[int | None, str | None]:
        headers = {"Content-Type": FHIR_JSON}
        for line in sub["headers"]:
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
        try:
            response = await self.client.post(sub["endpoint"], content=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, type(exc).__name__
        return response.status_code, None if response.is_success else f"HTTP {response.status_code}"
