"""Provision a real Kafka broker and PostgreSQL for tests: from the environment, or the project's own scripts."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "deploy" / "local"


_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, never one handed out before in this run."""
    # The kernel may offer a port it just offered again once that socket is closed: CI once gave intake and pairing
    # the same port, so pairing failed to bind and the test's requests to pairing reached intake.
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


@dataclass
class Infra:
    """Where the test broker and database server are, and how to stop them."""

    kafka_bootstrap: str
    admin_dsn: str
    _stop: list = field(default_factory=list)

    def stop(self) -> None:
        for fn in reversed(self._stop):
            fn()


BACKENDS = ("native", "testcontainers")
# Images the testcontainers backend runs: testcontainers' Kafka module drives Confluent's image (KRaft from 7.0);
# 7.9 is Apache Kafka 3.9, the newest it knows how to start.
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"
POSTGRES_IMAGE = "postgres:15"


def docker_answers() -> bool:
    """True when a Docker engine answers a ping (DOCKER_HOST or the default socket) within a few seconds."""
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def infra_backend(env: dict | None = None, engine: Callable[[], bool] = docker_answers) -> str:
    """How the session gets Kafka and PostgreSQL: PEERBRIDGE_TEST_INFRA=native|testcontainers forces one; unset (or
    auto), testcontainers where a Docker engine answers, else the native scripts."""
    wanted = (os.environ if env is None else env).get("PEERBRIDGE_TEST_INFRA", "auto") or "auto"
    if wanted in BACKENDS:
        return wanted
    if wanted != "auto":
        raise ValueError(f"PEERBRIDGE_TEST_INFRA must be one of auto, {', '.join(BACKENDS)}; got {wanted!r}")
    return "testcontainers" if engine() else "native"


def start_containers(engine: Callable[[], bool] = docker_answers) -> Infra:
    """Kafka (KRaft) and PostgreSQL 15 through testcontainers' modules; stopped (and removed) by Infra.stop."""
    if not engine():
        raise RuntimeError("PEERBRIDGE_TEST_INFRA=testcontainers, but no Docker engine answers (DOCKER_HOST or "
                           "/var/run/docker.sock); unset it to use the native scripts")
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer

    postgres = PostgresContainer(POSTGRES_IMAGE, username="postgres", password="postgres", dbname="postgres",
                                 driver=None).with_command("postgres -c max_connections=300 -c fsync=off")
    # As deploy/local/kafka-server.properties: `make test-future` stamps records years ahead of the broker's clock.
    kafka = KafkaContainer(KAFKA_IMAGE).with_kraft().with_env("KAFKA_LOG_MESSAGE_TIMESTAMP_AFTER_MAX_MS",
                                                              "315360000000")
    infra = Infra("", "")
    try:
        postgres.start()
        infra._stop.append(postgres.stop)
        kafka.start()
        infra._stop.append(kafka.stop)
    except BaseException:
        infra.stop()
        raise
    infra.kafka_bootstrap = kafka.get_bootstrap_server()
    infra.admin_dsn = postgres.get_connection_url(driver=None)
    return infra


def start_infra() -> Infra:
    """Use KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL when set; otherwise start both: through testcontainers where a
    Docker engine answers, else with the native scripts on free ports (infra_backend decides)."""
    env_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    env_db = os.environ.get("DATABASE_URL")
    if env_kafka and env_db:
        return Infra(env_kafka, env_db)
    if not (env_kafka or env_db) and infra_backend() == "testcontainers":
        return start_containers()
    state = Path(tempfile.mkdtemp(prefix="peerbridge-test-"))
    os.chmod(state, 0o755)
    kafka_port, ctrl_port, pg_port = free_port(), free_port(), free_port()
    env = {**os.environ, "STATE_DIR": str(state), "KAFKA_PORT": str(kafka_port),
           "KAFKA_CONTROLLER_PORT": str(ctrl_port), "PG_PORT": str(pg_port),
           "KAFKA_HEAP": "-Xms128m -Xmx512m", "PG_FSYNC": "off"}
    infra = Infra(env_kafka or f"127.0.0.1:{kafka_port}", env_db or f"postgresql://postgres@127.0.0.1:{pg_port}/postgres")

    def script(name: str, action: str) -> None:
        subprocess.run([str(LOCAL / name), action], env=env, check=True, stdout=subprocess.DEVNULL)

    infra._stop.append(lambda: shutil.rmtree(state, ignore_errors=True))
    if not env_db:
        script("postgres.sh", "start")
        infra._stop.append(lambda: script("postgres.sh", "stop"))
    if not env_kafka:
        script("kafka.sh", "start")
        infra._stop.append(lambda: script("kafka.sh", "stop"))
    return infra


