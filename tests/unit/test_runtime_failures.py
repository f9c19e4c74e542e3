"""Failure classification: a database outage is retried without limit; the handler's own errors reach the DLQ."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from types import SimpleNamespace

import asyncpg
import pytest

from services.runtime.consumer import EventConsumer
from services.runtime.envelope import new_event
from tests.support.events import ItemAdded

pytestmark = pytest.mark.unit
OUTAGE_LENGTH = 4  # failed tries in a row, more than the consumer's max_attempts


class FakeConnection:
    """Fails the inbox insert the first `failures` times, the way a server that is restarting does."""

    def __init__(self, error: Exception | None, failures: int, closes: bool):
        self.error, self.failures, self.closes, self.closed = error, failures, closes, False

    def is_closed(self) -> bool:
        return self.closed

    @asynccontextmanager
    async def transaction(self):
        yield
        if self.closed:  # asyncpg cannot commit or roll back on a lost connection either
            raise asyncpg.InterfaceError("cannot call Transaction.__aexit__(): the underlying connection is closed")

    async def fetchval(self, *_args):
        if self.failures:
            self.failures -= 1
            self.closed = self.closes
            raise self.error
        return True

    async def execute(self, *_args):
        return "INSERT 0 1"


class FakePool:
    def __init__(self, conn: FakeConnection, acquire_error: Exception | None = None):
        self.conn, self.acquire_error, self.acquire_failures = conn, acquire_error, OUTAGE_LENGTH

    def acquire(self):
        return _Acquire(self)

    async def _acquire(self):
        if self.acquire_error is not None and self.acquire_failures:
            self.acquire_failures -= 1
            raise self.acquire_error
        self.conn.closed = False  # the pool replaces a lost connection
        return self.conn

    async def release(self, _conn):
        pass


class _Acquire:
    """Awaitable, or an async context manager, like asyncpg's pool.acquire()."""

    def __init__(self, pool: FakePool):
        self.pool = pool

    def __await__(self):
        return self.pool._acquire().__await__()

    async def __aenter__(self):
        return await self.pool._acquire()

    async def __aexit__(self, *_exc):
        return False


class FakeProducer:
    def __init__(self):
        self.sent = []

    async def send_and_wait(self, topic, value, key=None, headers=None):
        self.sent.append(topic)


def run(pool: FakePool, handler) -> FakeProducer:
    producer = FakeProducer()
    consumer = EventConsumer(pool=pool, producer=producer, bootstrap_servers="unused", service="test", group="g",
                             topics=["t"], handlers={ItemAdded: handler}, max_attempts=2, backoff_seconds=0)
    record = SimpleNamespace(topic="t", partition=0, offset=7, key=b"k", headers=(),
                             value=new_event("test", "ItemAdded", {"item": 1}).to_bytes())
    asyncio.run(asyncio.wait_for(consumer.process(record), timeout=3))
    return producer


def counting_handler(calls: list, error: Exception | None = None):
    async def on_item(event, uow):
        calls.append(uow.cause.id)
        if error is not None:
            raise error
    return on_item


@pytest.mark.parametrize("error,closes", [
    (asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"), True),
    (asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"), False),
    (asyncpg.exceptions.CrashShutdownError("terminating connection because of crash of another server process"), True),
    (asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"), False),
    (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"), True),
    (asyncpg.InterfaceError("cannot perform operation: connection is closed"), True),
    (asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"), False),
], ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v))
def test_a_database_going_away_under_the_handler_is_retried_until_it_is_back_and_never_dead_lettered(error, closes):
    calls = []
    producer = run(FakePool(FakeConnection(error, OUTAGE_LENGTH, closes)), counting_handler(calls))
    assert len(calls) == 1 and producer.sent == []


@pytest.mark.parametrize("error", [
    ConnectionRefusedError(111, "Connection refused"),
    OSError("Multiple exceptions: [Errno 111] Connect call failed ('::1', 5432), [Errno 111] ..."),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    TimeoutError(),
], ids=lambda e: type(e).__name__)
def test_no_connection_while_reconnecting_is_retried_until_the_database_is_back(error):
    calls = []
    producer = run(FakePool(FakeConnection(None, 0, False), acquire_error=error), counting_handler(calls))
    assert len(calls) == 1 and producer.sent == []


@pytest.mark.parametrize("error", [
    asyncpg.InterfaceError("the server expects 2 arguments for this query, 1 was passed"),  # connection fine
    asyncpg.exceptions.DataError("invalid input for query argument $1: 'abc' (an integer is required)"),
    FileNotFoundError(2, "No such file or directory"),
    TimeoutError(),
    asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint"),
], ids=lambda e: type(e).__name__)
def test_the_handlers_own_errors_are_retried_max_attempts_times_then_dead_lettered(error):
    calls = []
    producer = run(FakePool(FakeConnection(None, 0, False)), counting_handler(calls, error))
    assert len(calls) == 2 and producer.sent == ["t.dlq"]
