"""Pairing settings (env prefix PAIRING_; connection settings shared as PEERBRIDGE_*)."""
from pathlib import Path

from pydantic_settings import SettingsConfigDict

from services.runtime.settings import CommonSettings

from .domain.programs import DEFAULT_FILE


class PairingSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="PAIRING_", extra="ignore")

    port: int = 8002
    programs_file: Path = DEFAULT_FILE
    deadline_poll_seconds: float = 1.0
    renewal_scan_seconds: float = 3600.0  # how often certifications and CE due dates are checked (issue 14)
