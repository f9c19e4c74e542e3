"""Pairing's event handlers (intake's visit events), registered by event name."""
from __future__ import annotations

from services.runtime.envelope import Envelope
from services.runtime.outbox import UnitOfWork

from . import store
from .dispatch import Dispatcher


def build(dispatcher: Dispatcher) -> dict:
    """The handler table, bound to the service's dispatcher."""

    async def on_peer_support_indicated(event: Envelope, uow: UnitOfWork) -> None:
        """Open a case for the visit and offer it to the best eligible peer (once per visit)."""
        await dispatcher.open_case(uow, event.data)

    async def on_visit_updated(event: Envelope, uow: UnitOfWork) -> None:
        """Keep the case's visit current, so later offers match on the latest language, age and indications."""
        case = await store.case_of_visit(uow.conn, event.data["facility"], event.data["visit_number"])
        if case is not None and case["status"] != "closed":
            await store.set_case(uow.conn, case["id"], visit=event.data,
                                 patient_hash=store.patient_hash(event.data.get("patient_ref")) or case["patient_hash"])

    async def on_visit_discharged(event: Envelope, uow: UnitOfWork) -> None:
        """The patient left: withdraw an offer whose peer has not arrived; close the case if nobody met them."""
        if event.data.get("cancelled"):
            return
        case = await store.case_of_visit(uow.conn, event.data["facility"], event.data["visit_number"])
        if case is None or case["status"] not in ("paging", "assigned", "escalated"):
            return
        arrived = await uow.conn.fetchval("SELECT bool_or(arrived_at IS NOT NULL) FROM assignments WHERE case_id = $1",
                                          case["id"])
        if arrived:
            return
        await dispatcher.close_case(uow, case, "discharged-before-peer")

    async def on_visit_cancelled(event: Envelope, uow: UnitOfWork) -> None:
        """A cancelled or merged visit: withdraw everything and close the case."""
        case = await store.case_of_visit(uow.conn, event.data["facility"], event.data["visit_number"])
        if case is not None:
            await dispatcher.close_case(uow, case, "visit-cancelled")

    return {"PeerSupportIndicated": on_peer_support_indicated, "EdVisitUpdated": on_visit_updated,
            "EdVisitDischarged": on_visit_discharged, "EdVisitCancelled": on_visit_cancelled}
