"""Referral's own signing key for inbound SMART tokens, so the token endpoint works where an external identity
provider (PEERBRIDGE_JWT_JWKS_URL) issues every other token: referral signs, referral alone accepts them."""
from __future__ import annotations

from pathlib import Path

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from services.runtime.auth import AuthError, Principal, TokenVerifier, _facilities

ALGORITHMS = ("ES384", "RS384")


class OwnTokens:
    """The private key (a PEM secret file, the same on every replica) that signs our inbound tokens, its public JWKS
    and the issuer they name (so the verifier knows them from the identity provider's)."""

    def __init__(self, key_file: Path, *, kid: str, alg: str, issuer: str):
        if alg not in ALGORITHMS:
            raise ValueError(f"signing alg must be one of {ALGORITHMS}")
        self.private = load_pem_private_key(key_file.read_bytes(), None)
        self.kid, self.alg, self.issuer = kid, alg, issuer
        algorithm = jwt.algorithms.ECAlgorithm if alg.startswith("ES") else jwt.algorithms.RSAAlgorithm
        self.public_jwk = {**algorithm.to_jwk(self.private.public_key(), as_dict=True), "kid": kid, "alg": alg,
                           "use": "sig"}

    def sign(self, claims: dict) -> str:
        return jwt.encode({**claims, "iss": self.issuer}, self.private, algorithm=self.alg, headers={"kid": self.kid})

    def jwks(self) -> dict:
        return {"keys": [self.public_jwk]}


class WithOwnTokens:
    """The service's verifier, plus our own inbound tokens (recognised by their issuer, checked with our key)."""

    def __init__(self, inner: TokenVerifier, own: OwnTokens):
        self.inner, self.own = inner, own
        self.secret = inner.secret
        self.audience = inner.audience

    async def verify(self, token: str) -> Principal:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            issuer = None
        if issuer != self.own.issuer:
            return await self.inner.verify(token)
        try:
            claims = jwt.decode(token, self.own.private.public_key(), algorithms=[self.own.alg],
                                audience=self.audience, issuer=self.own.issuer, options={"require": ["exp", "sub"]})
        except jwt.ExpiredSignatureError:
            raise AuthError(401, "token expired") from None
        except jwt.PyJWTError:
            raise AuthError(401, "invalid token") from None
        # Only what the token endpoint grants: the ehr role for the client's facilities.
        return Principal(subject=str(claims["sub"]), roles=frozenset({"ehr"}) & frozenset(claims.get("roles") or ()),
                         facilities=_facilities(claims.get("facility")))
