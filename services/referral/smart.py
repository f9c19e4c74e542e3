"""SMART Backend Services client: a signed client assertion (RS384/ES384) exchanged for a cached access token."""
from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlencode

import httpx
import jwt
import structlog
from pydantic import BaseModel, Field

from services.runtime.clock import Clock

log = structlog.get_logger("referral.smart")

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# What the push writes: conditional create/update of these types (a conditional write also searches).
PUSHED_TYPES = ("ServiceRequest", "Task", "Consent", "PractitionerRole")
# SMART App Launch v1 `.write`; v2 `.cus` (create, update, search: a conditional update searches first).
SCOPE_SUFFIX = {"v1": "write", "v2": "cus"}
ASSERTION_SECONDS = 300         # SMART Backend Services: the assertion lives at most five minutes
REFRESH_MARGIN_SECONDS = 60     # a token is renewed this long before it expires, so no push carries a dying one


class SmartClientConfig(BaseModel):
    """One facility's registration with its authorization server (SMART Backend Services)."""

    token_url: str
    client_id: str
    kid: str
    private_key_file: Path          # PEM (PKCS#8 or traditional), RSA for RS384, P-384 EC for ES384
    alg: Literal["RS384", "ES384"] = "RS384"
    smart_version: Literal["v1", "v2"] = "v2"
    scopes: list[str] = Field(default_factory=list)   # empty: system/<type>.write (v1) or .cus (v2) per pushed type

    def scope(self) -> str:
        if self.scopes:
            return " ".join(self.scopes)
        return " ".join(f"system/{t}.{SCOPE_SUFFIX[self.smart_version]}" for t in PUSHED_TYPES)


class TokenError(Exception):
    """The authorization server gave no token (unreachable, refused the assertion, or an unreadable answer)."""

    def __init__(self, detail: str, status: int | None = None):
        super().__init__(detail)
        self.status = status


@dataclass
class _Cached:
    token: str
    refresh_at: datetime


@dataclass
class SmartAuth:
    """Access tokens per facility: obtained with a signed assertion, reused until shortly before they expire."""

    clients: dict[str, SmartClientConfig]
    clock: Clock
    http: httpx.AsyncClient
    _cache: dict[str, _Cached] = field(default_factory=dict)
    _keys: dict[str, object] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def configured(self, facility: str) -> bool:
        return facility in self.clients

    def assertion(self, facility: str) -> str:
        """A fresh client assertion: iss = sub = client id, aud = token URL, exp <= 5 minutes, a unique jti."""
        cfg = self.clients[facility]
        now = int(self.clock.now().timestamp())
        claims = {"iss": cfg.client_id, "sub": cfg.client_id, "aud": cfg.token_url, "iat": now,
                  "exp": now + ASSERTION_SECONDS, "jti": secrets.token_urlsafe(24)}
        return jwt.encode(claims, self._key(facility), algorithm=cfg.alg, headers={"kid": cfg.kid, "typ": "JWT"})

    def _key(self, facility: str):
        if facility not in self._keys:  # read once: the secret file is mounted, not changed per request
            from cryptography.hazmat.primitives.serialization import load_pem_private_key
            pem = self.clients[facility].private_key_file.read_bytes()
            self._keys[facility] = load_pem_private_key(pem, password=None)
        return self._keys[facility]

    async def token(self, facility: str) -> str:
        """The facility's current access token, fetching a new one when there is none or it is about to expire."""
        cached = self._cache.get(facility)
        if cached and self.clock.now() < cached.refresh_at:
            return cached.token
        lock = self._locks.setdefault(facility, asyncio.Lock())
        async with lock:  # concurrent pushes share one token request
            cached = self._cache.get(facility)
            if cached and self.clock.now() < cached.refresh_at:
                return cached.token
            fresh = await self._fetch(facility)
            self._cache[facility] = fresh
            return fresh.token

    def forget(self, facility: str, token: str) -> None:
        """Drop a token the resource server refused (401), unless another push already replaced it."""
        cached = self._cache.get(facility)
        if cached and cached.token == token:
            del self._cache[facility]

    async def _fetch(self, facility: str) -> _Cached:
        cfg = self.clients[facility]
        try:
            assertion = self.assertion(facility)
        except (OSError, ValueError, TypeError, jwt.PyJWTError) as exc:
            # A missing or unreadable key file, or a key that does not fit `alg`: retried like an outage (the row
            # waits with backoff) rather than failing the push loop, which would hold up other facilities' pushes.
            log.error("smart_client_key_unusable", facility=facility, error_class=type(exc).__name__)
            raise TokenError("client key unusable") from None
        form = {"grant_type": "client_credentials", "scope": cfg.scope(),
                "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
        asked_at = self.clock.now()
        try:
            # The Content-Type is explicit: the push's client sends FHIR JSON by default, a token endpoint takes a form.
            response = await self.http.post(cfg.token_url, content=urlencode(form), headers={
                "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"})
        except httpx.HTTPError as exc:
            raise TokenError(type(exc).__name__) from None
        if response.status_code != 200:
            # The body names the OAuth error code (invalid_client, invalid_scope); it holds no PHI.
            log.warning("smart_token_refused", facility=facility, status_code=response.status_code,
                        error=_error_code(response))
            raise TokenError(f"token endpoint HTTP {response.status_code}", response.status_code)
        try:
            body = response.json()
            token, lifetime = str(body["access_token"]), int(body.get("expires_in", 300))
        except (ValueError, KeyError, TypeError):
            raise TokenError("unreadable token response") from None
        margin = min(REFRESH_MARGIN_SECONDS, lifetime / 5)
        log.info("smart_token_obtained", facility=facility, expires_in=lifetime)
        return _Cached(token, asked_at + timedelta(seconds=lifetime - margin))


def _error_code(response: httpx.Response) -> str | None:
    try:
        code = response.json().get("error")
    except ValueError:
        return None
    return code if isinstance(code, str) and code.replace("_", "").isalpha() else None
