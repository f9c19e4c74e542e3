"""Referral settings (env prefix REFERRAL_; connection settings shared as PEERBRIDGE_*)."""
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import CommonSettings


class ReferralSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore")

    port: int = 8003
