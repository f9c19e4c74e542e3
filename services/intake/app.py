"""The intake service: ED visits in from EHRs, peer-support indications out as events."""
from pathlib import Path

from fastapi import FastAPI

from services.runtime import topics
from services.runtime.service import ServiceRuntime, build_app

from . import api
from .domain.indications import load_rules
from .settings import IntakeSettings


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime("intake", settings, migrations=Path(__file__).with_name("migrations"),
                             produces=[topics.INTAKE_VISIT])
    runtime.rules = load_rules(settings.rules_file)
    return build_app(runtime, title="PeerBridge intake",
                     description="Receives ED visits from hospital EHRs and decides which need a peer.",
                     routers=[api.router])
