"""Settings every service shares; each service subclasses with its own env prefix for its own fields."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared(default: Any, env: str, *more: str, **bounds: Any) -> Any:
    """A field read from PEERBRIDGE_<env> (or a conventional name) whatever the service's own prefix."""
    return Field(default, validation_alias=AliasChoices(*more, f"PEERBRIDGE_{env}", env.lower()), **bounds)


# A fetch the broker holds longer than the client waits for its answer (aiokafka's request timeout, 40 s) would fail
# as a timeout, and a negative hold is refused by the broker: both are refused at start instead.
FETCH_WAIT_BOUNDS = {"ge": 0, "le": 30_000}


class CommonSettings(BaseSettings):
    """Connection and plumbing settings, the same for every service (PEERBRIDGE_*)."""

    model_config = SettingsConfigDict(env_prefix="PEERBRIDGE_", extra="ignore", populate_by_name=True)

    # Unset, the database and the broker are the local stack's, on the ports deploy/local/stack.sh was given.
    database_url: str = shared("", "DATABASE_URL", "DATABASE_URL")
    kafka_bootstrap_servers: str = shared("", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS")
    pg_port: int = shared(55432, "PG_PORT", "PG_PORT")
    kafka_port: int = shared(9092, "KAFKA_PORT", "KAFKA_PORT")
    topic_prefix: str = shared("", "TOPIC_PREFIX")
    host: str = shared("127.0.0.1", "HOST")
    jwt_secret: str | None = shared(None, "JWT_SECRET")
    jwt_secret_file: Path = shared(REPO_ROOT / ".local" / "jwt.secret", "JWT_SECRET_FILE")
    jwt_jwks_url: str | None = shared(None, "JWT_JWKS_URL")
    jwt_jwks_refresh_seconds: float = shared(30.0, "JWT_JWKS_REFRESH_SECONDS")
    jwt_issuer: str = shared("peerbridge-local", "JWT_ISSUER")
    jwt_audience: str = shared("peerbridge", "JWT_AUDIENCE")
    db_pool_min: int = shared(2, "DB_POOL_MIN")
    db_pool_max: int = shared(10, "DB_POOL_MAX")
    consumer_max_attempts: int = shared(5, "CONSUMER_MAX_ATTEMPTS")
    consumer_backoff_seconds: float = shared(0.2, "CONSUMER_BACKOFF_SECONDS")
    # Consumers per service process (one group: Kafka splits the partitions between them), and the most records a
    # fetch hands over (all its partitions together).
    consumers: int = shared(1, "CONSUMERS")
    consumer_batch_max: int = shared(200, "CONSUMER_BATCH_MAX")
    # The most records one transaction applies; a larger fetch is applied in near-equal parts, one after another.
    consumer_transaction_max: int = shared(50, "CONSUMER_TRANSACTION_MAX", ge=1)
    # The longest a consumer keeps applied offsets before committing them (a commit is a broker write).
    consumer_commit_seconds: float = shared(0.5, "CONSUMER_COMMIT_SECONDS")
    # How long the broker may hold a consumer's fetch to gather this many bytes: under a steady flow a consumer then
    # applies fewer, larger batches (fewer transactions, commits and requests) for at most this delay per hop.
    consumer_fetch_wait_ms: int = shared(30, "CONSUMER_FETCH_WAIT_MS", **FETCH_WAIT_BOUNDS)
    consumer_fetch_min_bytes: int = shared(65536, "CONSUMER_FETCH_MIN_BYTES")
    relay_poll_seconds: float = shared(0.5, "RELAY_POLL_SECONDS")
    log_level: str = shared("INFO", "LOG_LEVEL")
    log_repeat_seconds: float = shared(10.0, "LOG_REPEAT_SECONDS")
    auto_migrate: bool = shared(True, "AUTO_MIGRATE")
    idempotency_key_hours: float = shared(48.0, "IDEMPOTENCY_KEY_HOURS")
    # Test-only fault injection (see services/runtime/idempotency.py); never set in production.
    failpoint: str | None = shared(None, "FAILPOINT")

    @model_validator(mode="after")
    def _local_stack(self) -> "CommonSettings":
        """The local stack's URLs when none are given, built the way deploy/local/stack.sh builds them."""
        if not self.database_url:
            self.database_url = f"postgresql://postgres@127.0.0.1:{self.pg_port}/peerbridge"
        if not self.kafka_bootstrap_servers:
            self.kafka_bootstrap_servers = f"127.0.0.1:{self.kafka_port}"
        return self
