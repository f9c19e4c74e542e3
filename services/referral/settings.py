"""Referral settings (env prefix REFERRAL_; connection settings shared as PEERBRIDGE_*)."""
from __future__ import annotations

import json
from pathlib import Path

from pydantic_settings import SettingsConfigDict

from services.runtime.settings import CommonSettings

from .smart import SmartClientConfig
from .smart_server import InboundClient


class ReferralSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore")

    port: int = 8003
    # Each facility's FHIR server base URL (JSON object, e.g. {"MERCY": "https://ehr.example/fhir"}); a facility
    # without one gets no push. The file, when given, is read at start-up and merged under the env value.
    fhir_endpoints: dict[str, str] = {}
    fhir_endpoints_file: Path | None = None
    # Each facility's SMART Backend Services registration (JSON object facility -> {token_url, client_id, kid,
    # private_key_file, alg, smart_version, scopes}); a facility with one gets a bearer token on every push.
    smart_clients: dict[str, SmartClientConfig] = {}
    smart_clients_file: Path | None = None
    # Hospital systems that call our APIs with SMART Backend Services (JSON object client id -> {facilities, jwks or
    # jwks_url, scopes}); the token URL their assertions name as `aud` (default: the /oauth/token URL as requested).
    smart_inbound_clients: dict[str, InboundClient] = {}
    smart_inbound_clients_file: Path | None = None
    smart_token_url: str | None = None
    # Our own key for the tokens /oauth/token issues (a PEM secret file, the same on every replica): needed where an
    # external identity provider issues all other tokens (PEERBRIDGE_JWT_JWKS_URL); referral alone accepts them.
    smart_signing_key_file: Path | None = None
    smart_signing_kid: str = "referral-smart-1"
    smart_signing_alg: str = "ES384"
    smart_issuer: str = "urn:peerbridge:referral:smart"
    # A hospital's JWKS at its jwks_url: how long one fetch may take, and how often an unknown kid may refetch it.
    smart_jwks_timeout_seconds: float = 5.0
    smart_jwks_refresh_seconds: float = 30.0
    # Consumers in the same group in this process: Kafka gives each its own partitions, and each visit's events keep
    # their order (one partition, one consumer). One, as for every service (README, Idempotent consumers).
    consumers: int = 1
    push_enabled: bool = True
    push_poll_seconds: float = 1.0
    push_timeout_seconds: float = 15.0
    push_backoff_seconds: float = 2.0
    push_max_backoff_seconds: float = 600.0
    # How often the push loop looks for consents whose expiry has passed (each is then ended and the hospital told).
    consent_sweep_seconds: float = 30.0
    # Subscriptions: where subscribers read what a notification names (its focus), the retry backoff of a
    # notification that was not taken, the heartbeat of a Subscription that names none (0: none), and whether
    # plain-http endpoints are allowed (local and test only: a notification carries Part 2 information).
    public_fhir_base_url: str = "http://127.0.0.1:8003/fhir"
    subscription_backoff_seconds: float = 2.0
    subscription_max_backoff_seconds: float = 600.0
    subscription_heartbeat_seconds: int = 300
    subscription_allow_http: bool = False

    def endpoints(self) -> dict[str, str]:
        """Facility -> FHIR base URL, from the file and the environment (the environment wins)."""
        from_file = json.loads(self.fhir_endpoints_file.read_text()) if self.fhir_endpoints_file else {}
        return {**from_file, **self.fhir_endpoints}

    def inbound(self) -> dict[str, InboundClient]:
        """Client id -> registered hospital system, from the file and the environment (the environment wins)."""
        raw = json.loads(self.smart_inbound_clients_file.read_text()) if self.smart_inbound_clients_file else {}
        return {**{c: InboundClient.model_validate(v) for c, v in raw.items()}, **self.smart_inbound_clients}

    def smart(self) -> dict[str, SmartClientConfig]:
        """Facility -> SMART client registration, from the file and the environment (the environment wins)."""
        raw = json.loads(self.smart_clients_file.read_text()) if self.smart_clients_file else {}
        return {**{f: SmartClientConfig.model_validate(c) for f, c in raw.items()}, **self.smart_clients}
