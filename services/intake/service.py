"""Intake's use cases for every channel: lock and read each visit once, decide, write once, emit in order."""
from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, AsyncIterator, Iterable

import asyncpg

from services.contracts import Indication, Visit
from services.contracts.base import TOLERANT
from services.runtime.clock import Clock
from services.runtime.outbox import UnitOfWork, unit_of_work

from . import store
from .domain.adt import AdtVisit
from .domain.fhir import FhirInputError, FhirVisit
from .domain.fhir_requests import Request as FhirRequest
from .domain.indications import Rules, assess
from .domain.visits import VisitDecision, decide_cancel, decide_discharge, decide_request, decide_visit

if TYPE_CHECKING:  # the MLLP worker processes need no web framework
    from services.runtime.service import ServiceRuntime


class UnknownVisit(Exception):
    """The visit is not known to intake (where: the element of the input that named it, if any)."""

    def __init__(self, where: str = ""):
        super().__init__(where)
        self.where = where


Current = tuple[Visit | None, str | None]
Key = tuple[str, str]


class VisitBook:
    """The visits one transaction touches: locked and read once, written once just before the commit.

    Many messages can share one transaction (group commit), so a later message sees what an earlier one decided."""

    def __init__(self, uow: UnitOfWork):
        self.uow = uow
        self._known: dict[Key, Current] = {}
        self._changed: dict[Key, VisitDecision] = {}
        self._subscribers: dict[Key, tuple] = {}

    async def load(self, keys: Iterable[Key]) -> None:
        """Lock and read these visits (those not already held) in as few round trips as the database allows."""
        new = list(dict.fromkeys(key for key in keys if key not in self._known))
        if not new:
            return
        rows = await store.lock_and_read_visits(self.uow.conn, new)
        found = {(row["facility"], row["visit_number"]): (Visit.model_validate(row["data"], context=TOLERANT),
                                                          row["status"]) for row in rows}
        for key in new:
            self._known[key] = found.get(key, (None, None))

    async def current(self, facility: str, visit_number: str) -> Current:
        """The visit's record and status (None, None when unknown), locked for this transaction."""
        await self.load([(facility, visit_number)])
        return self._known[(facility, visit_number)]

    async def save(self, facility: str, visit_number: str, decision: VisitDecision) -> VisitDecision:
        key = (facility, visit_number)
        self._known[key] = (decision.record, decision.status)
        self._changed[key] = decision
        for event in decision.events:
            await self.uow.emit(event, data=decision.event_data(event))
        return decision

    def keep_subscriber(self, facility: str, visit_number: str, data: dict, *, source: str, message_id,
                        received_at: datetime) -> None:
        """Demographics for billing; of several in one transaction the newest message wins, as in the table."""
        key = (facility, visit_number)
        held = self._subscribers.get(key)
        if held is None or held[5] <= received_at:
            self._subscribers[key] = (facility, visit_number, data, source, message_id, received_at)

    async def flush(self) -> None:
        """Write every changed visit, the demographics and the events."""
        rows = []
        for (facility, number), d in self._changed.items():
            record = d.record_data()
            rows.append((facility, number, d.status, d.record.peer_indicated, record["indications"], record))
        await store.upsert_visits(self.uow.conn, rows)
        await store.save_subscribers(self.uow.conn, list(self._subscribers.values()))
        self._changed.clear()
        self._subscribers.clear()
        await self.uow.flush()


@asynccontextmanager
async def changes(pool: asyncpg.Pool, service: str, clock: Clock) -> AsyncIterator[VisitBook]:
    """One transaction of visit changes, written and committed when the block ends without an error."""
    async with unit_of_work(pool, service, clock=clock) as uow:
        book = VisitBook(uow)
        yield book
        await book.flush()


