"""Billing settings (env prefix BILLING_; connection settings shared as PEERBRIDGE_*)."""
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import SettingsConfigDict

from services.runtime.npi import is_valid_npi
from services.runtime.settings import CommonSettings

from .domain.rules import RULES_DIR
from .x12 import BillingProvider


class BillingSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore")

    port: int = 8004
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
