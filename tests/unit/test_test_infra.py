"""The one fixture layer that chooses how tests get Kafka and PostgreSQL: testcontainers where Docker answers."""
import time

import pytest

from tests.support import stack

pytestmark = pytest.mark.unit


def yes() -> bool:
    return True


def no() -> bool:
    return False


@pytest.mark.parametrize(("setting", "engine", "chosen"), [
    (None, yes, "testcontainers"),  # a laptop with Docker
    (None, no, "native"),  # our build machines
    ("auto", yes, "testcontainers"),
    ("native", yes, "native"),  # forced, though Docker answers
    ("testcontainers", no, "testcontainers"),  # forced: starting then says why it cannot
])
def test_the_backend_follows_docker_unless_forced(setting, engine, chosen):
    env = {} if setting is None else {"PEERBRIDGE_TEST_INFRA": setting}
    assert stack.infra_backend(env, engine) == chosen


def test_an_unknown_backend_is_refused_by_name():
    with pytest.raises(ValueError, match="auto, native, testcontainers; got 'podman'"):
        stack.infra_backend({"PEERBRIDGE_TEST_INFRA": "podman"}, yes)


def test_forcing_testcontainers_without_an_engine_fails_saying_so():
    with pytest.raises(RuntimeError, match="no Docker engine answers"):
        stack.start_containers(no)


def test_no_engine_at_a_closed_address_reads_as_no_docker_quickly(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{stack.free_port()}")
    started = time.monotonic()
    assert stack.docker_answers() is False
    assert time.monotonic() - started < 10


def test_the_kafka_image_is_one_the_module_starts_in_kraft_mode():
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.core.version import ComparableVersion

    assert ComparableVersion(stack.KAFKA_IMAGE.split(":")[-1]) >= KafkaContainer.MIN_KRAFT_TAG
    assert stack.POSTGRES_IMAGE == "postgres:15"
