"""Pairing's event handlers (intake's visit events), registered by event class: each calls its use case."""
from __future__ import annotations

from services.contracts import EdVisitCancelled, EdVisitDischarged, EdVisitUpdated, PeerSupportIndicated
from services.runtime.outbox import UnitOfWork

from .service import PairingService
from .unit_of_work import bind


def build(service: PairingService) -> dict:
    """The handler table, bound to the service's use cases."""

    async def on_peer_support_indicated(event: PeerSupportIndicated, uow: UnitOfWork) -> None:
        """Open a case for the visit and offer it to the best eligible peer (once per visit)."""
        await service.open_case(bind(uow), event)

    async def on_visit_updated(event: EdVisitUpdated, uow: UnitOfWork) -> None:
        """Keep the case's visit current."""
        await service.visit_updated(bind(uow), event)

    async def on_visit_discharged(event: EdVisitDischarged, uow: UnitOfWork) -> None:
        """The patient left: close the case if nobody met them."""
        await service.visit_discharged(bind(uow), event)

    async def on_visit_cancelled(event: EdVisitCancelled, uow: UnitOfWork) -> None:
        """A cancelled or merged visit: withdraw everything and close the case."""
        await service.visit_cancelled(bind(uow), event)

    return {PeerSupportIndicated: on_peer_support_indicated, EdVisitUpdated: on_visit_updated,
            EdVisitDischarged: on_visit_discharged, EdVisitCancelled: on_visit_cancelled}
