"""OpenID Connect sign-in (authorization code flow with PKCE) against the hospital's identity provider."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import jwt

from services.runtime.jwks import JwksKeys

from .domain.claims import pkce_pair, roles_of

ALGORITHMS = ["RS256", "RS384", "ES256", "ES384"]


class OidcFailed(Exception):
    """The provider's answer could not be trusted or used (the page says sign-in failed; nothing is logged of it)."""


@dataclass(frozen=True)
class Login:
    """Where to send the browser, and what to remember until it comes back."""

    url: str
    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True)
class Identity:
    subject: str
    name: str
    roles: list[str]
    specialist_id: str | None
    access_token: str
    expires_in: int


class OidcClient:
    """One provider, found by its issuer URL (discovery), as a confidential or public (PKCE-only) client."""

    def __init__(self, issuer: str, client_id: str, redirect_url: str, *, client_secret: str | None = None,
                 scopes: str = "openid profile", roles_claim: str = "roles", role_map: dict[str, str] | None = None,
                 specialist_claim: str = "specialist_id", transport: httpx.AsyncBaseTransport | None = None):
        self.issuer, self.client_id, self.redirect_url = issuer.rstrip("/"), client_id, redirect_url
        self.client_secret, self.scopes = client_secret, scopes
        self.roles_claim, self.role_map, self.specialist_claim = roles_claim, role_map or {}, specialist_claim
        self.transport = transport
        self._config: dict | None = None
        self._keys: JwksKeys | None = None

    async def config(self) -> dict:
        if self._config is None:
            doc = await self._get(f"{self.issuer}/.well-known/openid-configuration")
            if doc.get("issuer", "").rstrip("/") != self.issuer:
                raise OidcFailed("discovery names another issuer")
            self._config = doc
            self._keys = JwksKeys(doc["jwks_uri"], transport=self.transport)
        return self._config

    async def _get(self, url: str) -> dict:
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=10) as client:
                r = await client.get(url)
                r.raise_for_status()
                return r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcFailed("provider unreachable") from exc

    async def login(self) -> Login:
        config = await self.config()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier, challenge = pkce_pair()
        query = {"response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_url,
                 "scope": self.scopes, "state": state, "nonce": nonce, "code_challenge": challenge,
                 "code_challenge_method": "S256"}
        return Login(f"{config['authorization_endpoint']}?{urlencode(query)}", state, nonce, verifier)

    async def finish(self, code: str, *, nonce: str, verifier: str) -> Identity:
        """Trade the code (with the PKCE verifier) for tokens; verify the ID token; map its claims."""
        config = await self.config()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_url,
                "client_id": self.client_id, "code_verifier": verifier}
        auth = (self.client_id, self.client_secret) if self.client_secret else None
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=10) as client:
                r = await client.post(config["token_endpoint"], data=form, auth=auth)
            tokens = r.json() if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcFailed("token endpoint unreachable") from exc
        if not tokens or "id_token" not in tokens:
            raise OidcFailed("no ID token")
        claims = await self._verify(tokens["id_token"], nonce)
        specialist = claims.get(self.specialist_claim)
        return Identity(subject=str(claims["sub"]), name=str(claims.get("name") or claims["sub"]),
                        roles=roles_of(claims, self.roles_claim, self.role_map),
                        specialist_id=specialist if isinstance(specialist, str) else None,
                        access_token=tokens.get("access_token", ""), expires_in=int(tokens.get("expires_in", 300)))

    async def _verify(self, id_token: str, nonce: str) -> dict:
        try:
            kid = jwt.get_unverified_header(id_token).get("kid")
            key = await self._keys.key(kid) if isinstance(kid, str) else None
            if key is None:
                raise OidcFailed("ID token without a key id")
            claims = jwt.decode(id_token, key.key, algorithms=ALGORITHMS, audience=self.client_id,
                                issuer=self.issuer, options={"require": ["exp", "iat", "sub", "nonce"]})
        except jwt.PyJWTError as exc:
            raise OidcFailed("ID token refused") from exc
        if not secrets.compare_digest(str(claims["nonce"]), nonce):
            raise OidcFailed("nonce mismatch")
        return claims
