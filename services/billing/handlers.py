"""Billing's event handlers, registered by event class; the rule book is bound when the app is built."""
from __future__ import annotations

import uuid

import structlog

from services.contracts import (EdVisitCancelled, EdVisitRegistered, EdVisitUpdated, PeerEncounterCompleted,
                                PeerSupportIndicated)
from services.runtime.outbox import UnitOfWork

from . import service, store
from .domain.rules import RuleBook
from .store import VisitEvent

log = structlog.get_logger("billing")


def build_handlers(book: RuleBook) -> dict:
    """The handler table for a rule book."""

    async def on_visit(visit: VisitEvent, uow: UnitOfWork) -> None:
        """Keep the visit's billing facts current and re-evaluate its claims that are not yet approved."""
        await store.upsert_visit(uow.conn, visit)
        await _reevaluate(uow, visit.facility, visit.visit_number)

    async def on_visit_cancelled(event: EdVisitCancelled, uow: UnitOfWork) -> None:
        """A cancelled or merged visit holds its claims that have not gone out."""
        await store.cancel_visit(uow.conn, event.facility, event.visit_number)
        await _reevaluate(uow, event.facility, event.visit_number)

    async def on_encounter_completed(encounter: PeerEncounterCompleted, uow: UnitOfWork) -> None:
        """A completed peer session becomes one claim, however often and under however many encounter ids."""
        claim = await store.insert_claim(uow.conn, encounter)
        if claim is not None:
            await service.evaluate(uow, book, claim)
            return
        existing = await store.claim_of(uow.conn, encounter)
        if existing is not None and existing["encounter_id"] != uuid.UUID(encounter.encounter_id):
            # A second encounter id for a session already claimed: worth a trace, unlike a plain redelivery.
            log.info("encounter_ignored_duplicate_session", encounter_id=encounter.encounter_id,
                     claim_id=str(existing["id"]), claim_encounter_id=str(existing["encounter_id"]))

    async def _reevaluate(uow: UnitOfWork, facility: str, visit_number: str) -> None:
        for claim in await store.claims_to_reevaluate(uow.conn, facility, visit_number):
            await service.evaluate(uow, book, claim)

    return {
        EdVisitRegistered: on_visit,
        EdVisitUpdated: on_visit,
        PeerSupportIndicated: on_visit,
        EdVisitCancelled: on_visit_cancelled,
        PeerEncounterCompleted: on_encounter_completed,
    }
