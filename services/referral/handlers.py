"""Referral's event handlers: the handler table, each entry a thin adapter onto service.py."""
from __future__ import annotations

from services.contracts import (
    CaseClosed,
    ConsentRecorded,
    EdVisitCancelled,
    EdVisitDischarged,
    NoPeerAvailable,
    PeerArrived,
    PeerAssignmentAccepted,
    PeerAssignmentDeclined,
    PeerAssignmentExpired,
    PeerAssignmentOffered,
    PeerAssignmentWithdrawn,
    PeerEncounterCompleted,
    PeerSupportIndicated,
)
from services.runtime.outbox import UnitOfWork

from . import service
from .domain.lifecycle import Move


async def on_peer_support_indicated(visit: PeerSupportIndicated, uow: UnitOfWork) -> None:
    """A peer-indicated visit gets its referral."""
    await service.create_referral(uow, visit)


async def on_referral_event(event: Move, uow: UnitOfWork) -> None:
    """A pairing or intake event moves the visit's referral."""
    await service.move_referral(uow, event)


HANDLERS = {
    PeerSupportIndicated: on_peer_support_indicated,
    **{cls: on_referral_event for cls in (
        PeerAssignmentOffered, PeerAssignmentAccepted, PeerAssignmentDeclined, PeerAssignmentExpired,
        PeerAssignmentWithdrawn, NoPeerAvailable, PeerArrived, ConsentRecorded, PeerEncounterCompleted,
        CaseClosed, EdVisitDischarged, EdVisitCancelled)},
}