async def record_visit(book: VisitBook, visit: Visit, *, rules: Rules, complaints: list[str],
                       message_id: str | None = None, requested: Indication | None = None) -> VisitDecision:
    """Register (or update) a visit, with the indications the rules find in it and a request that came with it."""
    facility, number = visit.facility, visit.visit_number
    previous, status = await book.current(facility, number)
    found = assess(rules, visit.diagnoses, complaints)
    indications = [*found.indications, requested] if requested else found.indications
    visit = visit.model_copy(update={"indications": indications, "peer_indicated": bool(indications),
                                     "crisis": bool(found.crisis_rules), "crisis_rules": found.crisis_rules or None,
                                     "message_id": message_id or visit.message_id})
    if status in ("cancelled", "merged", "discharged"):
        # Late updates still refresh the record, but a closed visit is not reopened.
        return await book.save(facility, number, decide_visit(previous, visit, status))
    return await book.save(facility, number, decide_visit(previous, visit))


async def record_discharge(book: VisitBook, visit: Visit, at: datetime, *, cancelled: bool = False) -> VisitDecision:
    """A03 (or A13 with cancelled=True) for a visit; an unknown visit is recorded from the message."""
    facility, number = visit.facility, visit.visit_number
    previous, status = await book.current(facility, number)
    record = previous or visit.model_copy(update={"indications": [], "peer_indicated": False})
    return await book.save(facility, number, decide_discharge(status, record, at, cancelled=cancelled))


async def record_cancel(book: VisitBook, visit: Visit, at: datetime,
                        merged_into: str | None = None) -> VisitDecision:
    """A11 cancels a visit; A40 merges it into the surviving visit."""
    facility, number = visit.facility, visit.visit_number
    previous, status = await book.current(facility, number)
    record = previous or visit.model_copy(update={"indications": [], "peer_indicated": False})
    return await book.save(facility, number, decide_cancel(status, record, at, merged_into))


async def record_request(book: VisitBook, visit: Visit, request: Indication, *, rules: Rules, complaints: list[str],
                         message_id: str) -> VisitDecision:
    """A peer consult ordered in the EHR (HL7 order): an unknown visit is registered from the order itself."""
    # A feed may send the order before the ADT: the request must not be lost.
    facility, number = visit.facility, visit.visit_number
    previous, status = await book.current(facility, number)
    if previous is None:
        return await record_visit(book, visit, rules=rules, complaints=complaints, message_id=message_id,
                                  requested=request)
    return await book.save(facility, number, decide_request(previous, status, message_id, request=request,
                                                            trigger=visit.trigger or "clinician-request"))


async def request_peer(book: VisitBook, facility: str, visit_number: str) -> VisitDecision:
    """A clinician asks for a peer for a known visit."""
    previous, status = await book.current(facility, visit_number)
    if previous is None:
        raise UnknownVisit()
    return await book.save(facility, visit_number, decide_request(previous, status))


async def apply_adt(book: VisitBook, adt: AdtVisit, target: str, *, rules: Rules, message_id: uuid.UUID,
                    received_at: datetime) -> bool:
    """Apply an HL7 ADT message to its visit (A40: the merged one); False when it concerns no ED visit we know."""
    previous, _status = await book.current(adt.facility, target)
    if previous is None and not adt.is_ed:
        return False
    visit = adt.visit if adt.visit.visit_number == target else adt.visit.model_copy(update={"visit_number": target})
    if adt.request is not None:
        await record_request(book, visit, adt.request, rules=rules, complaints=adt.complaints,
                             message_id=str(message_id))
    elif adt.trigger in ("A01", "A04", "A08") or (adt.trigger == "A13" and previous is None):
        # An A13 for a visit intake never saw (its A04 and A03 came before intake did) says the patient is in the ED:
        # register it by the rules, rather than keep a record no rule has read and no consumer has heard of.
        await record_visit(book, visit, rules=rules, complaints=adt.complaints, message_id=str(message_id))
    elif adt.trigger in ("A03", "A13"):
        await record_discharge(book, visit, adt.event_at, cancelled=adt.trigger == "A13")
    else:
        merged_into = adt.visit_number if adt.trigger == "A40" else None
        await record_cancel(book, visit, adt.event_at, merged_into)
    if adt.subscriber is not None:
        book.keep_subscriber(adt.facility, target, adt.subscriber, source="hl7", message_id=message_id,
                             received_at=received_at)
    return True


