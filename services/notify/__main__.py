"""python -m services.notify"""
from services.runtime.service import run_service

from .app import create_app
from .settings import NotifySettings

settings = NotifySettings()
run_service("notify", create_app(settings), settings, settings.port)
