"""python -m services.console"""
from services.runtime.service import run_service

from .app import create_app
from .settings import ConsoleSettings

settings = ConsoleSettings()
run_service("console", create_app(settings), settings, settings.port)
