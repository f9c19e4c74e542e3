"""Intake settings (env prefix INTAKE_; connection settings shared as PEERBRIDGE_*)."""
from pathlib import Path

from pydantic_settings import SettingsConfigDict

from services.runtime.settings import CommonSettings

RULES_DIR = Path(__file__).with_name("rules")


class IntakeSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    port: int = 8001
    rules_file: Path = RULES_DIR / "default.yaml"
    mllp_enabled: bool = True
    mllp_host: str | None = None  # defaults to the shared PEERBRIDGE_HOST
    mllp_port: int = 2575
    mllp_max_bytes: int = 1_048_576
    mllp_idle_seconds: float = 300.0
    # A frame once started must end within this many seconds (and an ACK be taken by the sender), so a stalled or
    # trickling sender cannot hold a connection slot for the whole idle timeout.
    mllp_frame_seconds: float = 30.0
    # Connections served at once by each listener process; one more is closed at once (see the README).
    mllp_max_connections: int = 100
    mllp_workers: int = 1  # listener processes sharing the port (SO_REUSEPORT); more than 1 uses more cores
    mllp_tls_cert: str | None = None
    mllp_tls_key: str | None = None
    mllp_tls_client_ca: str | None = None
    # Group commit: frames arriving while a transaction runs share the next one (at most this many messages),
    # on this many writer transactions per listener process.
    commit_batch_max: int = 200
    commit_writers: int = 2
    # Comma-separated MSH-11 values accepted; a production interface usually sets just "P".
    processing_ids: str = "P,T"
    # Comma-separated PV1-3.1 point-of-care codes that are emergency departments.
    emergency_locations: str = "ED,ER,EMER,EMERGENCY"
    # Time zone for HL7 timestamps sent without an offset.
    feed_timezone: str = "UTC"

    def csv(self, value: str) -> frozenset[str]:
        return frozenset(v.strip().upper() for v in value.split(",") if v.strip())
