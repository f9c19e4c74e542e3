"""The pairing service: the peer roster, matching, dispatch and encounters."""
from pathlib import Path

from fastapi import FastAPI

from services.runtime import topics
from services.runtime.service import ServiceRuntime, build_app

from . import api, handlers
from .settings import PairingSettings


def create_app(settings: PairingSettings | None = None) -> FastAPI:
    settings = settings or PairingSettings()
    runtime = ServiceRuntime("pairing", settings, migrations=Path(__file__).with_name("migrations"),
                             subscriptions=[topics.INTAKE_VISIT], handlers=handlers.HANDLERS,
                             produces=[topics.PAIRING_ASSIGNMENT])
    return build_app(runtime, title="PeerBridge pairing",
                     description="Assigns the right peer recovery specialist to each ED visit that needs one.",
                     routers=[api.router])
