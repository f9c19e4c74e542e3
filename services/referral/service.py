"""Referral's use cases: a referral is created, moved by pairing and intake events, disclosed when consent allows."""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Awaitable, Callable

import asyncpg
import structlog

from services.contracts import (
    DisclosureHeld,
    DisclosureSent,
    PeerSupportIndicated,
    ReferralCreated,
    ReferralStatusChanged,
)
from services.runtime.clock import Clock
from services.runtime.loops import Backoff
from services.runtime.outbox import UnitOfWork

from . import audit, hooks, store
from .domain import fhir
from .domain.disclosure import hold_reason, revocation, transaction
from .domain.lifecycle import Move, Referral, VisitEnded, expire_consent, transition

log = structlog.get_logger("referral.push")  # the push outcomes keep the logger they always had
# 401 too: it comes back only after the token was renewed once, so the registration needs fixing, not the data.
# Hold reasons under which a recipient that already holds the referral is told the consent ended.
ENDING = frozenset({"consent-revoked", "consent-expired", "consent-not-for-recipient"})
# What Subscriptions can be on (domain/criteria.py).
NOTIFYING = ("ServiceRequest", "Task")
RETRYABLE = frozenset({401, 408, 425, 429, 500, 502, 503, 504})
# Sends a Bundle to a facility's FHIR base URL: the HTTP status (None when none came back) and an error class or text.
Send = Callable[[str, str, bytes], Awaitable[tuple[int | None, str | None]]]


async def write_resources(uow: UnitOfWork, ref: Referral) -> bool:
    """Store a new version of every resource whose content changed; True when any did."""
    now = uow.clock.now()
    saved = {}
    for rtype, body in fhir.resources(ref).items():
        version = await store.save_resource(uow.conn, body, ref.id, now)
        if version is not None:
            saved[rtype] = version
            if rtype in NOTIFYING:  # subscribers hear of it with the change, never before or without
                await hooks.resource_changed(uow.conn, ref, body, version, now)
    for rtype in NOTIFYING:
        if "Consent" in saved and rtype not in saved:
            # A consent that lets the facility see it: its subscribers hear of it as it stands.
            current = await store.read_resource(uow.conn, rtype, ref.id)
            await hooks.resource_changed(uow.conn, ref, current["body"], current["version_id"], now,
                                         newly_visible=True)
    return bool(saved)


def ids(ref: Referral) -> dict[str, str]:
    """The ids every referral event carries: the ServiceRequest and the Task share the referral's id."""
    return dict(referral_id=ref.id, facility=ref.facility, visit_number=ref.visit_number,
                service_request_id=ref.id, task_id=ref.id)


async def create_referral(uow: UnitOfWork, visit: PeerSupportIndicated) -> None:
    """Create the referral (ServiceRequest + Task) for the visit, once, then apply pairing events that came early."""
    authored_on = uow.cause.time
    await store.lock_visit(uow.conn, visit.facility, visit.visit_number)
    referral_id = await store.create_referral(uow.conn, visit, authored_on)
    if referral_id is None:
        return
    ref = Referral(id=referral_id, facility=visit.facility, visit_number=visit.visit_number, visit=visit,
                   authored_on=authored_on)
    await write_resources(uow, ref)
    await store.enqueue_push(uow.conn, ref.id, ref.facility, uow.clock.now())
    await uow.emit(ReferralCreated(**ids(ref)))
    for parked in await store.unpark(uow.conn, ref.facility, ref.visit_number):
        ref = await apply(uow, ref, parked)


async def move_referral(uow: UnitOfWork, event: Move) -> None:
    """Apply a pairing or intake event to the visit's referral; park pairing events that overtook it."""
    await store.lock_visit(uow.conn, event.facility, event.visit_number)
    row = await store.get_referral(uow.conn, event.facility, event.visit_number, lock=True)
    if row is not None:
        await apply(uow, store.to_domain(row), event)
    elif not isinstance(event, VisitEnded):
        # Pairing acts only on PeerSupportIndicated, so the referral is coming: keep the event until it does.
        await store.park(uow.conn, event, uow.clock.now())


async def apply(uow: UnitOfWork, before: Referral, event: Move) -> Referral:
    """Move the referral; on a change, new resource versions, a queued push and ReferralStatusChanged."""
    after = transition(before, event)
    if after == before:
        return after
    await store.save_referral(uow.conn, after, uow.clock.now())
    if not await write_resources(uow, after):
        return after
    await store.enqueue_push(uow.conn, after.id, after.facility, uow.clock.now())
    if (after.status, after.business_status) != (before.status, before.business_status):
        await uow.emit(ReferralStatusChanged(**ids(after), status=after.status,
                                             business_status=after.business_status))
    return after


