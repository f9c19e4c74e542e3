"""The notify service: tells peers of offers and supervisors of escalations, and turns their replies into events."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import structlog
from fastapi import FastAPI

from services.runtime import topics
from services.runtime.clock import Clock
from services.runtime.service import ServiceRuntime, build_app

from . import api, api_sms, channels, handlers
from .delivery import DeliveryWorker
from .service import NotifyService
from .service_replies import Replies
from .settings import NotifySettings

log = structlog.get_logger("notify.app")


def create_app(settings: NotifySettings | None = None, clock: Clock | None = None, *,
               transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    settings = settings or NotifySettings()
    service = NotifyService(settings)
    runtime = ServiceRuntime("notify", settings, migrations=Path(__file__).with_name("migrations"),
                             subscriptions=[topics.INTAKE_VISIT, topics.PAIRING_ASSIGNMENT],
                             handlers=handlers.build(service),
                             produces=[topics.NOTIFY_REPLY, topics.NOTIFY_DELIVERY], clock=clock,
                             consumers=settings.consumers)
    app = build_app(runtime, title="PeerBridge notify",
                    description="Reaches peers and supervisors by SMS, email, Web Push or a paging webhook, without "
                                "PHI, and turns their text replies into accept and decline.",
                    routers=[api.router, api_sms.router])
    app.state.service = service

    async def readiness_detail() -> dict:
        """Facilities with nobody reachable to escalate to (ready all the same: paging peers still works)."""
        async with runtime.pool.acquire(timeout=2) as conn:
            coverage = await service.coverage(conn, runtime.clock.now())
        return {"escalation_uncovered": [f for f, who in coverage.items() if who is None]}

    app.state.readiness_detail = readiness_detail

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # The client outlives the runtime, whose stop cancels the delivery loops before the client closes.
        async with httpx.AsyncClient(timeout=settings.send_timeout_seconds, transport=transport) as http, \
                runtime.lifespan(app):
            outlets = channels.build(settings, runtime.clock, http)
            worker = DeliveryWorker(runtime.pool, service, outlets, runtime.clock, schema=runtime.schema)
            app.state.replies = Replies(service, worker)
            app.state.delivery = worker
            uncovered = (await readiness_detail())["escalation_uncovered"]
            for facility in uncovered:
                log.error("facility_without_escalation", facility=facility)
            log.info("channels_configured", state=",".join(sorted(worker.channels)))
            runtime.tasks.append(asyncio.create_task(runtime.supervise(worker.listen), name="notify-listen"))
            for n in range(max(1, settings.workers)):
                runtime.tasks.append(asyncio.create_task(worker.run(), name=f"notify-delivery-{n}"))
            yield

    app.router.lifespan_context = lifespan
    return app
