"""Transactional outbox: a unit of work that emits events with its state change, and the relay that publishes them."""
from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import AsyncIterator

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from services.contracts import Event

from . import contracts
from .clock import Clock, SystemClock
from .db import DatabaseUnavailable, connection
from .envelope import Envelope, attributes_to_bytes, event_attributes, partition_key, transport_headers
from .loops import Backoff, run_loop

log = structlog.get_logger("runtime.outbox")


class UnitOfWork:
    """One database transaction; events emitted through it commit or vanish with the state change."""

    def __init__(self, conn: asyncpg.Connection, service: str, *, clock: Clock | None = None,
                 cause: Envelope | None = None, validate: bool = True, deferred: bool = False,
                 pending: list | None = None, batch: dict | None = None):
        self.conn = conn
        self.service = service
        self.clock = clock or SystemClock()
        self.cause = cause
        self.validate = validate
        # Deferred: events are checked and serialised at emit, written by flush() in one statement before commit.
        self.deferred = deferred
        self._emitted: list[dict] = []
        # Shared by the units of work of one consumer batch, so its events are written together at the end.
        self._pending: list[tuple] = [] if pending is None else pending
        # What the events of one transaction share (a handler's cache, say); a lone unit of work has its own.
        self.batch: dict = {} if batch is None else batch

    @property
    def emitted(self) -> list[Envelope]:
        """The envelopes emitted so far (built on demand: nothing on the write path reads them)."""
        return [Envelope.model_construct(**attributes) for attributes in self._emitted]

    async def emit(self, event: Event, *, key: bytes | None = None, facility: str | None = None,
                   visit_number: str | None = None, data: dict | None = None) -> str:
        """Write an event (a contract model: its class names it and its topic) to the outbox, keyed by its visit
        (facility and visit number, the event's own unless given) so a visit's events keep their order; returns the
        event's id. `data` is the event's to_data() when the caller already holds it (one dump shared by a visit's
        record and the events that carry it)."""
        topic, name = event.topic, type(event).__name__
        data = event.to_data() if data is None else data
        facility = facility or getattr(event, "facility", None)
        visit_number = visit_number or getattr(event, "visit_number", None)
        # Built, the model has been validated; what goes on the wire is checked against its published schema too.
        if self.validate and contracts.known(name):
            contracts.validate(name, data)
        if key is None:
            if facility is None or visit_number is None:
                raise ValueError("an event needs a key, or the facility and visit number it belongs to")
            key = partition_key(facility, visit_number)
        attributes = event_attributes(self.service, name, data, subject=key.decode(), cause=self.cause,
                                      now=self.clock.now())
        self._pending.append((attributes["id"], topic, key, attributes_to_bytes(attributes), attributes["type"],
                              attributes["traceparent"]))
        self._emitted.append(attributes)
        if not self.deferred:
            await self.flush()
        return attributes["id"]

    async def flush(self) -> None:
        """Write the events emitted so far to the outbox, in emit order, with one statement."""
        if not self._pending:
            return
        columns = list(zip(*self._pending))
        self._pending.clear()
        await self.conn.execute(
            "INSERT INTO outbox (event_id, topic, partition_key, payload, event_type, traceparent)"
            " SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::bytea[], $5::text[], $6::text[])",
            *columns,
        )


@asynccontextmanager
async def unit_of_work(pool: asyncpg.Pool, service: str, **kwargs) -> AsyncIterator[UnitOfWork]:
    """Acquire a connection, open a transaction and hand out a unit of work bound to it; its events are written
    together just before the commit."""
    async with pool.acquire() as conn, conn.transaction():
        uow = UnitOfWork(conn, service, deferred=kwargs.pop("deferred", True), **kwargs)
        yield uow
        await uow.flush()


