"""A signed webhook (HMAC-SHA256 over the timestamp and body) for hospital paging platforms."""
from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx

from .base import ChannelError, Outgoing, Sent, http_error


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """X-PeerBridge-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


class SignedWebhook:
    name = "webhook"

    def __init__(self, http: httpx.AsyncClient, secret: str):
        self.http = http
        self.secret = secret

    async def send(self, out: Outgoing) -> Sent:
        body = json.dumps({"id": out.message_id, "kind": out.kind, "text": out.text, "link": out.link},
                          separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-PeerBridge-Timestamp": timestamp,
                   "X-PeerBridge-Signature": sign(self.secret, timestamp, body)}
        try:
            r = await self.http.post(out.address, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ChannelError(type(exc).__name__) from None
        if r.status_code >= 300:
            raise http_error(r.status_code)
        return Sent(out.message_id, delivered=True)
