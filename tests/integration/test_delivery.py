"""The delivery guarantees on a real broker and database: outbox, inbox, offsets after commit, dead letters."""
from __future__ import annotations

import asyncio

import pytest

from services.runtime.consumer import EventConsumer
from services.runtime.envelope import Envelope, new_event, partition_key
from services.runtime.outbox import OutboxRelay, unit_of_work
from tests.support.fixtures import read_topic, wait_for, wait_until_caught_up
from tests.support.events import ItemAdded

pytestmark = pytest.mark.integration
TOPIC = ItemAdded.topic


async def emit_items(pool, items, *, fail_after: int | None = None) -> None:
    async with unit_of_work(pool, "test", validate=False) as uow:
        for n in items:
            await uow.emit(ItemAdded(item=n), facility="F1", visit_number=f"V{n % 3}")
        if fail_after is not None:
            raise RuntimeError("state change failed")


async def test_relay_publishes_committed_events_in_order_per_visit(infra, pool, producer, prefix, topics_ready):
    await topics_ready(prefix + TOPIC)
    await emit_items(pool, range(30))
    with pytest.raises(RuntimeError):
        await emit_items(pool, [999], fail_after=0)  # rolled back with its state change: never published
    relay = OutboxRelay(pool, producer, schema=await pool.fetchval("SELECT current_schema()"), topic_prefix=prefix)
    assert await relay.publish_pending() == 30
    records = await read_topic(infra.kafka_bootstrap, prefix + TOPIC, expect=30)
    items = [Envelope.from_bytes(r.value).data["item"] for r in records]
    assert sorted(items) == list(range(30))
    for visit in range(3):
        key = partition_key("F1", f"V{visit}")
        in_partition = [Envelope.from_bytes(r.value).data["item"] for r in records if r.key == key]
        assert in_partition == sorted(in_partition) and len(in_partition) == 10
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


async def test_kafka_headers_and_key_carry_no_payload(infra, pool, producer, prefix, topics_ready):
    await topics_ready(prefix + TOPIC)
    async with unit_of_work(pool, "test", validate=False) as uow:
        await uow.emit(ItemAdded(item=7, note="SMITH^JOHN"), facility="F1", visit_number="V123456")
    relay = OutboxRelay(pool, producer, schema=await pool.fetchval("SELECT current_schema()"), topic_prefix=prefix)
    await relay.publish_pending()
    [record] = await read_topic(infra.kafka_bootstrap, prefix + TOPIC, expect=1)
    headers = dict(record.headers)
    assert set(headers) == {"content-type", "ce_type", "ce_id", "traceparent"}
    visible = b"".join(headers.values()) + record.key
    assert b"SMITH" not in visible and b"V123456" not in visible
    event = Envelope.from_bytes(record.value)
    assert event.specversion == "1.0" and event.correlationid == event.id


async def consume_until(consumer: EventConsumer, pool, count: int):
    task = asyncio.create_task(consumer.run())
    try:
        await wait_for(lambda: pool.fetchval("SELECT count(*) >= $1 FROM effects", count))
        # Nothing doubled is then a fact, not a hope: every record on the topic has been handled and committed.
        await wait_until_caught_up(consumer.bootstrap_servers, consumer.group, consumer.topics)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def item_handler():
    async def on_item(event, uow):
        if event.poison:
            raise KeyError("cannot handle")
        await uow.conn.execute("INSERT INTO effects (item, event_id) VALUES ($1, $2)", event.item, uow.cause.id)
    return on_item


def make_consumer(infra, pool, producer, prefix, group="g1") -> EventConsumer:
    return EventConsumer(pool=pool, producer=producer, bootstrap_servers=infra.kafka_bootstrap, service="test",
                         group=group, topics=[TOPIC], handlers={ItemAdded: item_handler()}, topic_prefix=prefix,
                         max_attempts=2, backoff_seconds=0.01)


async def test_redelivered_event_has_its_effect_once(infra, pool, producer, prefix, topics_ready):
    await topics_ready(prefix + TOPIC, prefix + TOPIC + ".dlq")
    event = new_event("test", "ItemAdded", {"item": 1})
    for _ in range(3):  # the same event id three times, as after a relay crash or a producer retry
        await producer.send_and_wait(prefix + TOPIC, event.to_bytes(), key=b"k")
    await consume_until(make_consumer(infra, pool, producer, prefix), pool, 1)
    assert await pool.fetchval("SELECT count(*) FROM effects") == 1
    assert await pool.fetchval("SELECT count(*) FROM inbox") == 1


