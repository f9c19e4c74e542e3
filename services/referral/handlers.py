"""Referral's event handlers: each event moves the referral, writes new FHIR versions and queues a push."""
from __future__ import annotations

from services.runtime import topics
from services.runtime.envelope import Envelope
from services.runtime.outbox import UnitOfWork

from . import store
from .domain import fhir
from .domain.lifecycle import Referral, transition


async def write_resources(uow: UnitOfWork, ref: Referral) -> bool:
    """Store a new version of every resource whose content changed; True when any did."""
    now = uow.clock.now()
    changed = False
    for body in fhir.resources(ref).values():
        changed |= await store.save_resource(uow.conn, body, ref.id, now) is not None
    return changed


def _ids(ref: Referral) -> dict:
    return {"referral_id": ref.id, "facility": ref.facility, "visit_number": ref.visit_number,
            "service_request_id": ref.id, "task_id": ref.id}


async def on_peer_support_indicated(event: Envelope, uow: UnitOfWork) -> None:
    """Create the referral (ServiceRequest + Task) for the visit, once, then apply pairing events that came early."""
    visit = event.data
    facility, visit_number = visit["facility"], visit["visit_number"]
    await store.lock_visit(uow.conn, facility, visit_number)
    referral_id = await store.create_referral(uow.conn, facility, visit_number, visit, event.time)
    if referral_id is None:
        return
    ref = Referral(id=referral_id, facility=facility, visit_number=visit_number, visit=visit, authored_on=event.time)
    await write_resources(uow, ref)
    await store.enqueue_push(uow.conn, ref.id, facility, uow.clock.now())
    await uow.emit(topics.REFERRAL_REFERRAL, "ReferralCreated", _ids(ref), facility=facility, visit_number=visit_number)
    for name, data in await store.unpark(uow.conn, facility, visit_number):
        ref = await apply(uow, ref, name, data)


async def on_referral_event(event: Envelope, uow: UnitOfWork) -> None:
    """Apply a pairing or intake event to the visit's referral; park pairing events that overtook it."""
    data = event.data
    await store.lock_visit(uow.conn, data["facility"], data["visit_number"])
    row = await store.get_referral(uow.conn, data["facility"], data["visit_number"], lock=True)
    if row is not None:
        await apply(uow, store.to_domain(row), event.name, data)
    elif event.name not in INTAKE_EVENTS:
        # Pairing acts only on PeerSupportIndicated, so the referral is coming: keep the event until it does.
        await store.park(uow.conn, event.name, data, uow.clock.now())


async def apply(uow: UnitOfWork, before: Referral, name: str, data: dict) -> Referral:
    """Move the referral; on a change, new resource versions, a queued push and ReferralStatusChanged."""
    after = transition(before, name, data)
    if after == before:
        return after
    await store.save_referral(uow.conn, after, uow.clock.now())
    if not await write_resources(uow, after):
        return after
    await store.enqueue_push(uow.conn, after.id, after.facility, uow.clock.now())
    if (after.status, after.business_status) != (before.status, before.business_status):
        await uow.emit(topics.REFERRAL_REFERRAL, "ReferralStatusChanged",
                       {**_ids(after), "status": after.status, "business_status": after.business_status},
                       facility=after.facility, visit_number=after.visit_number)
    return after


INTAKE_EVENTS = frozenset({"EdVisitDischarged", "EdVisitCancelled"})


HANDLERS = {
    "PeerSupportIndicated": on_peer_support_indicated,
    **{name: on_referral_event for name in (
        "PeerAssignmentOffered", "PeerAssignmentAccepted", "PeerAssignmentDeclined", "PeerAssignmentExpired",
        "PeerAssignmentWithdrawn", "NoPeerAvailable", "PeerArrived", "ConsentRecorded", "PeerEncounterCompleted",
        "CaseClosed", "EdVisitDischarged", "EdVisitCancelled")},
}