async def expire_consents(pool: asyncpg.Pool, clock: Clock) -> int:
    """End every consent whose expiry has passed (by the injected clock): new Consent versions and queued pushes
    that tell the hospital; the number ended."""
    ended = 0
    for referral_id in await store.expired_consents(pool, clock.now()):
        async with pool.acquire() as conn, conn.transaction():
            row = await store.get_referral_by_id(conn, referral_id, lock=True)
            before = store.to_domain(row)
            after = expire_consent(before, clock.now())
            if after == before:
                continue
            await store.save_referral(conn, after, clock.now())
            await write_resources(UnitOfWork(conn, "referral", clock=clock), after)
            await store.enqueue_push(conn, after.id, after.facility, clock.now())
            ended += 1
    return ended


async def push_next(pool: asyncpg.Pool, clock: Clock, endpoints: dict[str, str], send: Send,
                    retry: Backoff) -> bool:
    """Disclose the oldest due change to its facility's FHIR server, consent permitting; False when none is due."""
    async with pool.acquire() as conn, conn.transaction():
        await store.settle_without_endpoint(conn, list(endpoints), clock.now())
        row = await store.next_push(conn, clock.now())
        if row is None:
            return False
        # One push of a referral at a time (a second pusher waits here), covering every change queued so far:
        # its other rows are settled before its state is read, so that state includes what they queued.
        last_digest = await store.lock_push_state(conn, row["referral_id"])
        await store.coalesce_pushes(conn, row["referral_id"], row["seq"], clock.now())
        ref = store.to_domain(await store.get_referral_by_id(conn, row["referral_id"]))
        uow = UnitOfWork(conn, "referral", clock=clock)
        entry = dict(action="disclosure", actor="referral-push", purpose="TREAT", resource_type="ServiceRequest",
                     resource_ids=(ref.id,), referral_id=ref.id, destination=ref.facility)
        reason = hold_reason(ref, clock.now())
        body = None
        if reason in ENDING and last_digest is not None:
            # The hospital holds the referral under a consent that has ended for it: it gets the Consent, inactive.
            body = json.dumps(revocation(ref)).encode()
        elif not reason:
            body = json.dumps(transaction(ref)).encode()
        digest = hashlib.sha256(body).hexdigest() if body else None
        if reason and digest in (None, last_digest):  # nothing may leave, or only what the hospital holds already
            await store.finish_push(conn, row["seq"], "held", clock.now())
            await audit.record(conn, audit.AuditRecord(**entry, outcome="held"), clock.now())
            await uow.emit(DisclosureHeld(**ids(ref), reason=reason))
            return True
        if reason:
            entry.update(action="revocation", resource_type="Consent")
        if digest == last_digest:  # the hospital already holds this very state
            await store.finish_push(conn, row["seq"], "unchanged", clock.now())
            return True
        status, error = await send(row["facility"], endpoints[row["facility"]], body)
        if status is not None and 200 <= status < 300:
            await store.finish_push(conn, row["seq"], "sent", clock.now(), status)
            await store.record_push(conn, ref.id, digest, clock.now())
            await audit.record(conn, audit.AuditRecord(**entry, outcome="success", status_code=status), clock.now())
            if reason:  # the revocation went out; what changed with it stays held
                await uow.emit(DisclosureHeld(**ids(ref), reason=reason))
            else:
                await uow.emit(DisclosureSent(**ids(ref), consent_id=f"Consent/{ref.id}", status_code=status))
            return True
        await audit.record(conn, audit.AuditRecord(**entry, outcome="failed", status_code=status), clock.now())
        if status is not None and status not in RETRYABLE:
            await store.finish_push(conn, row["seq"], "rejected", clock.now(), status, error)
            log.error("push_rejected", referral_id=ref.id, status_code=status, facility=ref.facility)
            return True
        # A refused push waits in the queue (next_attempt_at, by the injected clock), not in the loop.
        delay = retry.delay(row["attempts"] + 1)
        await store.retry_push(conn, row["seq"], clock.now() + timedelta(seconds=delay), status, error)
        log.warning("push_retry", referral_id=ref.id, status_code=status, error_class=error,
                    attempt=row["attempts"] + 1, facility=ref.facility)
        return True
