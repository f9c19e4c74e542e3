"""python -m services.referral"""
from services.runtime.service import run_service

from .app import create_app
from .settings import ReferralSettings

settings = ReferralSettings()
run_service("referral", create_app(settings), settings, settings.port)
