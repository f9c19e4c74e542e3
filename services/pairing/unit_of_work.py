"""The real binding of the use cases' ports: the SQL of store.py on the runtime unit of work's connection."""
from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import datetime
from typing import AsyncIterator

from services.contracts import Event
from services.runtime.outbox import UnitOfWork
from services.runtime.service import ServiceRuntime

from . import store
from . import store_assignments as sa
from . import store_followup as sf
from .ports import Work


class PgStore:
    """PairingStore over one asyncpg connection (inside its transaction); each method is the store function."""

    def __init__(self, conn):
        self.conn = conn

    async def roster_state(self, now: datetime, *, with_shifts: bool = True):
        return await store.roster_state(self.conn, now, with_shifts=with_shifts)

    async def profiles(self, ids):
        return await store.profiles(self.conn, list(ids))

    async def recused_for(self, hashed):
        return await store.recused_for(self.conn, hashed)

    async def lock_roster(self):
        await store.lock_roster(self.conn)

    async def open_cases(self, visits, statuses, opened_at):
        return await store.open_cases(self.conn, visits, statuses, opened_at)

    async def insert_offers(self, offers):
        return await sa.insert_offers(self.conn, offers)

    async def mark_paged(self, specialist_id, now):
        await store.mark_paged(self.conn, specialist_id, now)

    async def get_specialist(self, specialist_id, *, lock=False):
        return await store.get_specialist(self.conn, specialist_id, lock=lock)

    async def open_case(self, visit, status, opened_at):
        return await store.open_case(self.conn, visit, status, opened_at)

    async def get_case(self, case_id, *, lock=False):
        return await store.get_case(self.conn, case_id, lock=lock)

    async def set_case(self, case_id, **values):
        await store.set_case(self.conn, case_id, **values)

    async def escalate_once(self, case_id, kind, facility, supervisor, reason, now):
        return await store.escalate_once(self.conn, case_id, kind, facility, supervisor, reason, now)

    async def add_touchpoints(self, case_id, plan):
        await sf.add_touchpoints(self.conn, case_id, plan)

    async def cancel_touchpoints(self, case_id, outcome):
        await store.cancel_touchpoints(self.conn, case_id, outcome)

    async def touchpoints(self, case_id):
        return await store.touchpoints(self.conn, case_id)

    async def insert_assignment(self, **row):
        return await sa.insert_assignment(self.conn, **row)

    async def get_assignment(self, assignment_id, *, lock=False):
        return await sa.get_assignment(self.conn, assignment_id, lock=lock)

    async def assignments_of_case(self, case_id):
        return await sa.assignments_of_case(self.conn, case_id)

    async def transition(self, assignment_id, *, old, new, **values):
        return await sa.transition(self.conn, assignment_id, old=old, new=new, **values)

    async def add_deadline(self, case_id, assignment_id, kind, due_at):
        await sa.add_deadline(self.conn, case_id, assignment_id, kind, due_at)

    async def settle_deadlines(self, assignment_id, now, outcome):
        await sa.settle_deadlines(self.conn, assignment_id, now, outcome)

    async def take_due_deadline(self, now):
        return await sa.take_due_deadline(self.conn, now)

    async def finish_deadline(self, deadline_id, now, outcome):
        await sa.finish_deadline(self.conn, deadline_id, now, outcome)

    async def case_of_visit(self, facility, visit_number):
        return await store.case_of_visit(self.conn, facility, visit_number)

    async def any_arrived(self, case_id):
        return await sa.any_arrived(self.conn, case_id)

    async def replace_visit(self, case, visit):
        await store.replace_visit(self.conn, case, visit)

    async def set_preferences(self, case_id, preferences, at):
        await store.set_preferences(self.conn, case_id, preferences, at)

    async def cases_of_specialist(self, specialist_id):
        return await store.cases_of_specialist(self.conn, specialist_id)

    async def offers_of_specialist(self, specialist_id):
        return await sa.offers_of_specialist(self.conn, specialist_id)

    async def taken_assignment(self, case_id, specialist_id):
        return await sa.taken_assignment(self.conn, case_id, specialist_id)

    async def set_assignment(self, assignment_id, **values):
        await sa.set_assignment(self.conn, assignment_id, **values)

    async def insert_consent(self, assignment_id, body, now):
        return await sa.insert_consent(self.conn, assignment_id, body, now)

    async def latest_consent(self, assignment_id):
        return await sa.latest_consent(self.conn, assignment_id)

    async def encounter_started_at(self, assignment_id, started_at):
        return await sa.encounter_started_at(self.conn, assignment_id, started_at)

    async def insert_encounter(self, assignment_id, body):
        return await sa.insert_encounter(self.conn, assignment_id, body)

    async def contact_at(self, case_id, at, outcome):
        return await store.contact_at(self.conn, case_id, at, outcome)

    async def record_contact(self, case_id, contact, who, touchpoint_id):
        return await sf.record_contact(self.conn, case_id, contact, who, touchpoint_id)

    async def get_touchpoint(self, touchpoint_id, *, lock=False):
        return await sf.get_touchpoint(self.conn, touchpoint_id, lock=lock)

    async def window_reached(self, touchpoint_id, at):
        await sf.window_reached(self.conn, touchpoint_id, at)

    async def window_missed(self, touchpoint_id, now):
        return await sf.window_missed(self.conn, touchpoint_id, now)


class PairingUnitOfWork:
    """The runtime's unit of work (one transaction, the outbox) with pairing's store bound to its connection."""

    def __init__(self, uow: UnitOfWork):
        self.inner = uow
        self.conn = uow.conn  # for the routes' reads (fetch-or-404), which stay plain SQL
        self.clock = uow.clock
        self.batch = uow.batch  # shared by the events of one consumer batch (the roster read once)
        self.store = PgStore(uow.conn)

    async def emit(self, event: Event):
        return await self.inner.emit(event)


def bind(uow) -> Work:
    """The use cases' view of a unit of work: the runtime's, bound to SQL; one that brings its own store (a test's
    fake) as it is."""
    return uow if hasattr(uow, "store") else PairingUnitOfWork(uow)


@asynccontextmanager
async def unit_of_work(runtime: ServiceRuntime) -> AsyncIterator[PairingUnitOfWork]:
    """A transaction of the service's runtime, as the use cases take it."""
    async with runtime.unit_of_work() as uow:
        yield PairingUnitOfWork(uow)
