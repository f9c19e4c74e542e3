"""A service process's life: pool, migrations, producer, outbox relay and consumers, started and stopped together."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from fastapi import Depends, FastAPI, Request

from .auth import TokenVerifier, local_secret
from .clock import Clock, SystemClock
from .consumer import EventConsumer, Handlers, bind
from .db import MigrationChanged, create_pool, migrate
from .heap import freeze_start_up
from .idempotency import IdempotencyMiddleware, RequestScopedPool
from .jwks import JwksKeys
from .loops import Backoff, run_loop
from .outbox import OutboxRelay, unit_of_work
from .settings import CommonSettings
from .topics import dlq

log = structlog.get_logger("runtime.service")


def make_producer(bootstrap_servers: str) -> AIOKafkaProducer:
    """An idempotent producer that waits for every in-sync replica (aiokafka's defaults are weaker)."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap_servers, enable_idempotence=True, acks="all",
                            linger_ms=2, request_timeout_ms=30000)


def replication(brokers: int) -> tuple[int, dict[str, str]]:
    """Replication factor and topic configs for a cluster of this many brokers: 3 and min.insync.replicas 2 from
    three brokers (with acks=all, losing one broker loses nothing and blocks no producer), else 1."""
    return (3, {"min.insync.replicas": "2"}) if brokers >= 3 else (1, {})


async def ensure_topics(bootstrap_servers: str, names: list[str], partitions: int = 3) -> None:
    """Create topics (and their dead-letter topics) that do not exist yet, replicated as the cluster allows."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [n for n in names if n not in existing]
        if wanted:
            factor, configs = replication(len((await admin.describe_cluster())["brokers"]))
            try:
                await admin.create_topics([NewTopic(n, partitions, factor, topic_configs=configs) for n in wanted])
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


STARTUP = Backoff(first=0.2, factor=2.0, cap=3.0)
# Constant: a supervised loop never returns while it is healthy, so there is no success to reset a growing delay on.
RESTART = Backoff(first=1.0, factor=1.0, cap=1.0)


async def _retry(what: str, attempt_fn, seconds: float = 60.0):
    """Retry a start-up step while the broker or database is still coming up."""
    deadline = asyncio.get_running_loop().time() + seconds
    attempt = 0
    while True:
        try:
            return await attempt_fn()
        except MigrationChanged:
            raise  # waiting will not fix it
        except Exception as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise
            attempt += 1
            log.warning("startup_retry", state=what, error_class=type(exc).__name__)
            await asyncio.sleep(STARTUP.delay(attempt))


class ServiceRuntime:
    """Owns a service's connections and background tasks."""

    def __init__(self, name: str, settings: CommonSettings, *, migrations: Path,
                 subscriptions: list[str] = (), handlers: Handlers | None = None,
                 produces: list[str] = (), schema: str | None = None, clock: Clock | None = None,
                 consumers: int | None = None):
        self.name = name
        self.settings = settings
        self.migrations = migrations
        self.subscriptions = list(subscriptions)
        self.handlers = dict(handlers or {})
        self.produces = list(produces)
        self.schema = schema or name
        self.clock = clock or SystemClock()
        self.started_at = self.clock.now()  # when this instance's capabilities took effect (FHIR metadata dates)
        self.pool: RequestScopedPool | None = None
        self.producer: AIOKafkaProducer | None = None
        self.relay: OutboxRelay | None = None
        # Set by run_service only: a process that serves one app freezes what its start-up allocated; an app started
        # inside another process (a test's) must not freeze that process's objects for good.
        self.freeze_heap = False
        self.consumer_count = max(1, settings.consumers if consumers is None else consumers)
        self.consumers: list[EventConsumer] = []
        self.tasks: list[asyncio.Task] = []

    def verifier(self) -> TokenVerifier:
        s = self.settings
        if s.jwt_jwks_url:
            keys = JwksKeys(s.jwt_jwks_url, refresh_seconds=s.jwt_jwks_refresh_seconds, clock=self.clock)
            return TokenVerifier(secret=None, issuer=s.jwt_issuer, audience=s.jwt_audience, jwks=keys)
        return TokenVerifier(secret=local_secret(s.jwt_secret, s.jwt_secret_file), issuer=s.jwt_issuer,
                             audience=s.jwt_audience)

    async def start(self) -> None:
        s = self.settings
        if s.auto_migrate:
            await _retry("migrate", lambda: migrate(s.database_url, self.schema, self.migrations))
        self.pool = RequestScopedPool(await _retry("pool", lambda: create_pool(
            s.database_url, self.schema, min_size=s.db_pool_min, max_size=s.db_pool_max)))
        topics = [s.topic_prefix + t for t in {*self.produces, *self.subscriptions}]
        topics += [dlq(t) for t in topics]
        await _retry("topics", lambda: ensure_topics(s.kafka_bootstrap_servers, topics))
        self.producer = make_producer(s.kafka_bootstrap_servers)
        await _retry("producer", self.producer.start)
        self.relay = OutboxRelay(self.pool, self.producer, schema=self.schema, topic_prefix=s.topic_prefix,
                                 poll_seconds=s.relay_poll_seconds, idempotency_hours=s.idempotency_key_hours,
                                 clock=self.clock)
        self.tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.name}-relay"))
        # Several consumers in one group spread the topics' partitions between them.
        for n in range(self.consumer_count if self.subscriptions else 0):
            consumer = EventConsumer(
                pool=self.pool, producer=self.producer, bootstrap_servers=s.kafka_bootstrap_servers,
                service=self.name, group=self.name, topics=self.subscriptions, handlers=self.handlers,
                topic_prefix=s.topic_prefix, max_attempts=s.consumer_max_attempts,
                backoff_seconds=s.consumer_backoff_seconds, clock=self.clock, batch_max=s.consumer_batch_max,
                commit_seconds=s.consumer_commit_seconds, fetch_wait_ms=s.consumer_fetch_wait_ms,
                fetch_min_bytes=s.consumer_fetch_min_bytes, transaction_max=s.consumer_transaction_max)
            self.consumers.append(consumer)
            self.tasks.append(asyncio.create_task(self.supervise(consumer.run), name=f"{self.name}-consumer-{n}"))
        log.info("service_started", port=getattr(s, "port", None))

    @property
    def handled(self) -> list[str]:
        """The names of the events this service handles."""
        return sorted(bind(self.handlers))

    @property
    def consumer(self) -> EventConsumer | None:
        """The first consumer (the only one, unless the service asked for more)."""
        return self.consumers[0] if self.consumers else None

    async def supervise(self, run) -> None:
        """Restart a background loop that died (e.g. the broker went away) instead of leaving it dead."""
        await run_loop(run, name="supervise", log=log, failed="background_task_crashed", backoff=RESTART)

    def unit_of_work(self, **kwargs):
        """A transaction that can emit events through the outbox."""
        return unit_of_work(self.pool, self.name, clock=self.clock, **kwargs)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        if self.producer:
            await self.producer.stop()
        if self.pool:
            await self.pool.close()
        log.info("service_stopped")

    async def readiness(self) -> dict[str, bool]:
        checks = {"database": False, "broker": False}
        try:
            async with self.pool.acquire(timeout=2) as conn:
                checks["database"] = await conn.fetchval("SELECT true", timeout=2)
        except Exception:
            pass
        try:
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), timeout=2)
            checks["broker"] = True
        except Exception:
            pass
        return checks

    @asynccontextmanager
    async def lifespan(self, app: FastAPI):
        app.state.runtime = self
        app.state.verifier = self.verifier()
        await self.start()
        if self.freeze_heap:
            freeze_start_up()
        try:
            yield
        finally:
            await self.stop()


