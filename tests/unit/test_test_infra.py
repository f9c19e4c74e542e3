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


class _KernelOffering:
    """A socket whose port 0 binds to the next of a fixed list of ports, as a kernel reusing a closed port may."""

    offers: list[int] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def bind(self, address):
        self.port = self.offers.pop(0)

    def getsockname(self):
        return ("127.0.0.1", self.port)


def test_a_port_the_kernel_offers_twice_is_handed_to_one_server_only(monkeypatch):
    monkeypatch.setattr(stack, "_handed_out", set())
    monkeypatch.setattr(_KernelOffering, "offers", [40001, 40001, 40001, 40002])
    monkeypatch.setattr(stack.socket, "socket", _KernelOffering)
    assert [stack.free_port(), stack.free_port()] == [40001, 40002]


def test_many_servers_started_in_one_run_each_get_a_port_of_their_own():
    ports = [stack.free_port() for _ in range(500)]
    assert len(set(ports)) == len(ports)
