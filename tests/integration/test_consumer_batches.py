"""Consumer batches on a real broker and database: one transaction per fetch (all its partitions), order per visit,
a poison event failing alone while its neighbours apply, and the batch's events written to the outbox in order."""
from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import REGISTRY

from services.runtime.consumer import EventConsumer, batched
from services.runtime.envelope import new_event
from tests.support.events import ItemAdded
from tests.support.fixtures import read_topic, wait_for, wait_until_caught_up

pytestmark = pytest.mark.integration
TOPIC = ItemAdded.topic
KEYS = 10


def echoing_handler():
    """Applies an item and announces it (item + 1000, same visit), failing on a poison item."""
    async def on_item(event, uow):
        if event.poison:
            raise KeyError("cannot handle")
        await uow.conn.execute("INSERT INTO effects (item, event_id) VALUES ($1, $2)", event.item, uow.cause.id)
        await uow.emit(ItemAdded(item=event.item + 1000), facility="F1", visit_number=f"V{event.item % KEYS}")
    return on_item


def set_wise_handler(runs: list[int]):
    """The same effects as echoing_handler, a run of items written with one statement; the runs' sizes noted."""
    @batched
    async def on_items(events):
        runs.append(len(events))
        if any(event.poison for event, _ in events):
            raise KeyError("cannot handle")
        await events[0][1].conn.execute(
            "INSERT INTO effects (item, event_id) SELECT item, event_id FROM unnest($1::int[], $2::uuid[])"
            " WITH ORDINALITY AS u(item, event_id, n) ORDER BY n",
            [e.item for e, _ in events], [uow.cause.id for _, uow in events])
        for event, uow in events:
            await uow.emit(ItemAdded(item=event.item + 1000), facility="F1", visit_number=f"V{event.item % KEYS}")
    return on_items


async def consume(infra, pool, producer, prefix, count: int, handler=None) -> EventConsumer:
    consumer = EventConsumer(pool=pool, producer=producer, bootstrap_servers=infra.kafka_bootstrap, service="test",
                             group="batches", topics=[TOPIC], handlers={ItemAdded: handler or echoing_handler()},
                             topic_prefix=prefix, max_attempts=2, backoff_seconds=0.01, batch_max=200)
    task = asyncio.create_task(consumer.run())
    try:
        await wait_for(lambda: pool.fetchval("SELECT count(*) >= $1 FROM effects", count), timeout=60)
        await wait_until_caught_up(consumer.bootstrap_servers, consumer.group, consumer.topics)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return consumer


async def send(producer, prefix, items, poison=()) -> None:
    for n in items:
        await producer.send(prefix + TOPIC, new_event("test", "ItemAdded", {"item": n, "poison": n in poison})
                            .to_bytes(), key=f"V{n % KEYS}".encode())
    await producer.flush()


async def per_visit(pool, sql: str) -> dict[int, list[int]]:
    seen: dict[int, list[int]] = {}
    for row in await pool.fetch(sql):
        seen.setdefault(row["item"] % KEYS, []).append(row["item"])
    return seen


@pytest.mark.parametrize("set_wise", [False, True], ids=["event-by-event", "set-wise"])
async def test_a_backlog_is_applied_in_few_transactions_in_order_per_visit_once_each(
        infra, pool, producer, prefix, topics_ready, set_wise):
    await topics_ready(prefix + TOPIC, prefix + TOPIC + ".dlq")
    await send(producer, prefix, range(300))
    runs: list[int] = []
    await consume(infra, pool, producer, prefix, 300, set_wise_handler(runs) if set_wise else None)
    if set_wise:  # a batched handler is called once per run of its events, not once per event
        assert sum(runs) == 300 and len(runs) <= 30
    assert await pool.fetchval("SELECT count(*) FROM effects") == 300
    assert await pool.fetchval("SELECT count(DISTINCT item) FROM effects") == 300
    assert await pool.fetchval("SELECT count(*) FROM inbox") == 300
    # One transaction per fetch, not per event (rows written in one transaction share its xmin).
    assert await pool.fetchval("SELECT count(DISTINCT xmin::text) FROM effects") <= 30
    # A fetch's partitions share its transaction: the backlog's first fetch held records of every partition.
    partitions = await pool.fetchval("SELECT count(DISTINCT kafka_partition) FROM inbox")
    assert partitions == 3 and await pool.fetchval(
        "SELECT max(n) FROM (SELECT count(DISTINCT kafka_partition) AS n FROM inbox GROUP BY xmin::text) AS t") > 1
    applied = await per_visit(pool, "SELECT item FROM effects ORDER BY id")
    assert all(items == list(range(key, 300, KEYS)) for key, items in applied.items()) and len(applied) == KEYS
    # What the handlers emitted is in the outbox once each, in the order of the events that caused it.
    announced = await per_visit(pool, "SELECT (envelope->'data'->>'item')::int - 1000 AS item FROM outbox_events"
                                      " ORDER BY seq")
    assert announced == applied


