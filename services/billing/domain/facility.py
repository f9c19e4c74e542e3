"""The ED where a peer session took place: loop 2310C (service facility) of every claim rendered there."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.runtime.npi import is_valid_npi


class ServiceFacility(BaseModel):
    """A facility's name, address and NPI as the 837P's 2310C carries them (ZIP+4, like the billing provider)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=60)
    npi: str = Field(pattern=r"^\d{10}$")
    address: str = Field(min_length=1, max_length=55)
    city: str = Field(min_length=2, max_length=30)
    state: str = Field(pattern=r"^[A-Z]{2}$")
    zip: str = Field(pattern=r"^\d{9}$", description="ZIP+4, nine digits")

    @field_validator("npi")
    @classmethod
    def _check_digit(cls, value: str) -> str:
        if not is_valid_npi(value):
            raise ValueError("fails the NPI check digit")
        return value
