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
    """The identity provider's public keys by `kid`, fetched again once `max_age_seconds` old (so a key the provider
    withdrew stops being accepted) and when a token names an unknown `kid` (the provider rotated its keys). Fetches
    are at most one per `refresh_seconds`, so tokens with made-up key ids cannot hammer the provider."""

    def __init__(self, url: str, *, refresh_seconds: float = 30.0, max_age_seconds: float = 300.0,
                 clock: Clock | None = None, transport: httpx.AsyncBaseTransport | None = None, timeout: float = 5.0):
        self.url = url
        self.refresh_seconds = refresh_seconds
        self.max_age_seconds = max_age_seconds
        self.clock = clock or SystemClock()
        self.transport = transport
        self.timeout = timeout
        self.keys: dict[str, jwt.PyJWK] = {}
        self.fetched_at: datetime | None = None  # the last fetch that succeeded
        self.attempted_at: datetime | None = None  # the last fetch, whatever came of it
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> jwt.PyJWK:
        """The key with this id, fetching the set when it is stale or lacks the id and the last fetch is old enough."""
        if kid not in self.keys or self._stale():
            async with self._lock:  # concurrent requests share one fetch
                if (kid not in self.keys or self._stale()) and self._may_fetch():
                    await self._fetch()
        if kid not in self.keys:
            raise UnknownKey("no key with the token's kid")
        return self.keys[kid]

    def _age(self, moment: datetime | None) -> float:
        return float("inf") if moment is None else (self.clock.now() - moment).total_seconds()

    def _stale(self) -> bool:
        return self._age(self.fetched_at) >= self.max_age_seconds

    def _may_fetch(self) -> bool:
        return self._age(self.attempted_at) >= self.refresh_seconds

    async def _fetch(self) -> None:
        self.attempted_at = self.clock.now()
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout) as client:
                response = await client.get(self.url)
                response.raise_for_status()
                keys = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            # The cached keys stay in use until a fetch succeeds; a token signed by a key we never got is refused.
            log.warning("jwks_fetch_failed", error_class=type(exc).__name__)
            return
        self.keys = {k.key_id: k for k in keys.keys if k.key_id}
        self.fetched_at = self.attempted_at
        log.info("jwks_fetched", keys=len(self.keys))