async def test_poison_messages_go_to_the_dead_letter_topic_and_the_stream_moves_on(
        infra, pool, producer, prefix, topics_ready):
    await topics_ready(prefix + TOPIC, prefix + TOPIC + ".dlq")
    await producer.send_and_wait(prefix + TOPIC, b"{not json", key=b"k")
    await producer.send_and_wait(prefix + TOPIC, new_event("test", "ItemAdded", {"item": 0, "poison": True}).to_bytes(),
                                 key=b"k")
    await producer.send_and_wait(prefix + TOPIC, new_event("test", "ItemAdded", {"item": 2}).to_bytes(), key=b"k")
    await consume_until(make_consumer(infra, pool, producer, prefix), pool, 1)
    assert await pool.fetchval("SELECT array_agg(item) FROM effects") == [2]
    dead = await read_topic(infra.kafka_bootstrap, prefix + TOPIC + ".dlq", expect=2)
    assert len(dead) == 2
    headers = [dict(r.headers) for r in dead]
    assert {h["dlq.error.class"] for h in headers} == {b"JSONDecodeError", b"KeyError"}
    for h in headers:
        assert h["dlq.origin.topic"] == (prefix + TOPIC).encode()
        assert int(h["dlq.origin.offset"]) in (0, 1) and "dlq.origin.partition" in h
    assert dead[0].value == b"{not json"
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 2


async def test_offsets_are_committed_only_after_the_effect(infra, pool, producer, prefix, topics_ready):
    """A second consumer in the same group starts after the last committed event, not before or after it."""
    await topics_ready(prefix + TOPIC, prefix + TOPIC + ".dlq")
    for n in range(5):
        await producer.send_and_wait(prefix + TOPIC, new_event("test", "ItemAdded", {"item": n}).to_bytes(), key=b"k")
    await consume_until(make_consumer(infra, pool, producer, prefix), pool, 5)
    for n in range(5, 8):
        await producer.send_and_wait(prefix + TOPIC, new_event("test", "ItemAdded", {"item": n}).to_bytes(), key=b"k")
    await consume_until(make_consumer(infra, pool, producer, prefix), pool, 8)
    assert await pool.fetchval("SELECT array_agg(item ORDER BY id) FROM effects") == list(range(8))
    assert await pool.fetchval("SELECT count(*) FROM inbox") == 8


async def test_dead_letters_can_be_replayed_once_the_cause_is_fixed(
        infra, database_url, schema, pool, producer, prefix, topics_ready):
    from services.runtime.dead_letters import list_dead_letters, replay_dead_letters

    await topics_ready(prefix + TOPIC, prefix + TOPIC + ".dlq")
    await producer.send_and_wait(prefix + TOPIC, new_event("test", "ItemAdded", {"item": 5, "poison": True}).to_bytes())
    await producer.send_and_wait(prefix + TOPIC, new_event("test", "ItemAdded", {"item": 6}).to_bytes())
    await consume_until(make_consumer(infra, pool, producer, prefix), pool, 1)
    [waiting] = await list_dead_letters(database_url, schema)
    assert waiting["error_class"] == "KeyError" and waiting["replayed_at"] is None
    assert await replay_dead_letters(database_url, infra.kafka_bootstrap, schema) == 1
    assert await replay_dead_letters(database_url, infra.kafka_bootstrap, schema) == 0  # each is replayed once
    replayed = await read_topic(infra.kafka_bootstrap, prefix + TOPIC, expect=3)
    marks = [dict(r.headers).get("dlq.replay.of") for r in replayed]
    assert [m for m in marks if m] == [str(waiting["id"]).encode()]


async def test_a_replayed_dead_letter_keeps_its_key_and_partition(
        infra, database_url, schema, pool, producer, prefix, topics_ready):
    from services.runtime.dead_letters import replay_dead_letters

    await topics_ready(prefix + TOPIC, prefix + TOPIC + ".dlq")
    key = partition_key("F1", "V42")
    poison = new_event("test", "ItemAdded", {"item": 5, "poison": True})
    sent = await producer.send_and_wait(prefix + TOPIC, poison.to_bytes(), key=key)
    await producer.send_and_wait(prefix + TOPIC, new_event("test", "ItemAdded", {"item": 6}).to_bytes(), key=key)
    await consume_until(make_consumer(infra, pool, producer, prefix), pool, 1)
    assert await replay_dead_letters(database_url, infra.kafka_bootstrap, schema) == 1
    records = await read_topic(infra.kafka_bootstrap, prefix + TOPIC, expect=3)
    [replayed] = [r for r in records if "dlq.replay.of" in dict(r.headers)]
    assert replayed.value == poison.to_bytes()
    assert replayed.key == key and replayed.partition == sent.partition


async def test_two_relay_replicas_never_reorder_a_visits_events(infra, pool, producer, prefix, topics_ready):
    await topics_ready(prefix + TOPIC)
    for chunk in range(0, 200, 20):
        await emit_items(pool, range(chunk, chunk + 20))
    schema = await pool.fetchval("SELECT current_schema()")
    relays = [OutboxRelay(pool, producer, schema=schema, topic_prefix=prefix, batch_size=7) for _ in range(2)]

    async def drain(relay):
        while await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
            await relay.publish_pending()

    await asyncio.gather(*(drain(r) for r in relays))
    assert sum(r.published for r in relays) == 200
    records = await read_topic(infra.kafka_bootstrap, prefix + TOPIC, expect=200)
    for visit in range(3):
        key = partition_key("F1", f"V{visit}")
        items = [Envelope.from_bytes(r.value).data["item"] for r in records if r.key == key]
        assert items == sorted(items) and len(items) == len(set(items))
