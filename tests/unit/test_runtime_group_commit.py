"""Group commit: work queued behind a running transaction shares the next one; groups stay whole; failures stay
local."""
from __future__ import annotations

import asyncio

import pytest

from services.runtime.group_commit import GroupCommit

pytestmark = pytest.mark.unit


class Ledger:
    """Stands in for the database: records which groups each transaction held; a transaction can be held open."""

    def __init__(self, poison: str | None = None):
        self.transactions: list[list[list[str]]] = []
        self.poison = poison
        self.gate = asyncio.Event()
        self.gate.set()

    async def apply(self, groups: list[list[str]]) -> list[list[str]]:
        await self.gate.wait()
        if any(self.poison in group for group in groups):
            raise ValueError("refused")
        self.transactions.append(groups)
        return [[item.upper() for item in group] for group in groups]


async def submit_while_held(committer: GroupCommit, ledger: Ledger, groups: list[list[str]]) -> list:
    """Queue every group while the ledger holds its transaction open, then let it commit; results or errors."""
    ledger.gate.clear()
    tasks = [asyncio.create_task(committer.submit(group)) for group in groups]
    await asyncio.sleep(0)
    ledger.gate.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_lone_group_is_committed_at_once_and_gets_its_own_results():
    ledger = Ledger()
    committer = GroupCommit(ledger.apply, name="test")
    assert await committer.submit(["a", "b"]) == ["A", "B"]
    assert ledger.transactions == [[["a", "b"]]]


async def test_groups_arriving_while_a_transaction_runs_share_the_next_one():
    ledger = Ledger()
    committer = GroupCommit(ledger.apply, name="test", writers=1)
    ledger.gate.clear()
    first = asyncio.create_task(committer.submit(["first"]))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(committer.submit([f"m{i}"])) for i in range(10)]
    await asyncio.sleep(0)
    ledger.gate.set()
    assert await first == ["FIRST"]
    assert [await task for task in rest] == [[f"M{i}"] for i in range(10)]
    assert ledger.transactions == [[["first"]], [[f"m{i}"] for i in range(10)]]


async def test_a_transaction_holds_at_most_max_items_but_never_splits_a_group():
    ledger = Ledger()
    committer = GroupCommit(ledger.apply, name="test", max_items=3, writers=1)
    await submit_while_held(committer, ledger, [["a"], ["b1", "b2"], ["c1", "c2", "c3", "c4"], ["d"], ["e"]])
    assert ledger.transactions == [[["a"], ["b1", "b2"]], [["c1", "c2", "c3", "c4"]], [["d"], ["e"]]]


async def test_a_failing_shared_transaction_is_retried_one_group_each_so_only_the_bad_group_fails():
    ledger = Ledger(poison="bad")
    committer = GroupCommit(ledger.apply, name="test", writers=1)
    results = await submit_while_held(committer, ledger, [["x"], ["y"], ["bad", "z"], ["w"]])
    assert results[:2] == [["X"], ["Y"]] and results[3] == ["W"]
    assert isinstance(results[2], ValueError)
    assert sorted(g for t in ledger.transactions for g in t) == [["w"], ["x"], ["y"]]


async def test_close_waits_for_queued_work_and_a_departed_caller_does_not_stop_it():
    ledger = Ledger()
    committer = GroupCommit(ledger.apply, name="test", writers=1)
    ledger.gate.clear()
    caller = asyncio.create_task(committer.submit(["kept"]))
    await asyncio.sleep(0)
    caller.cancel()
    ledger.gate.set()
    await committer.close()
    assert ledger.transactions == [[["kept"]]]
