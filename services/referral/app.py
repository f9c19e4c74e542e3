"""The referral service: FHIR R4 referrals (ServiceRequest, Task, Consent) for peer-indicated ED visits."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI

from services.runtime import fhir_errors, topics
from services.runtime.clock import Clock
from services.runtime.service import ServiceRuntime, build_app

from . import api, disclosures, fhir_api, handlers, smart_server, subscriptions
from .hooks import Deliverer
from .push import Pusher
from .settings import ReferralSettings
from .smart_tokens import OwnTokens, WithOwnTokens


def create_app(settings: ReferralSettings | None = None, *,
               push_transport: httpx.AsyncBaseTransport | None = None, clock: Clock | None = None,
               hook_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    settings = settings or ReferralSettings()
    runtime = ServiceRuntime("referral", settings, migrations=Path(__file__).with_name("migrations"),
                             subscriptions=[topics.INTAKE_VISIT, topics.PAIRING_ASSIGNMENT],
                             handlers=handlers.HANDLERS, produces=[topics.REFERRAL_REFERRAL],
                             consumers=settings.consumers, clock=clock)
    # The audit router comes first so /fhir/AuditEvent is not taken for a generic /fhir/{type} search.
    app = build_app(runtime, title="PeerBridge referral",
                    description="Keeps each peer referral as FHIR R4 resources and shares it when consent allows.",
                    routers=[api.router, api.part2, disclosures.router, smart_server.router, subscriptions.router,
                             fhir_api.router, fhir_api.part2])
    fhir_errors.install(app)
    app.state.smart_inbound = settings.inbound()
    app.state.smart_jwks = {}  # client id -> its JWKS fetched from jwks_url
    app.state.smart_own = OwnTokens(settings.smart_signing_key_file, kid=settings.smart_signing_kid,
                                    alg=settings.smart_signing_alg, issuer=settings.smart_issuer) \
        if settings.smart_signing_key_file else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with runtime.lifespan(app):
            if app.state.smart_own is not None:  # our inbound tokens, besides the service's own
                app.state.verifier = WithOwnTokens(app.state.verifier, app.state.smart_own)
            if settings.push_enabled:
                pusher = Pusher(runtime, settings, transport=push_transport)
                runtime.tasks.append(asyncio.create_task(pusher.run(), name="referral-push"))
                deliverer = Deliverer(runtime, settings, transport=hook_transport)
                runtime.tasks.append(asyncio.create_task(deliverer.run(), name="referral-subscriptions"))
            yield

    app.router.lifespan_context = lifespan
    return app
