"""Web Push with VAPID (RFC 8292): a push with no payload, so nothing at all passes through the push service;
the peer app's service worker wakes and fetches the offer over its own authenticated connection."""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx
from py_vapid import Vapid02

from .base import ChannelError, Outgoing, Sent, http_error


class WebPushChannel:
    name = "push"

    def __init__(self, http: httpx.AsyncClient, private_key_pem: bytes, subject: str, ttl_seconds: int = 600):
        self.http = http
        self.vapid = Vapid02.from_pem(private_key_pem)
        self.subject = subject
        self.ttl = ttl_seconds

    async def send(self, out: Outgoing) -> Sent:
        try:
            endpoint = json.loads(out.address)["endpoint"]
        except (ValueError, KeyError, TypeError):
            raise ChannelError("bad-subscription", permanent=True) from None
        parts = urlsplit(endpoint)
        headers = self.vapid.sign({"sub": self.subject, "aud": f"{parts.scheme}://{parts.netloc}"})
        headers.update({"TTL": str(self.ttl), "Urgency": "high"})
        try:
            r = await self.http.post(endpoint, headers=headers, content=b"")
        except httpx.HTTPError as exc:
            raise ChannelError(type(exc).__name__) from None
        if r.status_code >= 300:
            raise http_error(r.status_code)  # 404/410: the subscription is gone, permanently
        return Sent(r.headers.get("Location"), delivered=True)
