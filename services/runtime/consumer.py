"""Idempotent consumer: a fetched batch (inbox rows and effects, all its partitions) in one transaction, offsets
committed after it, one event at a time when the batch fails, poison to the DLQ."""
from __future__ import annotations

import asyncio
import uuid
from typing import Any, Awaitable, Callable, Mapping

import asyncpg
import pydantic
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from prometheus_client import Counter, Histogram

from services.contracts import Event, parse

from .clock import Clock, SystemClock
from .db import connection
from .envelope import TYPE_PREFIX, Envelope
from .errors import ContractError, PoisonMessage
from .failures import INFRASTRUCTURE_FAILURES, infrastructure_cause
from .loops import Backoff
from .outbox import UnitOfWork
from .topics import dlq

log = structlog.get_logger("runtime.consumer")
# A handler takes the event, as its contract model, and the unit of work of the transaction it runs in; the envelope
# (id, correlation, time) is `uow.cause`.
Handler = Callable[[Any, UnitOfWork], Awaitable[None]]
Handlers = Mapping[type[Event], Handler]
# A handler of a run of events together: each event with its own unit of work (same connection, its own cause).
RunHandler = Callable[[list[tuple[Any, UnitOfWork]]], Awaitable[None]]


def batched(run: RunHandler) -> Handler:
    """A handler that applies consecutive events of its kind in a consumer batch with one call (set-wise SQL instead
    of each event's round trips); an event alone is a run of one."""

    async def one(event: Any, uow: UnitOfWork) -> None:
        await run([(event, uow)])

    one.run = run  # type: ignore[attr-defined]
    one.__doc__ = run.__doc__
    return one


def bind(handlers: Handlers) -> dict[str, tuple[type[Event], Handler]]:
    """Handlers by event name, with the model each is handed."""
    return {model.__name__: (model, handler) for model, handler in handlers.items()}


EVENTS_HANDLED = Counter("peerbridge_events_handled_total", "Events consumed, by outcome",
                         ["consumer_group", "event_type", "outcome"])
HANDLER_FAILURES = Counter("peerbridge_handler_failures_total",
                           "Failed handler attempts (outages of the database or broker are not counted)",
                           ["consumer_group", "event_type"])
BATCH_SIZES = Histogram("peerbridge_consumer_batch_events", "Events applied per consumer transaction",
                        ["consumer_group"], buckets=(2, 5, 10, 20, 50, 100, 200, 500))
BATCH_SPLITS = Counter("peerbridge_consumer_batch_splits_total",
                       "Batches that failed together and were applied one event at a time", ["consumer_group"])


