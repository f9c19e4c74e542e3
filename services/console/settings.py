"""Console settings (env prefix CONSOLE_; connection and token settings shared as PEERBRIDGE_*)."""
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.runtime.auth import local_secret
from services.runtime.settings import CommonSettings


class ConsoleSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")

    port: int = 8005
    # The APIs the console calls on the signed-in user's behalf; unset, the local stack's, on the ports it gave
    # them (PAIRING_PORT, REFERRAL_PORT, BILLING_PORT, as deploy/local/stack.sh does).
    pairing_url: str = ""
    referral_url: str = ""
    billing_url: str = ""
    pairing_port: int = Field(8002, validation_alias=AliasChoices("PAIRING_PORT", "pairing_port"))
    referral_port: int = Field(8003, validation_alias=AliasChoices("REFERRAL_PORT", "referral_port"))
    billing_port: int = Field(8004, validation_alias=AliasChoices("BILLING_PORT", "billing_port"))
    api_timeout_seconds: float = Field(8.0, gt=0)
    # A session ends after this long without a page or a tap (the polling of the Now list does not count), and
    # in any case this long after sign-in.
    idle_minutes: float = Field(30.0, gt=0)
    session_hours: float = Field(12.0, gt=0)
    # The token the console shows the APIs for the user lives this long (minted per request).
    token_seconds: int = Field(300, ge=30)
    # Secure cookies: browsers keep them on https and on http://localhost / 127.0.0.1 (a potentially trustworthy
    # origin), so the local stack works with it on; switch off only for a plain-http host name in a lab.
    cookie_secure: bool = True
    # How often the Now screen asks for offers (seconds).
    poll_seconds: float = Field(5.0, gt=0)

    @model_validator(mode="after")
    def _local_services(self) -> "ConsoleSettings":
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        for name in ("pairing", "referral", "billing"):
            if not getattr(self, f"{name}_url"):
                setattr(self, f"{name}_url", f"http://{host}:{getattr(self, f'{name}_port')}")
        return self

    def signing_secret(self) -> str | None:
        """The local stack's HS256 secret for the tokens the console mints; None in production (JWKS)."""
        if self.jwt_jwks_url:
            return None
        return local_secret(self.jwt_secret, self.jwt_secret_file)
