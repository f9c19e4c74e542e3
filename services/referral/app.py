"""The referral service: FHIR R4 referrals (ServiceRequest, Task, Consent) for peer-indicated ED visits."""
from pathlib import Path

from fastapi import FastAPI

from services.runtime import topics
from services.runtime.service import ServiceRuntime, build_app

from . import api, handlers
from .settings import ReferralSettings


def create_app(settings: ReferralSettings | None = None) -> FastAPI:
    settings = settings or ReferralSettings()
    runtime = ServiceRuntime("referral", settings, migrations=Path(__file__).with_name("migrations"),
                             subscriptions=[topics.INTAKE_VISIT, topics.PAIRING_ASSIGNMENT],
                             handlers=handlers.HANDLERS, produces=[topics.REFERRAL_REFERRAL])
    return build_app(runtime, title="PeerBridge referral",
                     description="Keeps each peer referral as FHIR R4 resources and shares it when consent allows.",
                     routers=[api.router])
