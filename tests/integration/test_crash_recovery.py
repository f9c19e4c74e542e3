"""Kill -9 the relay or the consumer mid-stream, restart it: no event lost, no effect doubled."""
from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from services.runtime.envelope import Envelope, new_event, partition_key
from services.runtime.outbox import unit_of_work
from tests.support.fixtures import read_topic, wait_for, wait_until_caught_up
from tests.support.stack import ROOT
from tests.support.events import ItemAdded

pytestmark = pytest.mark.integration
TOPIC = ItemAdded.topic
N = 120


def start_worker(role: str, infra, database_url, schema, prefix, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.worker", role, "--dsn", database_url, "--schema", schema,
         "--bootstrap", infra.kafka_bootstrap, "--prefix", prefix, *extra],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


async def test_relay_killed_mid_stream_loses_nothing(infra, database_url, schema, pool, prefix, topics_ready):
    await topics_ready(prefix + TOPIC)
    for chunk in range(0, N, 10):
        async with unit_of_work(pool, "test", validate=False) as uow:
            for n in range(chunk, chunk + 10):
                await uow.emit(ItemAdded(item=n), facility="F", visit_number=str(n % 7))
    relay = start_worker("relay", infra, database_url, schema, prefix, "--batch", "3")
    try:
        await wait_for(lambda: pool.fetchval("SELECT count(*) > 10 FROM outbox WHERE published_at IS NOT NULL"))
        kill(relay)
        published = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")
        assert published < N, "the relay finished before it could be killed; the test proves nothing"
        relay = start_worker("relay", infra, database_url, schema, prefix, "--batch", "3")
        await wait_for(lambda: pool.fetchval("SELECT count(*) = $1 FROM outbox WHERE published_at IS NOT NULL", N))
    finally:
        kill(relay)
    records = await read_topic(infra.kafka_bootstrap, prefix + TOPIC, expect=N)
    events = [Envelope.from_bytes(r.value) for r in records]
    assert {e.data["item"] for e in events} == set(range(N))
    # What a consumer applies of each visit (first sight of each event id, repeats ignored) is in the order emitted.
    for visit in range(7):
        key = partition_key("F", str(visit))
        applied, seen = [], set()
        for record, event in zip(records, events, strict=True):
            if record.key == key and event.id not in seen:
                seen.add(event.id)
                applied.append(event.data["item"])
        assert applied == list(range(visit, N, 7)), f"visit {visit} out of order: {applied}"


async def test_consumer_killed_mid_stream_applies_each_event_once(
        infra, database_url, schema, pool, producer, prefix, topics_ready):
    await topics_ready(prefix + TOPIC, prefix + TOPIC + ".dlq")
    for n in range(N):
        await producer.send(prefix + TOPIC, new_event("test", "ItemAdded", {"item": n}).to_bytes(),
                            key=str(n % 5).encode())
    await producer.flush()
    consumer = start_worker("consumer", infra, database_url, schema, prefix, "--delay", "0.02")
    try:
        await wait_for(lambda: pool.fetchval("SELECT count(*) > 20 FROM effects"), timeout=60)
        kill(consumer)
        applied = await pool.fetchval("SELECT count(*) FROM effects")
        assert applied < N, "the consumer finished before it could be killed; the test proves nothing"
        consumer = start_worker("consumer", infra, database_url, schema, prefix, "--delay", "0")
        await wait_for(lambda: pool.fetchval("SELECT count(DISTINCT item) = $1 FROM effects", N), timeout=90)
        # Doubles are counted once the group has committed every record on the topic: none can come again.
        await wait_until_caught_up(infra.kafka_bootstrap, prefix + "test-consumer", [prefix + TOPIC], timeout=90)
    finally:
        kill(consumer)
    assert await pool.fetchval("SELECT count(*) FROM effects") == N
    doubled = "SELECT count(*) FROM (SELECT item FROM effects GROUP BY item HAVING count(*) > 1) d"
    assert await pool.fetchval(doubled) == 0
