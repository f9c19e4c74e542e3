"""Pairing's event handlers, registered by event name."""
from __future__ import annotations

from datetime import timedelta

from services.runtime import topics
from services.runtime.envelope import Envelope
from services.runtime.outbox import UnitOfWork

from . import store
from .domain.matching import choose

OFFER_TIMEOUT = timedelta(minutes=10)


async def on_peer_support_indicated(event: Envelope, uow: UnitOfWork) -> None:
    """Open a case for the visit and offer it to the best eligible peer, or report that none is available."""
    visit = event.data
    facility, visit_number = visit["facility"], visit["visit_number"]
    now = uow.clock.now()
    case_id = await store.open_case(uow.conn, facility, visit_number, visit, now)
    if case_id is None:
        return
    roster = [dict(r["data"], id=str(r["id"])) for r in await store.active_specialists(uow.conn)]
    chosen, explanation = choose(roster, visit)
    if chosen is None:
        await uow.emit(topics.PAIRING_ASSIGNMENT, "NoPeerAvailable",
                       {"facility": facility, "visit_number": visit_number, "escalated_at": now.isoformat(),
                        "reason": "no eligible peer on the roster"},
                       facility=facility, visit_number=visit_number)
        return
    expires_at = now + OFFER_TIMEOUT
    assignment_id = await store.insert_assignment(
        uow.conn, case_id=case_id, specialist_id=chosen["id"], facility=facility, visit_number=visit_number,
        attempt=1, offered_at=now, expires_at=expires_at, explanation=explanation)
    await uow.emit(topics.PAIRING_ASSIGNMENT, "PeerAssignmentOffered",
                   {"assignment_id": assignment_id, "facility": facility, "visit_number": visit_number,
                    "specialist_id": chosen["id"], "offered_at": now.isoformat(),
                    "expires_at": expires_at.isoformat(), "attempt": 1},
                   facility=facility, visit_number=visit_number)


HANDLERS = {
    "PeerSupportIndicated": on_peer_support_indicated,
}
