"""Referral's event handlers, registered by event name."""
from __future__ import annotations

from services.runtime import topics
from services.runtime.envelope import Envelope
from services.runtime.outbox import UnitOfWork

from . import store


async def on_peer_support_indicated(event: Envelope, uow: UnitOfWork) -> None:
    """Record a referral for the visit (once)."""
    visit = event.data
    facility, visit_number = visit["facility"], visit["visit_number"]
    referral_id = await store.create_referral(uow.conn, facility, visit_number, visit)
    if referral_id is None:
        return
    await uow.emit(topics.REFERRAL_REFERRAL, "ReferralCreated",
                   {"referral_id": referral_id, "facility": facility, "visit_number": visit_number,
                    "service_request_id": referral_id, "task_id": referral_id},
                   facility=facility, visit_number=visit_number)


async def on_assignment_accepted(event: Envelope, uow: UnitOfWork) -> None:
    """The peer accepted: the referral's Task is accepted and owned by the peer."""
    data = event.data
    referral = await store.get_referral(uow.conn, data["facility"], data["visit_number"])
    if referral is None:
        return
    await store.set_status(uow.conn, referral["id"], "accepted", "accepted", owner=data["specialist_id"])
    await uow.emit(topics.REFERRAL_REFERRAL, "ReferralStatusChanged",
                   {"referral_id": str(referral["id"]), "facility": data["facility"],
                    "visit_number": data["visit_number"], "status": "accepted", "business_status": "accepted"},
                   facility=data["facility"], visit_number=data["visit_number"])


HANDLERS = {
    "PeerSupportIndicated": on_peer_support_indicated,
    "PeerAssignmentAccepted": on_assignment_accepted,
}