def run_service(name: str, app: FastAPI, settings: CommonSettings, port: int) -> None:
    """Serve a service app with uvicorn, JSON logs and no access log (paths can carry identifiers)."""
    import uvicorn

    from .logs import configure_logging

    configure_logging(name, settings.log_level, repeat_seconds=settings.log_repeat_seconds)
    app.state.runtime.freeze_heap = True
    uvicorn.run(app, host=settings.host, port=port, log_config=None, access_log=False,
                lifespan="on", timeout_graceful_shutdown=10)


def build_app(runtime: ServiceRuntime, *, title: str, description: str, routers=()) -> FastAPI:
    """A service's FastAPI app: its routers plus health, readiness, metrics and error handling."""
    from fastapi_offline import FastAPIOffline

    from . import responses, web

    # Swagger UI and ReDoc from assets this service serves (hospital networks often cannot reach a CDN); no
    # validator badge, which would send the document's address to an outside host.
    app = FastAPIOffline(title=title, description=description, version="0.1.0", lifespan=runtime.lifespan,
                         dependencies=[Depends(web.refuse_unusable_input)],
                         swagger_ui_parameters={"validatorUrl": None})
    app.state.runtime = runtime  # readable before start-up, e.g. by the AsyncAPI generator
    for router in routers:
        app.include_router(router)
    # Added before web.install's request metrics, so those measure replayed and refused requests too.
    app.add_middleware(IdempotencyMiddleware, service=runtime.name, clock=runtime.clock,
                       keep=timedelta(hours=runtime.settings.idempotency_key_hours),
                       failpoint=runtime.settings.failpoint)
    web.install(app, runtime.name)
    responses.install(app)
    return app


def get_runtime(request: Request) -> ServiceRuntime:
    """FastAPI dependency: the service runtime of the app serving this request."""
    return request.app.state.runtime
