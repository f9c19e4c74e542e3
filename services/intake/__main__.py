"""python -m services.intake"""
from services.runtime.service import run_service

from .app import create_app
from .settings import IntakeSettings

settings = IntakeSettings()
run_service("intake", create_app(settings), settings, settings.port)
