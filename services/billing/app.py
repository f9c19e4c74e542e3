"""The billing service: Medicaid-ready claims for completed peer encounters."""
from pathlib import Path

from fastapi import FastAPI

from services.runtime import topics
from services.runtime.service import ServiceRuntime, build_app

from . import api, handlers
from .settings import BillingSettings


def create_app(settings: BillingSettings | None = None) -> FastAPI:
    settings = settings or BillingSettings()
    runtime = ServiceRuntime("billing", settings, migrations=Path(__file__).with_name("migrations"),
                             subscriptions=[topics.INTAKE_VISIT, topics.PAIRING_ASSIGNMENT],
                             handlers=handlers.HANDLERS, produces=[topics.BILLING_CLAIM])
    return build_app(runtime, title="PeerBridge billing",
                     description="Turns completed peer encounters into Medicaid claims (X12 837P, FHIR Claim).",
                     routers=[api.router])
