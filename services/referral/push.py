"""The push loop: sends queued referral changes to each facility's FHIR server, consent permitting, with backoff."""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import httpx
import structlog

from services.contracts import DisclosureHeld, DisclosureSent
from services.runtime.fhir_errors import FHIR_JSON
from services.runtime.loops import Backoff, run_loop
from services.runtime.outbox import UnitOfWork

from . import audit, store
from .handlers import ids
from .domain.disclosure import hold_reason, transaction
from .settings import ReferralSettings

log = structlog.get_logger("referral.push")
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


class Pusher:
    """Works the push_queue: one transaction Bundle per queued change, retried until the server takes it."""

    def __init__(self, runtime, settings: ReferralSettings, *, transport: httpx.AsyncBaseTransport | None = None):
        self.runtime = runtime
        self.settings = settings
        self.endpoints = settings.endpoints()
        # A refused push waits in the queue (next_attempt_at, by the injected clock), not in this loop.
        self.retry_backoff = Backoff(first=settings.push_backoff_seconds, factor=2.0,
                                     cap=settings.push_max_backoff_seconds)
        self.client = httpx.AsyncClient(transport=transport, timeout=settings.push_timeout_seconds,
                                        headers={"Accept": FHIR_JSON, "Content-Type": FHIR_JSON})

    async def run(self) -> None:
        """Push until cancelled; when the database is away the rows stay queued for a later round."""
        try:
            await run_loop(self.push_due, name="push", log=log, failed="push_loop_failed",
                           every=self.settings.push_poll_seconds,
                           backoff=Backoff(first=self.settings.push_poll_seconds, factor=2.0, cap=10.0))
        finally:
            await self.client.aclose()

    async def push_due(self) -> None:
        """Process every change due now."""
        while await self.push_one():
            pass

    async def push_one(self) -> bool:
        """Process the oldest due change; False when none is due."""
        clock = self.runtime.clock
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            # Facilities without a FHIR server: settled in bulk, not one transaction per change.
            await conn.execute("UPDATE push_queue SET state = 'no-endpoint', done_at = $2 WHERE state = 'pending'"
                               " AND NOT (facility = ANY($1::text[]))", list(self.endpoints), clock.now())
            row = await conn.fetchrow(
                "SELECT * FROM push_queue WHERE state = 'pending' AND next_attempt_at <= $1"
                " ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED", clock.now())
            if row is None:
                return False
            base_url = self.endpoints[row["facility"]]
            # One push of a referral at a time (a second pusher waits here), covering every change queued so far:
            # its other rows are settled before its state is read, so that state includes what they queued.
            last_digest = await store.lock_push_state(conn, row["referral_id"])
            await store.coalesce_pushes(conn, row["referral_id"], row["seq"], clock.now())
            ref = store.to_domain(await store.get_referral_by_id(conn, row["referral_id"]))
            uow = UnitOfWork(conn, "referral", clock=clock)
            entry = dict(action="disclosure", actor="referral-push", purpose="TREAT", resource_type="ServiceRequest",
                         resource_ids=(ref.id,), referral_id=ref.id, destination=ref.facility)
            reason = hold_reason(ref, clock.now())
            if reason:
                await self._finish(conn, row["seq"], "held")
                await audit.record(conn, audit.AuditRecord(**entry, outcome="held"), clock.now())
                await uow.emit(DisclosureHeld(**ids(ref), reason=reason))
                return True
            body = json.dumps(transaction(ref)).encode()
            digest = hashlib.sha256(body).hexdigest()
            if digest == last_digest:  # the hospital already holds this very state
                await self._finish(conn, row["seq"], "unchanged")
                return True
            status, error = await self._send(base_url, body)
            if status is not None and 200 <= status < 300:
                await self._finish(conn, row["seq"], "sent", status)
                await store.record_push(conn, ref.id, digest, clock.now())
                await audit.record(conn, audit.AuditRecord(**entry, outcome="success", status_code=status), clock.now())
                await uow.emit(DisclosureSent(**ids(ref), consent_id=f"Consent/{ref.id}", status_code=status))
                return True
            await audit.record(conn, audit.AuditRecord(**entry, outcome="failed", status_code=status), clock.now())
            if status is not None and status not in RETRYABLE:
                await self._finish(conn, row["seq"], "rejected", status, error)
                log.error("push_rejected", referral_id=ref.id, status_code=status, facility=ref.facility)
                return True
            delay = self.retry_backoff.delay(row["attempts"] + 1)
            await conn.execute(
                "UPDATE push_queue SET attempts = attempts + 1, next_attempt_at = $2, last_status = $3, last_error = $4"
                " WHERE seq = $1", row["seq"], clock.now() + timedelta(seconds=delay), status, error)
            log.warning("push_retry", referral_id=ref.id, status_code=status, error_class=error,
                        attempt=row["attempts"] + 1, facility=ref.facility)
            return True

    async def _send(self, base_url: str, body: bytes) -> tuple[int | None, str | None]:
        try:
            response = await self.client.post(base_url.rstrip("/"), content=body)
        except httpx.HTTPError as exc:
            return None, type(exc).__name__
        return response.status_code, None if response.is_success else f"HTTP {response.status_code}"

    async def _finish(self, conn, seq: int, state: str, status: int | None = None, error: str | None = None) -> None:
        await conn.execute("UPDATE push_queue SET state = $2, last_status = $3, last_error = $4, done_at = $5,"
                           " attempts = attempts + 1 WHERE seq = $1",
                           seq, state, status, error, self.runtime.clock.now())
