"""Pairing settings (env prefix PAIRING_; connection settings shared as PEERBRIDGE_*)."""
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import CommonSettings


class PairingSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="PAIRING_", extra="ignore")

    port: int = 8002
    offer_timeout_minutes: int = 10