@asynccontextmanager
async def fresh_database(admin_dsn: str, prefix: str = "pb_test"):
    """A database no one else uses, dropped afterwards; yields its URL."""
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    try:
        yield f"{admin_dsn.rpartition('/')[0]}/{name}"
    finally:
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


@dataclass
class LocalServer:
    """A server run by one of deploy/local's scripts in a state directory of its own."""

    script: str
    port: int
    env: dict

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def run(self, action: str) -> None:
        subprocess.run([str(LOCAL / self.script), action], env=self.env, check=True, stdout=subprocess.DEVNULL)

    def restart(self) -> None:
        """Stop (PostgreSQL: fast shutdown, every session terminated, as on a failover), then start."""
        self.run("stop")
        self.run("start")


@contextmanager
def _own_server(script: str, port_variable: str, **env: str):
    state = Path(tempfile.mkdtemp(prefix="peerbridge-own-"))
    os.chmod(state, 0o755)
    port = free_port()
    server = LocalServer(script, port, {**os.environ, "STATE_DIR": str(state), port_variable: str(port), **env})
    server.run("start")
    try:
        yield server
    finally:
        server.run("stop")
        shutil.rmtree(state, ignore_errors=True)


def own_postgres():
    """A cluster of the caller's own on a free port, for tests that restart it without disturbing the others."""
    return _own_server("postgres.sh", "PG_PORT", PG_FSYNC="off")


def own_kafka():
    """A broker of the caller's own on a free port, for tests that stop it without disturbing the others."""
    return _own_server("kafka.sh", "KAFKA_PORT", KAFKA_CONTROLLER_PORT=str(free_port()), KAFKA_HEAP="-Xms128m -Xmx384m")


@contextmanager
def own_kafka_cluster(brokers: int = 3):
    """A KRaft cluster of the caller's own (every node a broker and a voter) on free ports, as `make up
    KAFKA_BROKERS=3` runs it; node faults through node_action."""
    state = Path(tempfile.mkdtemp(prefix="peerbridge-cluster-"))
    os.chmod(state, 0o755)
    ports = [free_port() for _ in range(brokers)]
    env = {**os.environ, "STATE_DIR": str(state), "KAFKA_BROKERS": str(brokers), "KAFKA_PORT": str(ports[0]),
           "KAFKA_PORTS": ",".join(map(str, ports)),
           "KAFKA_CONTROLLER_PORTS": ",".join(str(free_port()) for _ in range(brokers)),
           "KAFKA_HEAP": "-Xms128m -Xmx320m"}
    server = LocalServer("kafka.sh", ports[0], env)
    server.run("start")
    try:
        yield server
    finally:
        server.run("stop")
        shutil.rmtree(state, ignore_errors=True)


def node_action(server: LocalServer, action: str, node: int) -> None:
    """kill-node or start-node on one node of an own_kafka_cluster."""
    subprocess.run([str(LOCAL / server.script), action, str(node)], env=server.env, check=True,
                   stdout=subprocess.DEVNULL)


def cluster_bootstrap(server: LocalServer) -> str:
    return ",".join(f"127.0.0.1:{p}" for p in server.env["KAFKA_PORTS"].split(","))
