"""OpenID Connect without I/O: the PKCE pair, and the provider's claims mapped to PeerBridge's roles."""
from __future__ import annotations

import base64
import hashlib

import pytest

from services.console.domain.claims import pkce_pair, roles_of

pytestmark = pytest.mark.unit


def test_the_pkce_challenge_is_the_s256_of_a_fresh_verifier():
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128 and pkce_pair()[0] != verifier
    assert challenge == base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@pytest.mark.parametrize("claims, claim, mapping, roles", [
    ({"roles": ["peer"]}, "roles", {}, ["peer"]),
    ({"groups": "ed-peers billing-office"}, "groups", {"ed-peers": "peer", "billing-office": "billing"},
     ["billing", "peer"]),
    ({"realm_access": {"roles": ["pb-supervisor", "offline_access"]}}, "realm_access.roles",
     {"pb-supervisor": "supervisor"}, ["supervisor"]),
    ({"roles": ["ehr", "root", 7]}, "roles", {}, []),  # the EHR's machine role is never a person's
    ({}, "roles", {}, []),
])
def test_only_roles_of_peerbridge_come_out_of_the_providers_claims(claims, claim, mapping, roles):
    assert roles_of(claims, claim, mapping) == roles
