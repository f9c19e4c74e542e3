"""Referral's event handlers: each event moves the referral, writes new FHIR versions and queues a push."""
from __future__ import annotations

from services.contracts import (CaseClosed, ConsentRecorded, EdVisitCancelled, EdVisitDischarged, NoPeerAvailable,
                                PeerArrived, PeerAssignmentAccepted, PeerAssignmentDeclined, PeerAssignmentExpired,
                                PeerAssignmentOffered, PeerAssignmentWithdrawn, PeerEncounterCompleted,
                                PeerSupportIndicated, ReferralCreated, ReferralStatusChanged)
from services.runtime.outbox import UnitOfWork

from . import store
from .domain import fhir
from .domain.lifecycle import Move, Referral, VisitEnded, transition


async def write_resources(uow: UnitOfWork, ref: Referral) -> bool:
    """Store a new version of every resource whose content changed; True when any did."""
    now = uow.clock.now()
    changed = False
    for body in fhir.resources(ref).values():
        changed |= await store.save_resource(uow.conn, body, ref.id, now) is not None
    return changed


def ids(ref: Referral) -> dict[str, str]:
    """The ids every referral event carries: the ServiceRequest and the Task share the referral's id."""
    return dict(referral_id=ref.id, facility=ref.facility, visit_number=ref.visit_number,
                service_request_id=ref.id, task_id=ref.id)


async def on_peer_support_indicated(visit: PeerSupportIndicated, uow: UnitOfWork) -> None:
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


async def on_referral_event(event: Move, uow: UnitOfWork) -> None:
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


HANDLERS = {
    PeerSupportIndicated: on_peer_support_indicated,
    **{cls: on_referral_event for cls in (
        PeerAssignmentOffered, PeerAssignmentAccepted, PeerAssignmentDeclined, PeerAssignmentExpired,
        PeerAssignmentWithdrawn, NoPeerAvailable, PeerArrived, ConsentRecorded, PeerEncounterCompleted,
        CaseClosed, EdVisitDischarged, EdVisitCancelled)},
}
