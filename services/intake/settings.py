"""Intake settings (env prefix INTAKE_; connection settings shared as PEERBRIDGE_*)."""
from pathlib import Path

from pydantic_settings import SettingsConfigDict

from services.runtime.settings import CommonSettings

RULES_DIR = Path(__file__).with_name("rules")


class IntakeSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    port: int = 8001
    mllp_port: int = 2575
    rules_file: Path = RULES_DIR / "default.yaml"
