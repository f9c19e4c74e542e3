"""Billing settings (env prefix BILLING_; connection settings shared as PEERBRIDGE_*)."""
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.runtime.auth import issue_token, local_secret
from services.runtime.npi import is_valid_npi
from services.runtime.settings import FETCH_WAIT_BOUNDS, CommonSettings, shared

from .domain.rules import RULES_DIR
from .intake import IntakeClient
from .x12 import BillingProvider

INTAKE_TOKEN_SECONDS = 300


class BillingSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore")

    port: int = 8004
    # Claims are built in minutes, not milliseconds: the broker may hold a fetch longer, so billing applies the visit
    # flow in larger transactions and polls the broker less, leaving the cores to the chain a peer waits on.
    consumer_fetch_wait_ms: int = shared(500, "CONSUMER_FETCH_WAIT_MS", "BILLING_CONSUMER_FETCH_WAIT_MS",
                                         **FETCH_WAIT_BOUNDS)
    rules_dir: Path = RULES_DIR
    # The billing provider: the agency that employs the peers (loop 2010AA). Demo values.
    provider_name: str = "Harbor Peer Recovery Services"
    provider_npi: str = "1234567893"
    provider_tax_id: str = "123456789"
    provider_taxonomy: str = "251S00000X"
    provider_address: str = "100 Main Street"
    provider_city: str = "Newark"
    provider_state: str = "NJ"
    provider_zip: str = "071021234"
    provider_contact_name: str = "Billing Office"
    provider_contact_phone: str = "9735550100"
    # The interchange: our submitter id and the clearinghouse's receiver id and name.
    submitter_id: str = "PEERBRIDGE"
    receiver_id: str = "CLEARINGHOUSE"
    receiver_name: str = "CLEARINGHOUSE"
    x12_usage: str = "T"
    validate_with_pyx12: bool = True
    # Intake's subscriber lookup (names, birth date, address for loop 2010BA), called at batch creation.
    intake_url: str = "http://127.0.0.1:8001"
    # A bearer token from the identity provider (production); unset: sign a 5-minute billing token locally.
    intake_token: SecretStr | None = None
    intake_timeout_seconds: float = Field(5.0, gt=0)
    intake_concurrency: int = Field(8, ge=1)
    # Inbound X12 (999, 277CA, 835): a drop folder (unset: none) and the largest file accepted.
    inbound_dir: Path | None = None
    inbound_poll_seconds: float = Field(5.0, gt=0)
    inbound_settle_seconds: float = Field(2.0, ge=0)
    inbound_max_bytes: int = Field(64 * 1024 * 1024, gt=0)

    @field_validator("provider_npi")
    @classmethod
    def _npi_check_digit(cls, value: str) -> str:
        if not is_valid_npi(value):
            raise ValueError("BILLING_PROVIDER_NPI fails the NPI check digit")
        return value

    @field_validator("provider_zip")
    @classmethod
    def _zip_plus_four(cls, value: str) -> str:
        if not (len(value) == 9 and value.isdigit()):
            raise ValueError("BILLING_PROVIDER_ZIP must be the 9-digit ZIP+4 (837P loop 2010AA)")
        return value

    def billing_provider(self) -> BillingProvider:
        return BillingProvider(self.provider_name, self.provider_npi, self.provider_tax_id, self.provider_taxonomy,
                               self.provider_address, self.provider_city, self.provider_state, self.provider_zip,
                               self.provider_contact_name, self.provider_contact_phone)

    def intake_bearer(self) -> str:
        """The token billing shows intake: the configured one, or a fresh short-lived local one of role billing."""
        if self.intake_token is not None:
            return self.intake_token.get_secret_value()
        return issue_token(local_secret(self.jwt_secret, self.jwt_secret_file), role="billing",
                           issuer=self.jwt_issuer, audience=self.jwt_audience, subject="billing-service",
                           ttl_seconds=INTAKE_TOKEN_SECONDS)

    def intake_client(self, transport=None) -> IntakeClient:
        return IntakeClient(self.intake_url.rstrip("/"), self.intake_bearer, self.intake_timeout_seconds,
                            self.intake_concurrency, transport)
