"""Pairing's event handlers (intake's visit events), registered by event class: each calls its use case."""
from __future__ import annotations

import structlog

from services.contracts import EdVisitCancelled, EdVisitDischarged, EdVisitUpdated, OfferReplied, PeerSupportIndicated
from services.runtime.consumer import batched
from services.runtime.outbox import UnitOfWork

from .service import BATCH_ROSTER, Conflict, PairingService
from .unit_of_work import bind

log = structlog.get_logger("pairing.handlers")


def _batch(uow) -> dict:
    """What the events of the transaction share (the runtime's units of work have it; a test's fake may not)."""
    batch = getattr(uow, "batch", None)
    return batch if batch is not None else {}


def build(service: PairingService) -> dict:
    """The handler table, bound to the service's use cases."""

    @batched
    async def on_peer_support_indicated(events: list[tuple[PeerSupportIndicated, UnitOfWork]]) -> None:
        """Open a case for each visit and offer it to the best eligible peer (once per visit); consecutive visits of
        a consumer batch are applied set-wise, and all of the batch's share one roster read."""
        _batch(events[0][1]).setdefault(BATCH_ROSTER, None)
        await service.open_cases([(event, bind(uow)) for event, uow in events])

    async def on_visit_updated(event: EdVisitUpdated, uow: UnitOfWork) -> None:
        """Keep the case's visit current (no peer's load changes: the batch's roster stays good)."""
        await service.visit_updated(bind(uow), event)

    async def on_visit_discharged(event: EdVisitDischarged, uow: UnitOfWork) -> None:
        """The patient left: close the case if nobody met them."""
        _batch(uow).pop(BATCH_ROSTER, None)  # withdrawing an offer changes a peer's load: read the roster again
        await service.visit_discharged(bind(uow), event)

    async def on_visit_cancelled(event: EdVisitCancelled, uow: UnitOfWork) -> None:
        """A cancelled or merged visit: withdraw everything and close the case."""
        _batch(uow).pop(BATCH_ROSTER, None)
        await service.visit_cancelled(bind(uow), event)

    async def on_offer_replied(event: OfferReplied, uow: UnitOfWork) -> None:
        """A peer answered the offer by text: the same accept or decline as the API's, for that peer only; an
        answer the offer's state no longer allows (expired, withdrawn) changes nothing."""
        _batch(uow).pop(BATCH_ROSTER, None)
        work = bind(uow)
        row = await work.store.get_assignment(event.assignment_id, lock=True)
        if row is None or str(row["specialist_id"]) != event.specialist_id:
            log.warning("reply_ignored", assignment_id=event.assignment_id, outcome="not-this-peers")
            return
        try:
            if event.answer == "accept":
                await service.accept(work, row)
            else:
                await service.decline(work, row, event.reason_code or "declined-by-text")
        except Conflict:
            log.info("reply_ignored", assignment_id=event.assignment_id, outcome="offer-closed")

    return {PeerSupportIndicated: on_peer_support_indicated, EdVisitUpdated: on_visit_updated,
            EdVisitDischarged: on_visit_discharged, EdVisitCancelled: on_visit_cancelled,
            OfferReplied: on_offer_replied}
