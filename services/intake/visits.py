"""Applies a visit change inside a unit of work: lock the visit, decide, save, emit through the outbox."""
from __future__ import annotations

from services.runtime import topics
from services.runtime.outbox import UnitOfWork

from . import store
from .domain.indications import Rules, evaluate
from .domain.visits import VisitDecision, decide_cancel, decide_discharge, decide_request, decide_visit


class UnknownVisit(Exception):
    """The visit is not known to intake."""


Current = tuple[dict | None, str | None]


async def current(uow: UnitOfWork, facility: str, visit_number: str, *, lock: bool = True) -> Current:
    """The visit's record and status (None, None when unknown), locked for this transaction unless already."""
    if lock:
        await store.lock_visit(uow.conn, facility, visit_number)
    row = await store.get_visit(uow.conn, facility, visit_number)
    return (dict(row["data"]), row["status"]) if row else (None, None)


async def _save(uow: UnitOfWork, facility: str, visit_number: str, decision: VisitDecision) -> VisitDecision:
    record = decision.record
    await store.upsert_visit(uow.conn, facility, visit_number, status=decision.status,
                             peer_indicated=bool(record.get("peer_indicated")),
                             indications=record.get("indications", []), data=record)
    for name, data in decision.events:
        await uow.emit(topics.INTAKE_VISIT, name, data, facility=facility, visit_number=visit_number)
    return decision


async def record_visit(uow: UnitOfWork, visit: dict, *, rules: Rules, complaints: list[str],
                       message_id: str | None = None, now: Current | None = None) -> VisitDecision:
    """Register (or update) a visit, with the indications the program's rules find in it."""
    facility, number = visit["facility"], visit["visit_number"]
    previous, status = now or await current(uow, facility, number)
    indications = evaluate(rules, visit.get("diagnoses", []), complaints)
    visit = {**visit, "indications": indications, "peer_indicated": bool(indications)}
    if message_id:
        visit["message_id"] = message_id
    if status in ("cancelled", "merged", "discharged"):
        # Late updates still refresh the record, but a closed visit is not reopened.
        return await _save(uow, facility, number, decide_visit(previous, visit, status))
    return await _save(uow, facility, number, decide_visit(previous, visit))


async def record_discharge(uow: UnitOfWork, visit: dict, at: str, *, cancelled: bool = False,
                           now: Current | None = None) -> VisitDecision:
    """A03 (or A13 with cancelled=True) for a visit; an unknown visit is recorded from the message."""
    facility, number = visit["facility"], visit["visit_number"]
    previous, status = now or await current(uow, facility, number)
    record = previous or {**visit, "indications": [], "peer_indicated": False}
    return await _save(uow, facility, number, decide_discharge(status, record, at, cancelled=cancelled))


async def record_cancel(uow: UnitOfWork, visit: dict, at: str, merged_into: str | None = None,
                        now: Current | None = None) -> VisitDecision:
    """A11 cancels a visit; A40 merges it into the surviving visit."""
    facility, number = visit["facility"], visit["visit_number"]
    previous, status = now or await current(uow, facility, number)
    record = previous or {**visit, "indications": [], "peer_indicated": False}
    return await _save(uow, facility, number, decide_cancel(status, record, at, merged_into))


async def request_peer(uow: UnitOfWork, facility: str, visit_number: str) -> VisitDecision:
    """A clinician asks for a peer for a known visit."""
    previous, status = await current(uow, facility, visit_number)
    if previous is None:
        raise UnknownVisit()
    return await _save(uow, facility, visit_number, decide_request(previous, status))
