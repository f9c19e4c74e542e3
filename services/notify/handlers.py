"""Notify's event handlers: intake's indicated visits (for the place) and pairing's offers and escalations."""
from __future__ import annotations

from services.contracts import (CaseClosed, FollowUpWindowClosing, FollowUpWindowOpened, NoPeerAvailable,
                                PeerAssignmentAccepted, PeerAssignmentDeclined, PeerAssignmentExpired,
                                PeerAssignmentOffered, PeerAssignmentWithdrawn, PeerSupportIndicated)
from services.contracts.pairing import CredentialRenewalDue, CrisisRaised
from services.runtime.consumer import batched
from services.runtime.outbox import UnitOfWork

from . import service_care
from .service import NotifyService

CLOSED = {PeerAssignmentAccepted: "accepted", PeerAssignmentDeclined: "declined", PeerAssignmentExpired: "expired",
          PeerAssignmentWithdrawn: "withdrawn"}


def build(service: NotifyService) -> dict:
    """The handler table, bound to the service's use cases."""

    @batched
    async def on_indicated(events: list[tuple[PeerSupportIndicated, UnitOfWork]]) -> None:
        """Keep the visits' places (location, bay) for the messages about them; a run of them set-wise."""
        await service.visits_indicated(events)

    @batched
    async def on_offered(events: list[tuple[PeerAssignmentOffered, UnitOfWork]]) -> None:
        """Tell the peers; a run of offers set-wise."""
        await service.offered(events)

    async def on_closed(event, uow: UnitOfWork) -> None:
        """An offer is settled: stop telling the peer about it."""
        await service.offer_closed(uow, event.assignment_id, CLOSED[type(event)])
        if isinstance(event, PeerAssignmentAccepted):
            await service.visit_covered(uow, event.facility, event.visit_number)

    async def on_no_peer(event: NoPeerAvailable, uow: UnitOfWork) -> None:
        """Alert the on-call supervisor."""
        await service.no_peer(uow, event)

    async def on_case_closed(event: CaseClosed, uow: UnitOfWork) -> None:
        """A closed case needs nobody any more: its alerts stop."""
        await service.visit_covered(uow, event.facility, event.visit_number)

    async def on_follow_up_window(event: FollowUpWindowOpened | FollowUpWindowClosing, uow: UnitOfWork) -> None:
        """Remind the case's peer that a follow-up window opened, or closes soon."""
        await service.follow_up_reminder(uow, event)

    async def on_crisis(event: CrisisRaised, uow: UnitOfWork) -> None:
        """Reach the crisis route, the on-call supervisor and the case's peer."""
        await service_care.crisis_raised(service, uow, event)

    async def on_renewal(event: CredentialRenewalDue, uow: UnitOfWork) -> None:
        """Warn the peer's supervisor of a renewal."""
        await service_care.renewal_due(service, uow, event)

    return {CrisisRaised: on_crisis, CredentialRenewalDue: on_renewal,
            PeerSupportIndicated: on_indicated, PeerAssignmentOffered: on_offered, NoPeerAvailable: on_no_peer,
            CaseClosed: on_case_closed, FollowUpWindowOpened: on_follow_up_window,
            FollowUpWindowClosing: on_follow_up_window, **{cls: on_closed for cls in CLOSED}}
