"""The billing service: Medicaid-ready claims for completed peer encounters."""
import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.runtime import topics
from services.runtime.service import ServiceRuntime, build_app

from . import api, api_inbound, handlers
from .domain.rules import load_rule_book
from .service import Context
from .settings import BillingSettings
from .watch import DropFolder


def create_app(settings: BillingSettings | None = None, runtime_kwargs: dict | None = None) -> FastAPI:
    settings = settings or BillingSettings()
    book = load_rule_book(settings.rules_dir)
    runtime = ServiceRuntime("billing", settings, migrations=Path(__file__).with_name("migrations"),
                             subscriptions=[topics.INTAKE_VISIT, topics.PAIRING_ASSIGNMENT],
                             handlers=handlers.build_handlers(book), produces=[topics.BILLING_CLAIM],
                             **(runtime_kwargs or {}))
    app = build_app(runtime, title="PeerBridge billing",
                    description="Turns completed peer encounters into Medicaid claims (X12 837P, FHIR Claim).",
                    routers=[api.router, api_inbound.router])
    app.state.billing = Context(book=book, provider=settings.billing_provider(), submitter_id=settings.submitter_id,
                                receiver_id=settings.receiver_id, receiver_name=settings.receiver_name,
                                intake=settings.intake_client(),
                                usage=settings.x12_usage, pyx12=settings.validate_with_pyx12)
    app.state.inbound_max_bytes = settings.inbound_max_bytes
    if settings.inbound_dir is not None:
        app.router.lifespan_context = _with_drop_folder(runtime, settings)
    return app


def _with_drop_folder(runtime: ServiceRuntime, settings: BillingSettings):
    """The runtime's lifespan plus the drop-folder loop, cancelled before the runtime stops."""
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with runtime.lifespan(app):
            folder = DropFolder(settings.inbound_dir, runtime.unit_of_work, poll_seconds=settings.inbound_poll_seconds,
                                settle_seconds=settings.inbound_settle_seconds,
                                structural=settings.validate_with_pyx12)
            task = asyncio.create_task(folder.run(), name="billing-drop-folder")
            try:
                yield
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    return lifespan
