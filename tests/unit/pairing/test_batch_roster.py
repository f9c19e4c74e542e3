"""A consumer batch of visits reads the roster once, and offers exactly as one visit per transaction would."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.contracts import EdVisitDischarged, PeerSupportIndicated
from services.pairing.domain.programs import Programs
from services.pairing.domain.shifts import Window
from services.pairing.handlers import build
from services.pairing.service import PairingService
from services.runtime.clock import FixedClock
from tests.unit.pairing.builders import NOW, peer, visit_data
from tests.unit.pairing.fakes import FakeStore, FakeUnitOfWork

pytestmark = pytest.mark.unit


class CountingStore(FakeStore):
    """The fake store, counting the roster reads."""

    reads = 0

    async def roster_state(self, now, *, with_shifts=True):
        self.reads += 1
        return await super().roster_state(now, with_shifts=with_shifts)


def pairing(caps: list[int]) -> tuple[CountingStore, FakeUnitOfWork, dict, list[str]]:
    store, clock = CountingStore(), FixedClock(NOW)
    window = [Window("F1", NOW - timedelta(hours=1), NOW + timedelta(hours=12))]
    names = [store.add_specialist(peer(f"p{i}", caseload_cap=cap), window) for i, cap in enumerate(caps)]
    handlers = build(PairingService(Programs.from_mapping({"defaults": {"supervisor": "sup"}})))
    return store, FakeUnitOfWork(store, clock), handlers, names


def offered(store: FakeStore) -> list[tuple[str, str]]:
    """Who was offered which visit, in the order offered."""
    return [(a["visit_number"], a["specialist_id"]) for a in store.assignments.values()]


async def apply(handlers, uow, events, *, batch: dict | None) -> None:
    for event in events:
        uow.batch = {} if batch is None else batch  # one transaction per event, or one for them all
        await handlers[type(event)](event, uow)


def visits(n: int) -> list[PeerSupportIndicated]:
    return [PeerSupportIndicated(**visit_data(visit_number=f"V{i}")) for i in range(n)]


async def test_a_batch_of_visits_reads_the_roster_once_and_offers_as_one_at_a_time_would():
    # Caps of 1, 2 and 2: the fourth and fifth visits find the load the batch's own offers left (so each peer's
    # room is counted in memory), and the last peer paged goes to the back of the fairness order every time.
    one_store, one_uow, one_handlers, one_names = pairing([1, 2, 2])
    await apply(one_handlers, one_uow, visits(6), batch=None)
    batch_store, batch_uow, batch_handlers, batch_names = pairing([1, 2, 2])
    await apply(batch_handlers, batch_uow, visits(6), batch={})
    rename = dict(zip(batch_names, one_names))
    assert [(v, rename[s]) for v, s in offered(batch_store)] == offered(one_store)
    assert len(offered(one_store)) == 5  # five places in all: the sixth visit escalates in both
    assert one_store.reads == 6 and batch_store.reads == 1
    assert batch_store.roster_locks == 1 and getattr(one_store, "roster_locks", 0) == 6


async def test_a_discharge_in_the_batch_makes_the_next_visit_read_the_roster_again():
    store, uow, handlers, names = pairing([1])
    discharged = EdVisitDischarged(facility="F1", visit_number="V0", discharged_at=NOW)
    await apply(handlers, uow, [*visits(1), discharged, PeerSupportIndicated(**visit_data(visit_number="V9"))],
                batch={})
    # The discharge withdrew V0's offer, so the one peer has room again for V9, which a stale roster would deny.
    assert [v for v, _ in offered(store)] == ["V0", "V9"] and store.reads == 2


async def test_a_run_of_visits_applied_set_wise_offers_as_one_at_a_time_would():
    one_store, one_uow, one_handlers, one_names = pairing([1, 2, 2])
    await apply(one_handlers, one_uow, visits(6), batch=None)
    run_store, run_uow, run_handlers, run_names = pairing([1, 2, 2])
    run_uow.batch = {}
    await run_handlers[PeerSupportIndicated].run([(v, run_uow) for v in visits(6)])  # as the consumer hands a run
    rename = dict(zip(run_names, one_names))
    assert [(v, rename[s]) for v, s in offered(run_store)] == offered(one_store)
    assert run_store.reads == 1 and [type(e).__name__ for e in run_uow.take()] == [
        type(e).__name__ for e in one_uow.take()]