def portions(records: list, most: int) -> list[list]:
    """The records in order, cut into as few runs of at most `most` as can be, of near-equal sizes."""
    if not records:
        return []
    count = -(-len(records) // most)
    size = -(-len(records) // count)
    return [records[i:i + size] for i in range(0, len(records), size)]


class EventConsumer:
    """Consumes topics for one consumer group and dispatches events to handlers by event name."""

    def __init__(self, *, pool: asyncpg.Pool, producer: AIOKafkaProducer, bootstrap_servers: str,
                 service: str, group: str, topics: list[str], handlers: Handlers,
                 topic_prefix: str = "", max_attempts: int = 5, backoff_seconds: float = 0.2,
                 clock: Clock | None = None, batch_max: int = 200, commit_seconds: float = 0.5,
                 fetch_wait_ms: int = 500, fetch_min_bytes: int = 1, transaction_max: int = 50):
        self.pool = pool
        self.producer = producer
        self.bootstrap_servers = bootstrap_servers
        self.service = service
        self.group = topic_prefix + group
        self.topics = [topic_prefix + t for t in topics]
        self.topic_prefix = topic_prefix
        self.handlers = bind(handlers)
        self.max_attempts = max_attempts
        self.batch_max = batch_max
        # The most records one transaction applies: it bounds how long a batch holds its locks (pairing's roster lock,
        # which the API's taps wait for) and how much one failure sends back to be applied one at a time.
        self.transaction_max = max(1, transaction_max)
        self.fetch = {"fetch_max_wait_ms": fetch_wait_ms, "fetch_min_bytes": fetch_min_bytes}
        # Offsets are committed at most this often (and when partitions are revoked, and at stop): a commit is a
        # broker write, and what a crash leaves uncommitted is redelivered to the inbox, which never applies it twice.
        self.commit_seconds = commit_seconds
        self.uncommitted: dict[TopicPartition, int] = {}
        self._committed_at = 0.0
        # One policy for a handler's retries, outages and dead-letter sends alike.
        self.backoff = Backoff(first=backoff_seconds, factor=2.0, cap=10.0)
        self.clock = clock or SystemClock()
        self.consumer: AIOKafkaConsumer | None = None
        self.assigned = asyncio.Event()

    async def run(self) -> None:
        """Consume until cancelled: each fetched batch is applied in one transaction, every partition's records in
        their order."""
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers, group_id=self.group,
            enable_auto_commit=False, auto_offset_reset="earliest", isolation_level="read_committed",
            max_poll_records=self.batch_max, **self.fetch)
        self.consumer.subscribe(self.topics, listener=_CommitOnRevoke(self))
        await self.consumer.start()
        self._committed_at = asyncio.get_running_loop().time()
        try:
            while True:
                batch = await self.consumer.getmany(timeout_ms=500)
                if self.consumer.assignment():
                    self.assigned.set()
                if batch:
                    # All partitions in one transaction, each partition's records (hence each visit's) in order: a
                    # transaction per partition paid its fixed round trips again and, where handlers take turns on a
                    # lock (pairing's roster), waited for its sibling's commit (README, Throughput).
                    for part in portions([r for records in batch.values() for r in records], self.transaction_max):
                        await self.process_batch(part)
                    # Only after each record's database transaction: a crash before the commit means redelivery,
                    # and the inbox turns redelivery into a no-op.
                    self.uncommitted.update({tp: records[-1].offset + 1 for tp, records in batch.items() if records})
                if self.uncommitted and asyncio.get_running_loop().time() - self._committed_at >= self.commit_seconds:
                    await self.commit()
        finally:
            try:
                await asyncio.wait_for(self.commit(), timeout=5)
            except Exception as exc:  # the broker is gone: what stays uncommitted is redelivered, and deduplicated
                log.warning("consumer_final_commit_failed", error_class=type(exc).__name__)
            finally:
                await self.consumer.stop()

    async def commit(self, partitions: set[TopicPartition] | None = None) -> None:
        """Commit the offsets applied so far (of these partitions only, when given)."""
        offsets = {tp: o for tp, o in self.uncommitted.items() if partitions is None or tp in partitions}
        if not offsets or self.consumer is None:
            return
        await self.consumer.commit(offsets)
        for tp, offset in offsets.items():
            if self.uncommitted.get(tp) == offset:
                del self.uncommitted[tp]
        self._committed_at = asyncio.get_running_loop().time()

    async def process_batch(self, records: list[ConsumerRecord]) -> None:
        """Apply a fetch's records (each partition's in order) in one transaction; when that fails for a reason of
        theirs, one at a time (so a poison record fails alone and goes to the dead-letter topic)."""
        work: list[tuple[ConsumerRecord, Envelope, tuple[type[Event], Handler]]] = []
        for record in records:
            # An unreadable record is dead-lettered here and its neighbours go on together.
            readable = await self._readable(record)
            if readable is not None:
                work.append((record, *readable))
        if len(work) == 1:
            await self.process(work[0][0])
            return
        outage = 0
        while work:
            try:
                outcomes = await self._apply_batch(work)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                cause = infrastructure_cause(exc)
                if cause is not None:
                    outage += 1
                    await self._wait_out(cause, outage, events=len(work))
                    continue
                # One of them failed (which, the transaction cannot say): each alone, in order, as before.
                BATCH_SPLITS.labels(self.group).inc()
                log.warning("consumer_batch_split", error_class=type(exc).__name__, events=len(work))
                for record, _, _ in work:
                    await self.process(record)
                return
            BATCH_SIZES.labels(self.group).observe(len(work))
            for (_, event, _), outcome in zip(work, outcomes):
                EVENTS_HANDLED.labels(self.group, event.name, outcome).inc()
            return

    async def _apply_batch(self, work: list[tuple[ConsumerRecord, Envelope, tuple[type[Event], Handler]]]
                           ) -> list[str]:
        """Inbox rows for all (one statement), each new event's handler in order, their events written together,
        one commit."""
        async with connection(self.pool) as conn, conn.transaction():
            ids = [str(uuid.UUID(e.id)) for _, e, _ in work]  # as PostgreSQL returns them
            columns = [ids, [e.name for _, e, _ in work], [r.topic for r, _, _ in work],
                       [r.partition for r, _, _ in work], [r.offset for r, _, _ in work]]
            fresh = {str(row[0]) for row in await conn.fetch(
                "INSERT INTO inbox (consumer_group, event_id, event_type, topic, kafka_partition, kafka_offset)"
                " SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::bigint[])"
                " ON CONFLICT DO NOTHING RETURNING event_id", self.group, *columns)}
            pending: list[tuple] = []
            shared: dict = {}
            outcomes = []
            # Consecutive events of one batched handler are applied as one run; order is kept, runs never reorder.
            run: list[tuple[Event, UnitOfWork]] = []
            run_handler: Handler | None = None
            for event_id, (_, event, (model, handle)) in zip(ids, work):
                if event_id not in fresh:  # applied before, or twice in this batch (a relay's republish)
                    outcomes.append("duplicate")
                    continue
                fresh.discard(event_id)
                uow = UnitOfWork(conn, self.service, clock=self.clock, cause=event, deferred=True, pending=pending,
                                 batch=shared)
                outcomes.append("applied")
                if run and handle is not run_handler:
                    await run_handler.run(run)  # type: ignore[union-attr]
                    run = []
                if hasattr(handle, "run"):
                    run_handler = handle
                    run.append((typed(model, event), uow))
                else:
                    await handle(typed(model, event), uow)
            if run:
                await run_handler.run(run)  # type: ignore[union-attr]
            await UnitOfWork(conn, self.service, pending=pending).flush()
        return outcomes

    async def _readable(self, record: ConsumerRecord) -> tuple[Envelope, tuple[type[Event], Handler]] | None:
        """The record's envelope and handler; None when it is unreadable (dead-lettered) or not handled here."""
        named = event_name(record)
        if named is not None and named not in self.handlers:  # known from its header: no need to parse it
            EVENTS_HANDLED.labels(self.group, named, "ignored").inc()
            return None
        try:
            event = Envelope.from_bytes(record.value)
        except (ValueError, pydantic.ValidationError) as exc:
            await self.dead_letter(record, None, type(exc).__name__)
            return None
        handler = self.handlers.get(event.name)
        if handler is None:
            EVENTS_HANDLED.labels(self.group, event.name, "ignored").inc()
            return None
        return event, handler

    async def _wait_out(self, cause: BaseException, outage: int, **context) -> None:
        """Count and log an outage (the database or the broker), then back off before the same work again."""
        INFRASTRUCTURE_FAILURES.labels("consumer", type(cause).__name__).inc()
        log.warning("consumer_infrastructure_error", error_class=type(cause).__name__, attempt=outage, **context)
        await asyncio.sleep(self.backoff.delay(outage))

    async def process(self, record: ConsumerRecord) -> None:
        """Handle one record exactly once in effect, or dead-letter it."""
        readable = await self._readable(record)
        if readable is None:
            return
        event, handler = readable
        attempt = outage = 0
        while True:
            try:
                outcome = await self._apply(record, event, handler)
                EVENTS_HANDLED.labels(self.group, event.name, outcome).inc()
                return
            except asyncio.CancelledError:
                raise
            except PoisonMessage as exc:
                error = type(exc).__name__
                break
            except Exception as exc:
                cause = infrastructure_cause(exc)
                if cause is not None:
                    # An outage is not the message's fault: retried without limit, never counted, never dead-lettered.
                    outage += 1
                    await self._wait_out(cause, outage, event_id=event.id)
                    continue
                attempt += 1
                error = type(exc).__name__
                HANDLER_FAILURES.labels(self.group, event.name).inc()
                log.warning("handler_failed", error_class=error, event_id=event.id,
                            event_type=event.name, attempt=attempt)
                if attempt >= self.max_attempts:
                    break
                await asyncio.sleep(self.backoff.delay(attempt))
        await self.dead_letter(record, event, error)

    async def _apply(self, record: ConsumerRecord, event: Envelope, handler: tuple[type[Event], Handler]) -> str:
        async with connection(self.pool) as conn, conn.transaction():
            fresh = await conn.fetchval(
                "INSERT INTO inbox (consumer_group, event_id, event_type, topic, kafka_partition, kafka_offset)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true",
                self.group, event.id, event.name, record.topic, record.partition, record.offset)
            if not fresh:
                return "duplicate"
            model, handle = handler
            await handle(typed(model, event), UnitOfWork(conn, self.service, clock=self.clock, cause=event))
        return "applied"

    async def dead_letter(self, record: ConsumerRecord, event: Envelope | None, error_class: str) -> None:
        """Send the record, untouched, to <topic>.dlq with its origin in headers, and keep a copy."""
        origin = record.topic.removeprefix(self.topic_prefix)
        headers = [
            ("dlq.origin.topic", record.topic.encode()),
            ("dlq.origin.partition", str(record.partition).encode()),
            ("dlq.origin.offset", str(record.offset).encode()),
            ("dlq.error.class", error_class.encode()),
            ("dlq.consumer.group", self.group.encode()),
        ]
        failures = 0
        while True:
            try:
                await self.producer.send_and_wait(self.topic_prefix + dlq(origin), record.value or b"",
                                                  key=record.key, headers=headers)
                async with connection(self.pool) as conn:
                    await conn.execute(
                        "INSERT INTO dead_letters (consumer_group, topic, kafka_partition, kafka_offset,"
                        " event_id, error_class, raw, kafka_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                        " ON CONFLICT DO NOTHING",
                        self.group, record.topic, record.partition, record.offset,
                        event.id if event else None, error_class, record.value or b"", record.key)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("dead_letter_failed", error_class=type(exc).__name__, attempt=failures)
                await asyncio.sleep(self.backoff.delay(failures))
        EVENTS_HANDLED.labels(self.group, event.name if event else "unreadable", "dead_lettered").inc()
        log.error("event_dead_lettered", topic=record.topic, partition=record.partition, offset=record.offset,
                  error_class=error_class, event_id=event.id if event else None)


def event_name(record: ConsumerRecord) -> str | None:
    """The event's name from the record's `ce_type` header (the relay writes it from the same row as the payload);
    None without one."""
    for key, value in record.headers or ():
        if key == "ce_type":
            return value.decode("utf-8", "replace").removeprefix(TYPE_PREFIX).split(".")[-1]
    return None


class _CommitOnRevoke(ConsumerRebalanceListener):
    """Commits a partition's applied offsets before it moves to another consumer (which would otherwise read them
    again, to no effect but wasted work)."""

    def __init__(self, consumer: EventConsumer):
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked) -> None:
        try:
            await self.consumer.commit(set(revoked))
        except Exception as exc:
            log.warning("consumer_revoke_commit_failed", error_class=type(exc).__name__)
        for tp in revoked:
            self.consumer.uncommitted.pop(tp, None)

    async def on_partitions_assigned(self, assigned) -> None:
        return None


def typed(model: type[Event], event: Envelope) -> Event:
    """The event's data as its contract model; data that does not fit is a contract error (never retried)."""
    try:
        return parse(model, event.data)
    except pydantic.ValidationError as exc:
        where = ", ".join(".".join(map(str, e["loc"])) or "(root)" for e in exc.errors()[:5])
        raise ContractError(f"{event.name} does not fit its contract at: {where}") from None
