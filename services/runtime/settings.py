"""Settings every service shares; each service subclasses with its own env prefix."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class CommonSettings(BaseSettings):
    """Connection and plumbing settings; read from PEERBRIDGE_* unless the service prefix overrides."""

    model_config = SettingsConfigDict(env_prefix="PEERBRIDGE_", extra="ignore")

    database_url: str = Field("postgresql://postgres@127.0.0.1:55432/peerbridge", validation_alias="DATABASE_URL")
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    topic_prefix: str = ""
    host: str = "127.0.0.1"
    jwt_secret: str | None = None
    jwt_secret_file: Path = REPO_ROOT / ".local" / "jwt.secret"
    jwt_jwks_url: str | None = None
    jwt_issuer: str = "peerbridge-local"
    jwt_audience: str = "peerbridge"
    db_pool_min: int = 2
    db_pool_max: int = 10
    consumer_max_attempts: int = 5
    consumer_backoff_seconds: float = 0.2
    relay_poll_seconds: float = 0.5
    log_level: str = "INFO"
    auto_migrate: bool = True