async def register_json(runtime: ServiceRuntime, visit: Visit, *, complaints: list[str],
                        subscriber: dict | None) -> Visit:
    """A visit sent as JSON, with the subscriber's demographics for billing when the body carried any."""
    async with changes(runtime.pool, runtime.name, runtime.clock) as book:
        decision = await record_visit(book, visit, rules=runtime.rules, complaints=complaints)
        if subscriber is not None:
            book.keep_subscriber(visit.facility, visit.visit_number, subscriber, source="json", message_id=None,
                                 received_at=runtime.clock.now())
    return decision.record


async def ask_for_peer(runtime: ServiceRuntime, facility: str, visit_number: str) -> Visit:
    """The ED team asks for a peer (UnknownVisit when intake does not know the visit)."""
    async with changes(runtime.pool, runtime.name, runtime.clock) as book:
        decision = await request_peer(book, facility, visit_number)
    return decision.record


async def _apply_fhir(book: VisitBook, rules: Rules, fv: FhirVisit, message_id: uuid.UUID,
                      received_at: datetime) -> Visit:
    decision = await record_visit(book, fv.visit, rules=rules, complaints=fv.complaints, message_id=str(message_id),
                                  requested=fv.request)
    if fv.status == "closed":
        await record_discharge(book, fv.visit, fv.ended_at or fv.visit.arrived_at)
    elif fv.status == "cancelled":
        await record_cancel(book, fv.visit, fv.ended_at or fv.visit.arrived_at)
    if fv.subscriber is not None:
        book.keep_subscriber(fv.visit.facility, fv.visit.visit_number, fv.subscriber, source="fhir",
                             message_id=message_id, received_at=received_at)
    return decision.record


def _fhir_message(message_id: uuid.UUID, received_at: datetime, raw: bytes, kind: str, status: str,
                  error: dict | None = None, result: dict | None = None) -> dict:
    return {"id": message_id, "received_at": received_at, "channel": "fhir", "message_type": kind, "status": status,
            "ack_code": "AA" if status == "accepted" else "AR", "error": error, "result": result or {}, "raw": raw}


async def _request_fhir(book: VisitBook, request: FhirRequest, message_id: uuid.UUID) -> Visit:
    """A ServiceRequest for a visit named by identifier: the visit must be known (UnknownVisit otherwise)."""
    facility, number, asked, where = request
    previous, status = await book.current(facility, number)
    if previous is None:
        raise UnknownVisit(where)
    decision = decide_request(previous, status, str(message_id), request=asked, trigger="FHIR")
    return (await book.save(facility, number, decision)).record


async def accept_fhir(runtime: ServiceRuntime, raw: bytes, kind: str, found: list[FhirVisit],
                      requests: list[FhirRequest] = ()) -> list[Visit]:
    """A FHIR Encounter, ServiceRequest or Bundle applied and stored in one transaction (UnknownVisit: nothing kept)."""
    # A batch Bundle is applied atomically too: its entries all describe the same visit, so half of it is no use.
    message_id = uuid.uuid4()
    async with changes(runtime.pool, runtime.name, runtime.clock) as book:
        keys = [(fv.visit.facility, fv.visit.visit_number) for fv in found] + [r[:2] for r in requests]
        await book.load(keys)  # all locks in key order
        records = [await _apply_fhir(book, runtime.rules, fv, message_id, runtime.clock.now()) for fv in found]
        records += [await _request_fhir(book, request, message_id) for request in requests]
        numbers = list(dict.fromkeys([fv.visit.visit_number for fv in found] + [r[1] for r in requests]))
        result = {"visit_number": numbers[0]} if kind == "Encounter" else {"visit_numbers": numbers}
        await store.insert_message(book.uow.conn, _fhir_message(message_id, runtime.clock.now(), raw, kind,
                                                                "accepted", result=result))
    return records


async def reject_fhir(runtime: ServiceRuntime, raw: bytes, kind: str, exc: FhirInputError) -> None:
    """A FHIR body that is no visit is stored as rejected, with where and why (never the input itself)."""
    async with runtime.pool.acquire() as conn:
        await store.insert_message(conn, _fhir_message(uuid.uuid4(), runtime.clock.now(), raw, kind, "rejected",
                                                       {"code": exc.code, "location": exc.path,
                                                        "reason": exc.reason}))