@pytest.mark.parametrize("set_wise", [False, True], ids=["event-by-event", "set-wise"])
async def test_a_poison_event_fails_alone_and_its_batch_neighbours_apply_in_order(
        infra, pool, producer, prefix, topics_ready, set_wise):
    await topics_ready(prefix + TOPIC, prefix + TOPIC + ".dlq")
    await send(producer, prefix, range(60), poison={23})
    runs: list[int] = []
    consumer = await consume(infra, pool, producer, prefix, 59, set_wise_handler(runs) if set_wise else None)
    if set_wise:  # the run that held the poison failed together, then each of its events was a run of one
        assert max(runs) > 1 and runs.count(1) >= 2
    # It failed in a batch, which was then applied one event at a time.
    assert REGISTRY.get_sample_value("peerbridge_consumer_batch_splits_total", {"consumer_group": consumer.group}) >= 1
    applied = await per_visit(pool, "SELECT item FROM effects ORDER BY id")
    assert applied[3] == [3, 13, 33, 43, 53]  # 23 is not applied; its visit's later events are, in order
    assert all(items == list(range(key, 60, KEYS)) for key, items in applied.items() if key != 3)
    assert await pool.fetchval("SELECT count(*) FROM effects") == 59
    # The failed batch rolled back whole: the neighbours it held were applied and announced once, afterwards.
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 59
    assert await pool.fetchval("SELECT count(DISTINCT item) FROM effects") == 59
    [dead] = await read_topic(infra.kafka_bootstrap, prefix + TOPIC + ".dlq", expect=1)
    assert dict(dead.headers)["dlq.error.class"] == b"KeyError" and dead.key == b"V3"
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 1


async def test_offsets_are_committed_on_the_interval_and_at_stop_never_before_the_effects(
        infra, pool, producer, prefix, topics_ready):
    await topics_ready(prefix + TOPIC, prefix + TOPIC + ".dlq")
    await send(producer, prefix, range(40))
    consumer = EventConsumer(pool=pool, producer=producer, bootstrap_servers=infra.kafka_bootstrap, service="test",
                             group="batches", topics=[TOPIC], handlers={ItemAdded: echoing_handler()},
                             topic_prefix=prefix, commit_seconds=3600)
    task = asyncio.create_task(consumer.run())
    try:
        await wait_for(lambda: pool.fetchval("SELECT count(*) = 40 FROM effects"), timeout=60)
        async def held() -> bool:  # every record's offset applied and waiting for the commit
            return sum(consumer.uncommitted.values()) == 40
        await wait_for(held, timeout=10)
        # Applied, and the first commit is due only on the interval: nothing is committed yet, so a crash here
        # would redeliver all 40 to the inbox.
        assert await committed(infra, consumer) == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # Stopping commits what was applied.
    assert await committed(infra, consumer) == 40 and not consumer.uncommitted


async def committed(infra, consumer) -> int:
    """How many of the topic's records the group's committed offsets cover."""
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        return sum(o.offset for o in (await admin.list_consumer_group_offsets(consumer.group)).values())
    finally:
        await admin.close()
