"""Applies visit changes inside a unit of work: lock and read each visit once, decide, write once, emit in order."""
from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import datetime
from typing import AsyncIterator, Iterable

import asyncpg

from services.contracts import Visit
from services.contracts.base import TOLERANT
from services.runtime.clock import Clock
from services.runtime.outbox import UnitOfWork, unit_of_work

from . import store
from .domain.indications import Rules, evaluate
from .domain.visits import VisitDecision, decide_cancel, decide_discharge, decide_request, decide_visit


class UnknownVisit(Exception):
    """The visit is not known to intake."""


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
            await self.uow.emit(event)
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
            record = d.record.model_dump(mode="json", exclude_none=True)
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
                       message_id: str | None = None) -> VisitDecision:
    """Register (or update) a visit, with the indications the program's rules find in it."""
    facility, number = visit.facility, visit.visit_number
    previous, status = await book.current(facility, number)
    indications = evaluate(rules, visit.diagnoses, complaints)
    visit = visit.model_copy(update={"indications": indications, "peer_indicated": bool(indications),
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


async def request_peer(book: VisitBook, facility: str, visit_number: str) -> VisitDecision:
    """A clinician asks for a peer for a known visit."""
    previous, status = await book.current(facility, visit_number)
    if previous is None:
        raise UnknownVisit()
    return await book.save(facility, visit_number, decide_request(previous, status))
