"""Billing's event handlers, registered by event name."""
from __future__ import annotations

from services.runtime import topics
from services.runtime.envelope import Envelope
from services.runtime.outbox import UnitOfWork

from . import store


async def on_visit(event: Envelope, uow: UnitOfWork) -> None:
    """Keep the visit's billing facts (payer, member id, diagnoses, age) current."""
    visit = event.data
    await store.upsert_visit(uow.conn, visit["facility"], visit["visit_number"], visit)


async def on_encounter_completed(event: Envelope, uow: UnitOfWork) -> None:
    """A completed peer encounter becomes a draft claim, once, however often the event arrives."""
    encounter = event.data
    visit = await store.get_visit(uow.conn, encounter["facility"], encounter["visit_number"])
    plan = ((visit["data"].get("payer") or {}).get("plan_id")) if visit else None
    claim_id = await store.insert_draft_claim(uow.conn, encounter, plan)
    if claim_id is None:
        return
    await uow.emit(topics.BILLING_CLAIM, "ClaimPrepared",
                   {"claim_id": claim_id, "facility": encounter["facility"],
                    "visit_number": encounter["visit_number"], "payer": plan or "unknown"},
                   facility=encounter["facility"], visit_number=encounter["visit_number"])


HANDLERS = {
    "EdVisitRegistered": on_visit,
    "EdVisitUpdated": on_visit,
    "PeerSupportIndicated": on_visit,
    "PeerEncounterCompleted": on_encounter_completed,
}
