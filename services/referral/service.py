"""Referral's use cases: a referral is created, moved by pairing and intake events, disclosed when consent allows."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
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

from . import audit, hooks, store, store_runs
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


@dataclass(frozen=True)
class Step:
    """One change of a referral in a run of events: its state before (None: just created) and after, applied in the
    unit of work of the event that caused it."""

    uow: UnitOfWork
    before: Referral | None
    after: Referral


def ids(ref: Referral) -> dict[str, str]:
    """The ids every referral event carries: the ServiceRequest and the Task share the referral's id."""
    return dict(referral_id=ref.id, facility=ref.facility, visit_number=ref.visit_number,
                service_request_id=ref.id, task_id=ref.id)


async def create_referrals(run: list[tuple[PeerSupportIndicated, UnitOfWork]]) -> None:
    """Create each visit's referral (ServiceRequest + Task) once, then apply the pairing events that came early; the
    run's visits together, as one at a time would (a visit again, in the run or after, changes nothing)."""
    conn = run[0][1].conn
    first = {}
    for visit, uow in run:
        first.setdefault((visit.facility, visit.visit_number), (visit, uow))
    await store_runs.lock_visits(conn, list(first))
    referral_ids = await store_runs.create_referrals(conn, [(v, uow.cause.time) for v, uow in first.values()])
    created = [(Referral(id=referral_id, facility=visit.facility, visit_number=visit.visit_number, visit=visit,
                         authored_on=uow.cause.time), uow)
               for (visit, uow), referral_id in zip(first.values(), referral_ids) if referral_id is not None]
    if not created:
        return
    parked = await store_runs.unpark(conn, [(ref.facility, ref.visit_number) for ref, _ in created])
    steps = []
    for ref, uow in created:
        steps.append(Step(uow, None, ref))
        for event in parked.get((ref.facility, ref.visit_number), ()):
            after = transition(ref, event)
            if after != ref:
                steps.append(Step(uow, ref, after))
                ref = after
    await write(steps)


async def move_referrals(run: list[tuple[Move, UnitOfWork]]) -> None:
    """Apply pairing and intake events to their visits' referrals, each visit's in order; park pairing events that
    overtook their referral (pairing acts only on PeerSupportIndicated, so the referral is coming)."""
    conn, now = run[0][1].conn, run[0][1].clock.now()
    keys = list(dict.fromkeys((event.facility, event.visit_number) for event, _ in run))
    await store_runs.lock_visits(conn, keys)
    current = await store_runs.referrals(conn, keys)
    steps, parked = [], []
    for event, uow in run:
        ref = current.get((event.facility, event.visit_number))
        if ref is None:
            if not isinstance(event, VisitEnded):
                parked.append(event)
            continue
        after = transition(ref, event)
        if after != ref:
            steps.append(Step(uow, ref, after))
            current[(event.facility, event.visit_number)] = after
    if parked:
        await store_runs.park(conn, parked, now)
    await write(steps)


async def write(steps: list[Step]) -> None:
    """Write the steps' changes, one statement per kind for all of them: the referrals' state, a new version of every
    resource whose content changed (validated), the subscribers' notifications, a queued push per step that changed a
    resource (or created the referral), then ReferralCreated or ReferralStatusChanged per step, in order."""
    if not steps:
        return
    conn, now = steps[0].uow.conn, steps[0].uow.clock.now()
    moved = {step.after.id: step.after for step in steps if step.before is not None}  # the last state of each
    if moved:
        await store_runs.save_referrals(conn, list(moved.values()), now)
    built = [fhir.build(step.after) for step in steps]
    bodies = [(body, step.after.id) for step, resources in zip(steps, built) for body in resources.values()]
    versions = iter(await store_runs.save_resources(conn, bodies, now))
    current: list[dict[str, int]] = []
    saved: list[dict[str, int]] = []
    for resources in built:
        current.append({})
        saved.append({})
        for rtype, body in resources.items():
            version, new = next(versions)
            current[-1][rtype] = version
            if new:
                fhir.validate(body)  # raises before the commit: nothing invalid is ever stored
                saved[-1][rtype] = version
    changes = []
    for step, resources, stands, new in zip(steps, built, current, saved):
        # Subscribers hear of a change with it, never before or without it.
        changes += [hooks.change(step.after, resources[rtype], new[rtype], now) for rtype in NOTIFYING if rtype in new]
        if "Consent" in new:  # a consent that lets the facility see it: its subscribers hear of it as it stands
            changes += [hooks.change(step.after, resources[rtype], stands[rtype], now, newly_visible=True)
                        for rtype in NOTIFYING if rtype not in new]
    await hooks.enqueue(conn, [c for c in changes if c is not None], now)
    pushed = [step.after for step, new in zip(steps, saved) if new or step.before is None]
    if pushed:
        await store_runs.enqueue_pushes(conn, pushed, now)
    for step, new in zip(steps, saved):
        before, after = step.before, step.after
        if before is None:
            await step.uow.emit(ReferralCreated(**ids(after)))
        elif new and (after.status, after.business_status) != (before.status, before.business_status):
            await step.uow.emit(ReferralStatusChanged(**ids(after), status=after.status,
                                                      business_status=after.business_status))


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
            await write([Step(UnitOfWork(conn, "referral", clock=clock), before, after)])
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
