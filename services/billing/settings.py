"""Billing settings (env prefix BILLING_; connection settings shared as PEERBRIDGE_*)."""
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import CommonSettings


class BillingSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore")

    port: int = 8004
