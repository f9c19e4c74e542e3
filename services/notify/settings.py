"""Notify settings (env prefix NOTIFY_; connection settings shared as PEERBRIDGE_*)."""
from __future__ import annotations

from pathlib import Path

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import FETCH_WAIT_BOUNDS, CommonSettings, shared


class NotifySettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore")

    port: int = 8006
    # Links in messages open the console's peer app there (issue 13).
    console_base_url: str = "http://127.0.0.1:8005"
    # Where the SMS provider reaches our webhooks, exactly as it signs them (X-Twilio-Signature covers the URL);
    # unset, this service's own address (http://<PEERBRIDGE_HOST>:<NOTIFY_PORT>).
    public_base_url: str = ""
    timezone: str = "UTC"  # the zone times in messages are written in (the facilities' local time)
    # Standing on-call supervisor per facility ("*": every facility not listed); a rota entry (PUT /oncall) wins.
    oncall: dict[str, str] = {}
    # Facilities checked for someone to escalate to (at start-up, on /readyz, as a metric), besides those seen.
    facilities: list[str] = []
    # Local stack: a recipient without a verified contact is written to the log channel instead of reaching nobody.
    log_when_no_contact: bool = False
    # Consumers in one group in this process (Kafka gives each its own partitions); more replicas scale further.
    consumers: int = 1
    # A message reaches a phone in seconds: a fetch held up to 100 ms adds little to that, and notify then applies the
    # offers in larger transactions and polls the broker a third as often, leaving the cores to pairing and referral.
    consumer_fetch_wait_ms: int = shared(100, "CONSUMER_FETCH_WAIT_MS", "NOTIFY_CONSUMER_FETCH_WAIT_MS",
                                         **FETCH_WAIT_BOUNDS)
    # Delivery
    workers: int = 2
    poll_seconds: float = 0.5
    batch: int = 20
    max_attempts: int = 4          # per channel, before falling back to the next one
    retry_seconds: float = 2.0     # first retry; doubles, capped at retry_cap_seconds
    retry_cap_seconds: float = 60.0
    fallback_seconds: float = 90.0  # an SMS not reported delivered by then: the next channel is tried too
    send_timeout_seconds: float = 10.0
    alert_repeat_minutes: float = 5.0
    alert_repeat_limit: int = 6
    code_minutes: float = 10.0     # a verification code's life
    # SMS (Twilio's Messages API)
    sms_base_url: str = "https://api.twilio.com"
    sms_account_sid: str = ""
    sms_auth_token: str = ""
    sms_from: str = ""
    # Email (SMTP with STARTTLS)
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    smtp_ca_file: Path | None = None
    smtp_from: str = "peerbridge@localhost"
    # Web Push (VAPID): a PEM private key, and the contact the push services may write to
    vapid_private_key_file: Path | None = None
    vapid_subject: str = "mailto:ops@peerbridge.invalid"
    # Signed webhooks for paging platforms
    webhook_secret: str = ""

    @model_validator(mode="after")
    def _own_address(self) -> "NotifySettings":
        if not self.public_base_url:
            self.public_base_url = f"http://{self.host}:{self.port}"
        return self
