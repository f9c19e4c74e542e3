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
from services.runtime.consumer import batched
from services.runtime.outbox import UnitOfWork

from . import service
from .domain.lifecycle import Move


@batched
async def on_peer_support_indicated(run: list[tuple[PeerSupportIndicated, UnitOfWork]]) -> None:
    """Peer-indicated visits get their referrals (consecutive ones of a consumer batch together)."""
    await service.create_referrals(run)


@batched
async def on_referral_event(run: list[tuple[Move, UnitOfWork]]) -> None:
    """Pairing and intake events move their visits' referrals (consecutive ones of a consumer batch together)."""
    await service.move_referrals(run)


HANDLERS = {
    PeerSupportIndicated: on_peer_support_indicated,
    **{cls: on_referral_event for cls in (
        PeerAssignmentOffered, PeerAssignmentAccepted, PeerAssignmentDeclined, PeerAssignmentExpired,
        PeerAssignmentWithdrawn, NoPeerAvailable, PeerArrived, ConsentRecorded, PeerEncounterCompleted,
        CaseClosed, EdVisitDischarged, EdVisitCancelled)},
}
