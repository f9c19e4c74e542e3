"""The pairing service: the peer roster, matching, dispatch, encounters and follow-up."""
import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.runtime import topics
from services.runtime.clock import Clock
from services.runtime.service import ServiceRuntime, build_app

from . import api, handlers
from .deadlines import DeadlineWorker
from .domain.programs import Programs
from .renewals import RenewalWorker
from .service import PairingService
from .settings import PairingSettings


def create_app(settings: PairingSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or PairingSettings()
    service = PairingService(Programs.load(settings.programs_file))
    runtime = ServiceRuntime("pairing", settings, migrations=Path(__file__).with_name("migrations"),
                             subscriptions=[topics.INTAKE_VISIT, topics.NOTIFY_REPLY], handlers=handlers.build(service),
                             produces=[topics.PAIRING_ASSIGNMENT], clock=clock)
    app = build_app(runtime, title="PeerBridge pairing",
                    description="Assigns the right peer recovery specialist to each ED visit that needs one.",
                    routers=api.routers)
    app.state.service = service

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with runtime.lifespan(app):
            worker = DeadlineWorker(runtime.pool, service, runtime.clock,
                                    poll_seconds=settings.deadline_poll_seconds)
            task = asyncio.create_task(worker.run(), name="pairing-deadlines")
            renewals = RenewalWorker(runtime.pool, service, runtime.clock, every=settings.renewal_scan_seconds)
            renewal_task = asyncio.create_task(renewals.run(), name="pairing-renewals")
            try:
                yield
            finally:
                task.cancel()
                renewal_task.cancel()
                await asyncio.gather(task, renewal_task, return_exceptions=True)

    app.router.lifespan_context = lifespan
    return app
