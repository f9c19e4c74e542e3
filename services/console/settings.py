"""Console settings (env prefix CONSOLE_; connection and token settings shared as PEERBRIDGE_*)."""
from pydantic import AliasChoices, Field, SecretStr, model_validator
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
    notify_url: str = ""  # delivery status of messages and supervisor alerts (the supervisor's pages)
    pairing_port: int = Field(8002, validation_alias=AliasChoices("PAIRING_PORT", "pairing_port"))
    referral_port: int = Field(8003, validation_alias=AliasChoices("REFERRAL_PORT", "referral_port"))
    billing_port: int = Field(8004, validation_alias=AliasChoices("BILLING_PORT", "billing_port"))
    notify_port: int = Field(8006, validation_alias=AliasChoices("NOTIFY_PORT", "notify_port"))
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

    # OpenID Connect (production): the hospital's identity provider by its issuer URL (discovery); unset, local
    # accounts only. The redirect URL defaults to this console's /oidc/callback.
    oidc_issuer: str | None = None
    oidc_client_id: str = "peerbridge-console"
    oidc_client_secret: SecretStr | None = None
    oidc_redirect_url: str = ""
    oidc_scopes: str = "openid profile"
    oidc_roles_claim: str = "roles"
    oidc_role_map: dict[str, str] = {}
    oidc_specialist_claim: str = "specialist_id"
    oidc_label: str = "Sign in with your hospital account"
    local_accounts: bool = True

    @model_validator(mode="after")
    def _local_services(self) -> "ConsoleSettings":
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        for name in ("pairing", "referral", "billing", "notify"):
            if not getattr(self, f"{name}_url"):
                setattr(self, f"{name}_url", f"http://{host}:{getattr(self, f'{name}_port')}")
        if not self.oidc_redirect_url:
            self.oidc_redirect_url = f"http://{host}:{self.port}/oidc/callback"
        return self

    def oidc_client(self, transport=None):
        from .oidc import OidcClient

        if not self.oidc_issuer:
            return None
        secret = self.oidc_client_secret.get_secret_value() if self.oidc_client_secret else None
        return OidcClient(self.oidc_issuer, self.oidc_client_id, self.oidc_redirect_url, client_secret=secret,
                          scopes=self.oidc_scopes, roles_claim=self.oidc_roles_claim, role_map=self.oidc_role_map,
                          specialist_claim=self.oidc_specialist_claim, transport=transport)

    def signing_secret(self) -> str | None:
        """The local stack's HS256 secret for the tokens the console mints; None in production (JWKS)."""
        if self.jwt_jwks_url:
            return None
        return local_secret(self.jwt_secret, self.jwt_secret_file)
