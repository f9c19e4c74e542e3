"""Billing's event handlers, registered by event class; the rule book is bound when the app is built."""
from __future__ import annotations

from services.contracts import (
    EdVisitCancelled,
    EdVisitRegistered,
    EdVisitUpdated,
    PeerEncounterCompleted,
    PeerSupportIndicated,
)
from services.runtime.consumer import batched
from services.runtime.outbox import UnitOfWork

from . import service
from .domain.rules import RuleBook
from .store import VisitEvent


def build_handlers(book: RuleBook) -> dict:
    """The handler table for a rule book: each a thin adapter onto service.py."""

    @batched
    async def on_visit(events: list[tuple[VisitEvent, UnitOfWork]]) -> None:
        """Keep the visits' facts and re-price their open claims; a run of visit events set-wise."""
        await service.record_visits(book, events)

    async def on_visit_cancelled(event: EdVisitCancelled, uow: UnitOfWork) -> None:
        await service.cancel_visit(uow, book, event.facility, event.visit_number)

    async def on_encounter_completed(encounter: PeerEncounterCompleted, uow: UnitOfWork) -> None:
        await service.record_encounter(uow, book, encounter)

    return {
        EdVisitRegistered: on_visit,
        EdVisitUpdated: on_visit,
        PeerSupportIndicated: on_visit,
        EdVisitCancelled: on_visit_cancelled,
        PeerEncounterCompleted: on_encounter_completed,
    }
