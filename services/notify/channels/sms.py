"""SMS through Twilio's Messages API (form POST, basic auth, status callbacks), and its webhook signature."""
from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Mapping

import httpx

from .base import ChannelError, Outgoing, Sent, http_error


class TwilioSms:
    name = "sms"

    def __init__(self, http: httpx.AsyncClient, base_url: str, account_sid: str, auth_token: str, sender: str, *,
                 status_callback: str | None = None):
        self.http = http
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.auth = (account_sid, auth_token)
        self.sender = sender
        self.status_callback = status_callback

    async def send(self, out: Outgoing) -> Sent:
        form = {"To": out.address, "From": self.sender, "Body": out.text}
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        try:
            r = await self.http.post(self.url, data=form, auth=self.auth)
        except httpx.HTTPError as exc:
            raise ChannelError(type(exc).__name__) from None
        if r.status_code >= 300:
            raise http_error(r.status_code)
        body = r.json()
        if body.get("status") in ("failed", "undelivered"):
            raise ChannelError(f"provider-{body.get('error_code') or 'failed'}", permanent=True)
        return Sent(body.get("sid"), delivered=body.get("status") == "delivered")


def signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by each POST parameter's name and value, sorted."""
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def valid_signature(auth_token: str, url: str, params: Mapping[str, str], given: str | None) -> bool:
    return bool(auth_token and given) and hmac.compare_digest(signature(auth_token, url, params), given)
