"""Signing keys from a JWKS URL: fetched without blocking the event loop, cached, refreshed on an unknown key id."""
from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
import jwt
import structlog

from .clock import Clock, SystemClock

log = structlog.get_logger("peerbridge.auth")


class UnknownKey(jwt.PyJWTError):
    """No key of the key set, even after a refresh, carries the token's `kid`."""


class JwksKeys:
    """The identity provider's public keys by `kid`. An unknown `kid` (the provider rotated its keys) fetches the set
    again, at most once per `refresh_seconds`, so tokens with made-up key ids cannot hammer the provider."""

    def __init__(self, url: str, *, refresh_seconds: float = 30.0, clock: Clock | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, timeout: float = 5.0):
        self.url = url
        self.refresh_seconds = refresh_seconds
        self.clock = clock or SystemClock()
        self.transport = transport
        self.timeout = timeout
        self.keys: dict[str, jwt.PyJWK] = {}
        self.fetched_at: datetime | None = None
        self.fetches = 0
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> jwt.PyJWK:
        """The key with this id, fetching the set when it is not known and the last fetch is old enough."""
        if kid in self.keys:
            return self.keys[kid]
        async with self._lock:  # concurrent requests with a new kid share one fetch
            if kid not in self.keys and self._may_fetch():
                await self._fetch()
        if kid not in self.keys:
            raise UnknownKey("no key with the token's kid")
        return self.keys[kid]

    def _may_fetch(self) -> bool:
        return self.fetched_at is None or (self.clock.now() - self.fetched_at).total_seconds() >= self.refresh_seconds

    async def _fetch(self) -> None:
        self.fetched_at = self.clock.now()
        self.fetches += 1
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout) as client:
                response = await client.get(self.url)
                response.raise_for_status()
                keys = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            # The cached keys stay in use; tokens signed by a key we never got are refused as invalid.
            log.warning("jwks_fetch_failed", error_class=type(exc).__name__)
            return
        self.keys = {k.key_id: k for k in keys.keys if k.key_id}
        log.info("jwks_fetched", keys=len(self.keys))
