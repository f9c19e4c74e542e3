"""The local stack's three-broker KRaft cluster: topics replicated 3 with min.insync.replicas 2, and a broker killed
with SIGKILL mid-stream loses no acknowledged record and stalls producers no longer than a leader election."""
from __future__ import annotations

import time

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.runtime.service import ensure_topics, make_producer
from tests.support.fixtures import read_topic, wait_for
from tests.support.stack import cluster_bootstrap, node_action, own_kafka_cluster

pytestmark = pytest.mark.integration
TOPIC = "cluster.check.v1"


@pytest.fixture(scope="module")
def cluster():
    with own_kafka_cluster(3) as server:
        yield server


async def test_topics_on_three_brokers_get_three_replicas_and_min_isr_two(cluster):
    bootstrap = cluster_bootstrap(cluster)
    await ensure_topics(bootstrap, [TOPIC])
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        async def partitions():  # metadata reaches every broker a moment after the topic is created
            (described,) = await admin.describe_topics([TOPIC])
            return described["partitions"]

        assert {len(p["replicas"]) for p in await wait_for(partitions)} == {3}
        (configs,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, TOPIC)])
        entries = {e[0]: e[1] for e in configs.resources[0][4]}
        assert entries["min.insync.replicas"] == "2"
    finally:
        await admin.close()


async def test_a_broker_killed_mid_stream_loses_no_acknowledged_record(cluster):
    bootstrap = cluster_bootstrap(cluster)
    await ensure_topics(bootstrap, [TOPIC + ".kill"])
    producer = make_producer(bootstrap)
    await producer.start()
    slowest = 0.0
    try:
        for n in range(300):
            if n == 100:
                node_action(cluster, "kill-node", 2)  # a leader of some partitions, and a controller voter
            started = time.monotonic()
            await producer.send_and_wait(TOPIC + ".kill", str(n).encode(), key=str(n % 7).encode())
            slowest = max(slowest, time.monotonic() - started)
    finally:
        await producer.stop()
    records = await read_topic(bootstrap, TOPIC + ".kill", expect=300, timeout=60)
    assert sorted(int(r.value) for r in records) == list(range(300))
    # A leader election, not an outage: generous for a loaded 2-core machine (it takes well under a second idle).
    assert slowest < 30, slowest
