"""The intake service: ED visits in from EHRs (HTTP, FHIR, MLLP), peer-support indications out as events."""
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.runtime import fhir_errors, topics
from services.runtime.service import ServiceRuntime, build_app

from . import api, fhir_api, ops_api, subscriber_api
from .feeds import feed_config, receiver
from .settings import IntakeSettings
from .workers import WorkerProcesses, mllp_server


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime("intake", settings, migrations=Path(__file__).with_name("migrations"),
                             produces=[topics.INTAKE_VISIT])
    config = feed_config(settings)
    runtime.rules = config.rules
    app = build_app(runtime, title="PeerBridge intake",
                    description="Receives ED visits from hospital EHRs and decides which need a peer.",
                    routers=[api.router, fhir_api.router, ops_api.router, subscriber_api.router])
    fhir_errors.install(app)  # 401/403 and bad parameters on /fhir answer as OperationOutcome

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with runtime.lifespan(app):
            app.state.receiver = receiver(settings, runtime.pool, config, runtime.clock)
            server, workers = None, None
            if settings.mllp_enabled:
                server = mllp_server(settings, app.state.receiver)
                await server.start()
                if settings.mllp_workers > 1:
                    workers = WorkerProcesses(settings.mllp_workers - 1, server.port)
                    await workers.start()
            app.state.mllp = server
            try:
                yield
            finally:
                if workers:
                    await workers.stop()
                if server:
                    await server.stop()
                await app.state.receiver.close()

    app.router.lifespan_context = lifespan
    return app
