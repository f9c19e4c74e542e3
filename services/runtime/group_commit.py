"""Group commit: work that arrives while a transaction runs waits and goes together in the next one.

A durable commit costs a disk flush and several round trips whatever it holds, so under load a hundred messages in
one transaction cost little more than one. Nothing waits on a timer: a lone message is written at once, and batches
grow only as fast as work queues up behind a running transaction. Each caller still gets its own result only after
the transaction holding its work has committed."""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Generic, TypeVar

import structlog
from prometheus_client import Histogram

log = structlog.get_logger("runtime.group_commit")
GROUP_ITEMS = Histogram("peerbridge_group_commit_items", "Items committed per shared transaction", ["name"],
                        buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500))

Item = TypeVar("Item")
Result = TypeVar("Result")

# apply(groups) runs every group in one transaction and returns, for each group, one result per item.
Apply = Callable[[list[list[Item]]], Awaitable[list[list[Result]]]]


class GroupCommit(Generic[Item, Result]):
    """Queues groups of items and runs them, several groups per transaction, on a few writer tasks.

    A group (an HL7 batch file, say) is never split, so its items commit together and in order. When a shared
    transaction fails, its groups are retried one per transaction, so one bad message cannot fail its neighbours."""

    def __init__(self, apply: Apply, *, name: str, max_items: int = 200, writers: int = 2):
        self.apply = apply
        self.sizes = GROUP_ITEMS.labels(name)
        self.max_items = max_items
        self.writers = writers
        self._queue: list[tuple[list[Item], asyncio.Future]] = []
        self._tasks: set[asyncio.Task] = set()

    async def submit(self, items: list[Item]) -> list[Result]:
        """Results for these items once they are committed; raises what applying them alone raised."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((items, future))
        if len(self._tasks) < self.writers:
            task = asyncio.create_task(self._drain(), name="group-commit-writer")
            self._tasks.add(task)
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Wait until everything queued so far is committed (writers exit when the queue is empty)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _take(self) -> list[tuple[list[Item], asyncio.Future]]:
        taken, size = [], 0
        while self._queue and (not taken or size + len(self._queue[0][0]) <= self.max_items):
            group = self._queue.pop(0)
            taken.append(group)
            size += len(group[0])
        return taken

    async def _drain(self) -> None:
        try:
            while self._queue:
                await self._run(self._take())
        finally:
            self._tasks.discard(asyncio.current_task())

    async def _run(self, taken: list[tuple[list[Item], asyncio.Future]]) -> None:
        groups = [items for items, _ in taken]
        try:
            results = await self.apply(groups)
        except Exception as exc:
            if len(taken) > 1:
                log.warning("group_commit_split", groups=len(taken), error_class=type(exc).__name__)
                for one in taken:
                    await self._run([one])
                return
            _settle(taken[0][1], exception=exc)
            return
        self.sizes.observe(sum(map(len, groups)))
        for (_, future), result in zip(taken, results):
            _settle(future, result=result)


def _settle(future: asyncio.Future, *, result=None, exception: BaseException | None = None) -> None:
    if future.done():  # the caller went away (its connection closed); the work is committed all the same
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)
