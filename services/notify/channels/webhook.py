"""A signed webhook (HMAC-SHA256 over the timestamp and body) for hospital paging platforms."""
from __future__ import annotations

import hashlib
import hmac
import json
from typing import Callable

import httpx

from .base import ChannelError, Outgoing, Sent, http_error


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """X-PeerBridge-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


class SignedWebhook:
    name = "webhook"

    def __init__(self, http: httpx.AsyncClient, secret: str, now: Callable[[], float]):
        self.http = http
        self.secret = secret
        self.now = now  # the service's clock (seconds since the epoch), so the receiver's freshness check agrees

    async def send(self, out: Outgoing) -> Sent:
        body = json.dumps({"id": out.message_id, "kind": out.kind, "text": out.text, "link": out.link},
                          separators=(",", ":")).encode()
        timestamp = str(int(self.now()))
        headers = {"Content-Type": "application/json", "X-PeerBridge-Timestamp": timestamp,
                   "X-PeerBridge-Signature": sign(self.secret, timestamp, body)}
        try:
            r = await self.http.post(out.address, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ChannelError(type(exc).__name__) from None
        if r.status_code >= 300:
            raise http_error(r.status_code)
        return Sent(out.message_id, delivered=True)
