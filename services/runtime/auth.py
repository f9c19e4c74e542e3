"""Bearer-token (JWT) authentication and role checks as FastAPI dependencies."""
from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer

from .jwks import JwksKeys

ROLES = frozenset({"ehr", "peer", "supervisor", "billing", "admin", "privacy"})
LOCAL_ALGORITHM = "HS256"
JWKS_ALGORITHMS = ["RS256", "RS384", "ES256", "ES384"]


class AuthError(Exception):
    """401 (no or bad token) or 403 (wrong role); mapped to each API's error format in one place."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Principal:
    """Who is calling: subject, roles and, for peer tokens, the specialist they act as; for ehr, its facilities."""

    subject: str
    roles: frozenset[str]
    specialist_id: str | None = None
    facilities: frozenset[str] = frozenset()

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


def local_secret(secret: str | None, secret_file: Path) -> str:
    """The local stack's signing secret: given, or read from (and created in) a private file."""
    if secret:
        return secret
    if not secret_file.exists():
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return secret_file.read_text().strip()


class TokenVerifier:
    """Verifies tokens signed with the local secret or, in production, with keys from a JWKS URL."""

    def __init__(self, *, secret: str | None, issuer: str, audience: str, jwks_url: str | None = None,
                 jwks: JwksKeys | None = None):
        self.secret = secret
        self.issuer = issuer
        self.audience = audience
        self.jwks = jwks or (JwksKeys(jwks_url) if jwks_url else None)

    async def verify(self, token: str) -> Principal:
        try:
            if self.jwks:
                kid = jwt.get_unverified_header(token).get("kid")
                if not isinstance(kid, str):
                    raise jwt.InvalidTokenError("no kid")
                key, algorithms = (await self.jwks.key(kid)).key, JWKS_ALGORITHMS
            else:
                key, algorithms = self.secret, [LOCAL_ALGORITHM]
            claims = jwt.decode(token, key, algorithms=algorithms, audience=self.audience, issuer=self.issuer,
                                options={"require": ["exp", "sub"]})
        except jwt.ExpiredSignatureError:
            raise AuthError(401, "token expired") from None
        except jwt.PyJWTError:
            raise AuthError(401, "invalid token") from None
        roles = claims.get("roles") or []
        if isinstance(roles, str):
            roles = roles.split()
        return Principal(subject=str(claims["sub"]), roles=frozenset(r for r in roles if r in ROLES),
                         specialist_id=claims.get("specialist_id"), facilities=_facilities(claims.get("facility")))


def _facilities(claim) -> frozenset[str]:
    """The `facility` claim: one facility code or a list of them (anything else names none)."""
    if isinstance(claim, str):
        return frozenset({claim})
    if isinstance(claim, list):
        return frozenset(f for f in claim if isinstance(f, str))
    return frozenset()


def issue_token(secret: str, *, role: str, issuer: str, audience: str, specialist_id: str | None = None,
                facilities: list[str] | None = None, subject: str | None = None, ttl_seconds: int = 8 * 3600) -> str:
    """A locally signed token for one role (peer tokens bound to a specialist, ehr tokens to facilities)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(sorted(ROLES))}")
    now = int(time.time())
    claims = {"sub": subject or f"local-{role}", "roles": [role], "iss": issuer, "aud": audience,
              "iat": now, "exp": now + ttl_seconds, "jti": secrets.token_hex(8)}
    if specialist_id:
        claims["specialist_id"] = specialist_id
    if facilities:
        claims["facility"] = facilities[0] if len(facilities) == 1 else list(facilities)
    return jwt.encode(claims, secret, algorithm=LOCAL_ALGORITHM)


# Where the idempotency middleware leaves the token it verified and its principal, for authenticate to reuse.
VERIFIED = "verified_bearer"

# Declares the bearer scheme in OpenAPI (so clients send the token); the header is read below, to answer 401 our way.
BEARER = HTTPBearer(auto_error=False, description="A JWT with `roles` (local stack: `peerbridge token --role ROLE`)")


async def authenticate(request: Request, _scheme=Security(BEARER)) -> Principal:
    """The caller, from the Authorization header; 401 without a valid bearer token. Kept on request.state
    for whatever records the request (an audit trail), also when a role check then refuses it."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError(401, "bearer token required")
    verified = getattr(request.state, VERIFIED, None)
    if verified is not None and verified[0] == token.strip():
        principal = verified[1]
    else:
        principal = await request.app.state.verifier.verify(token.strip())
    request.state.principal = principal
    return principal


def require(*roles: str):
    """A dependency that admits only callers holding one of `roles`."""
    unknown = set(roles) - ROLES
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def check(principal: Principal = Depends(authenticate)) -> Principal:
        if not principal.has(*roles):
            raise AuthError(403, f"requires role {' or '.join(roles)}")
        return principal

    return check