class OutboxRelay:
    """Publishes outbox rows in order with an idempotent producer and marks them published."""

    def __init__(self, pool: asyncpg.Pool, producer: AIOKafkaProducer, *, schema: str,
                 topic_prefix: str = "", poll_seconds: float = 0.5, batch_size: int = 500,
                 retention_hours: float = 168.0, idempotency_hours: float = 48.0, clock: Clock | None = None):
        self.pool = pool
        self.producer = producer
        self.channel = f"{schema}_outbox"
        self.topic_prefix = topic_prefix
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.retention_hours = retention_hours
        self.idempotency_hours = idempotency_hours
        # The keys' created_at comes from the service's clock, so their expiry is reckoned by the same clock.
        self.clock = clock or SystemClock()
        self._wake = asyncio.Event()
        self._last_prune = 0.0
        self._listener: asyncpg.Connection | None = None
        self._listener_lost = False
        # Whether this relay's listening session holds the schema's publisher lock (session-level): the running relay
        # then publishes on that session with no transaction of its own, two statements a round rather than five.
        self._leading = False
        # The lowest seq named by the wake-ups since the last read (each committed INSERT names its lowest), and when
        # the outbox was last read from its start: a wake-up may be lost (no one listened, another replica led), so
        # a read from the start still happens at least every poll_seconds, as when no wake-up comes at all.
        self._lowest: int | None = None
        self._read_all_at = float("-inf")
        self.published = 0

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished events in a transaction holding the publisher lock; how many."""
        async with connection(self.pool) as conn, conn.transaction():
            # One publisher per schema at a time: two relays taking alternate batches could put a visit's
            # events on the wire out of order. A replica that loses the lock idles until the next wake-up.
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", self.channel):
                return 0
            return await self._publish_batch(conn)

    async def _publish_batch(self, conn: asyncpg.Connection, lowest: int = 0) -> int:
        """Send the oldest unpublished rows (from seq `lowest` on) and mark them published, on a session that holds
        the publisher lock."""
        rows = await conn.fetch(
            "SELECT seq, event_id, topic, partition_key, payload, event_type, traceparent FROM outbox"
            " WHERE published_at IS NULL AND seq >= $2 ORDER BY seq LIMIT $1", self.batch_size, lowest)
        if not rows:
            return 0
        futures = []
        for row in rows:
            headers = transport_headers(str(row["event_id"]), row["event_type"], row["traceparent"])
            futures.append(await self.producer.send(
                self.topic_prefix + row["topic"], row["payload"], key=row["partition_key"], headers=headers))
        # Marked published only once the broker has acknowledged every record (acks=all). A crash before the mark
        # publishes them again, under the same event ids, which consumers ignore.
        await asyncio.gather(*futures)
        await conn.execute("UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[])",
                           [r["seq"] for r in rows])
        self.published += len(rows)
        return len(rows)

    async def prune(self) -> None:
        """Forget published events and inbox entries older than the topics' retention (nothing can redeliver them),
        and stored Idempotency-Key answers past theirs."""
        async with connection(self.pool) as conn:
            await conn.execute("DELETE FROM outbox WHERE published_at < now() - make_interval(hours => $1)",
                               self.retention_hours)
            await conn.execute("DELETE FROM inbox WHERE processed_at < now() - make_interval(hours => $1)",
                               self.retention_hours + 24)
            await conn.execute("DELETE FROM idempotency_keys WHERE created_at < $1",
                               self.clock.now() - timedelta(hours=self.idempotency_hours))

    def _on_notify(self, _conn, _pid, _channel, payload: str) -> None:
        try:
            seq = int(payload)
        except ValueError:  # a wake-up that names no seq (a schema not migrated yet): read from the start
            seq = 0
        self._lowest = seq if self._lowest is None else min(self._lowest, seq)
        self._wake.set()

    def _read_from(self) -> int:
        """Where this round reads: the lowest seq woken for, or the start when none was named or a read from the
        start is due; taken, so a wake-up arriving during the round names its own."""
        now = asyncio.get_running_loop().time()
        lowest, self._lowest = self._lowest, None
        if lowest is None or now - self._read_all_at >= self.poll_seconds:
            self._read_all_at = now
            return 0
        return lowest

    async def _listen(self, listener: asyncpg.Connection | None) -> asyncpg.Connection:
        """The LISTEN connection, opened again when the server dropped it (a restart ends every session)."""
        if listener is not None and not self._listener_lost and not listener.is_closed():
            return listener
        # A lost connection has gone back to the pool by itself; only a new one needs acquiring. Events committed
        # while no one listened sent their wake-up to no one: the next round reads from the start.
        self._listener_lost = False
        self._read_all_at = float("-inf")
        try:
            async with AsyncExitStack() as undo:
                listener = await self.pool.acquire()
                undo.push_async_callback(self.pool.release, listener)
                listener.add_termination_listener(self._on_listener_lost)
                await listener.add_listener(self.channel, self._on_notify)
                undo.pop_all()
        except BaseException:
            # Still not listening (the server is not back yet): the next round must try again, not take the old one.
            self._listener_lost = True
            raise
        return listener

    def _on_listener_lost(self, _conn) -> None:
        # Woken at once, so the loop listens again now rather than at the next poll. The server released the
        # session's publisher lock with it: another replica may be publishing now.
        self._listener_lost = True
        self._leading = False
        self._wake.set()

    async def run(self) -> None:
        """Publish until cancelled; woken by NOTIFY, with polling as the fallback."""
        try:
            await run_loop(self._publish_all, name="relay", log=log, failed="outbox_publish_failed",
                           outage="outbox_infrastructure_error", every=self.poll_seconds, wake=self._wake,
                           backoff=Backoff(first=2 * self.poll_seconds, factor=2.0, cap=10.0))
        finally:
            if self._listener is not None and not self._listener_lost:
                try:
                    await self._listener.remove_listener(self.channel, self._on_notify)
                    if self._leading:  # the pool keeps sessions as they are: the lock would stay with the connection
                        await self._listener.execute("SELECT pg_advisory_unlock(hashtext($1))", self.channel)
                        self._leading = False
                finally:
                    await self.pool.release(self._listener)

    async def _publish_all(self) -> None:
        """Listen (again), publish everything pending, and prune every 10 minutes; a failure keeps the rows."""
        self._listener = listener = await self._listen(self._listener)
        try:
            if not self._leading:
                # One publisher per schema: the replica whose listening session holds the lock. The others try again
                # at each wake-up and take over within a poll once the leader's session ends (a crash ends it too).
                self._leading = await listener.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", self.channel)
                self._read_all_at = float("-inf")  # a new leader reads from the start: it may have missed wake-ups
            lowest = self._read_from()
            # Until a round finds less than a batch: whatever commits after its read wakes the relay again.
            while self._leading and await self._publish_batch(listener, lowest) >= self.batch_size:
                pass
        except Exception as exc:
            self._read_all_at = float("-inf")  # the round's rows are still there, below what later wake-ups name
            if listener.is_closed():  # an outage, not a failure of ours: listened again (and led again) next round
                self._on_listener_lost(listener)
                raise DatabaseUnavailable("database connection lost") from exc
            raise
        now = asyncio.get_running_loop().time()
        if now - self._last_prune > 600:
            self._last_prune = now
            await self.prune()
