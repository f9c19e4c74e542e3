"""OpenID Connect pieces that need no I/O: PKCE, and the identity provider's claims mapped to our roles."""
from __future__ import annotations

import base64
import hashlib
import secrets

from services.runtime.auth import ROLES


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)  # 64 characters of the unreserved set, within 43..128
    return verifier, s256(verifier)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def roles_of(claims: dict, claim: str, role_map: dict[str, str]) -> list[str]:
    """Our roles from the provider's claim (a list or a space-separated string; a dotted name reaches into nested
    objects, e.g. realm_access.roles): each value mapped through role_map, or taken as is when it is one of ours."""
    value: object = claims
    for part in claim.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    values = value.split() if isinstance(value, str) else value if isinstance(value, list) else []
    roles = {role_map.get(v, v) for v in values if isinstance(v, str)}
    return sorted(r for r in roles if r in ROLES and r != "ehr")
