"""python -m services.pairing"""
from services.runtime.service import run_service

from .app import create_app
from .settings import PairingSettings

settings = PairingSettings()
run_service("pairing", create_app(settings), settings, settings.port)
