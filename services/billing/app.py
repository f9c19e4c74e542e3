"""The billing service: Medicaid-ready claims for completed peer encounters."""
from pathlib import Path

from fastapi import FastAPI

from services.runtime import topics
from services.runtime.service import ServiceRuntime, build_app

from . import api, handlers
from .domain.rules import load_rule_book
from .service import Context
from .settings import BillingSettings


def create_app(settings: BillingSettings | None = None, runtime_kwargs: dict | None = None) -> FastAPI:
    settings = settings or BillingSettings()
    book = load_rule_book(settings.rules_dir)
    runtime = ServiceRuntime("billing", settings, migrations=Path(__file__).with_name("migrations"),
                             subscriptions=[topics.INTAKE_VISIT, topics.PAIRING_ASSIGNMENT],
                             handlers=handlers.build_handlers(book), produces=[topics.BILLING_CLAIM],
                             **(runtime_kwargs or {}))
    app = build_app(runtime, title="PeerBridge billing",
                    description="Turns completed peer encounters into Medicaid claims (X12 837P, FHIR Claim).",
                    routers=[api.router])
    app.state.billing = Context(book=book, provider=settings.billing_provider(), submitter_id=settings.submitter_id,
                                receiver_id=settings.receiver_id, receiver_name=settings.receiver_name,
                                intake=settings.intake_client(),
                                usage=settings.x12_usage, pyx12=settings.validate_with_pyx12)
    return app
