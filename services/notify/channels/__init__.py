"""The channels a message can go out on, behind one interface (base.Channel)."""
from __future__ import annotations

from pathlib import Path

import httpx

from services.runtime.clock import Clock

from ..settings import NotifySettings
from .base import Channel, ChannelError, Outgoing, Sent
from .email import SmtpChannel
from .log import LogChannel
from .push import WebPushChannel
from .sms import TwilioSms
from .webhook import SignedWebhook

__all__ = ["Channel", "ChannelError", "Outgoing", "Sent", "build"]


def build(settings: NotifySettings, clock: Clock, http: httpx.AsyncClient) -> dict[str, Channel]:
    """Every channel this deployment is configured for, by name; `log` always. The HTTP channels share `http`."""
    channels: dict[str, Channel] = {"log": LogChannel()}
    if settings.sms_account_sid and settings.sms_auth_token:
        channels["sms"] = TwilioSms(http, settings.sms_base_url, settings.sms_account_sid, settings.sms_auth_token,
                                    settings.sms_from, status_callback=f"{settings.public_base_url}/sms/status")
    if settings.smtp_host:
        channels["email"] = SmtpChannel(settings.smtp_host, settings.smtp_port, sender=settings.smtp_from,
                                        user=settings.smtp_user, password=settings.smtp_password,
                                        starttls=settings.smtp_starttls, ca_file=settings.smtp_ca_file,
                                        timeout=settings.send_timeout_seconds)
    if settings.vapid_private_key_file:
        channels["push"] = WebPushChannel(http, Path(settings.vapid_private_key_file).read_bytes(),
                                          settings.vapid_subject)
    if settings.webhook_secret:
        channels["webhook"] = SignedWebhook(http, settings.webhook_secret, lambda: clock.now().timestamp())
    return channels
