"""python -m services.billing"""
from services.runtime.service import run_service

from .app import create_app
from .settings import BillingSettings

settings = BillingSettings()
run_service("billing", create_app(settings), settings, settings.port)
