"""Pairing's event handlers (intake's visit events), registered by event class: each receives its parsed model."""
from __future__ import annotations

from services.contracts import EdVisitCancelled, EdVisitDischarged, EdVisitUpdated, PeerSupportIndicated
from services.runtime.outbox import UnitOfWork

from . import store
from .dispatch import Dispatcher


def build(dispatcher: Dispatcher) -> dict:
    """The handler table, bound to the service's dispatcher."""

    async def on_peer_support_indicated(event: PeerSupportIndicated, uow: UnitOfWork) -> None:
        """Open a case for the visit and offer it to the best eligible peer (once per visit)."""
        await dispatcher.open_case(uow, event)

    async def on_visit_updated(event: EdVisitUpdated, uow: UnitOfWork) -> None:
        """Keep the case's visit current, so later offers match on the latest language, age and indications."""
        case = await store.case_of_visit(uow.conn, event.facility, event.visit_number)
        if case is not None and case["status"] != "closed":
            await store.replace_visit(uow.conn, case, event)

    async def on_visit_discharged(event: EdVisitDischarged, uow: UnitOfWork) -> None:
        """The patient left: withdraw an offer whose peer has not arrived; close the case if nobody met them."""
        if event.cancelled:
            return
        case = await store.case_of_visit(uow.conn, event.facility, event.visit_number)
        if case is None or case["status"] not in ("paging", "assigned", "escalated"):
            return
        arrived = await uow.conn.fetchval("SELECT bool_or(arrived_at IS NOT NULL) FROM assignments WHERE case_id = $1",
                                          case["id"])
        if arrived:
            return
        await dispatcher.close_case(uow, case, "discharged-before-peer")

    async def on_visit_cancelled(event: EdVisitCancelled, uow: UnitOfWork) -> None:
        """A cancelled or merged visit: withdraw everything and close the case."""
        case = await store.case_of_visit(uow.conn, event.facility, event.visit_number)
        if case is not None:
            await dispatcher.close_case(uow, case, "visit-cancelled")

    return {PeerSupportIndicated: on_peer_support_indicated, EdVisitUpdated: on_visit_updated,
            EdVisitDischarged: on_visit_discharged, EdVisitCancelled: on_visit_cancelled}
