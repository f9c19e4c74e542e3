"""Bearer tokens: roles, peer binding, expiry and tampering."""
from __future__ import annotations

import pytest

from services.runtime.auth import AuthError, TokenVerifier, issue_token, local_secret

pytestmark = pytest.mark.unit
SECRET = "s" * 40


def verifier(secret: str = SECRET) -> TokenVerifier:
    return TokenVerifier(secret=secret, issuer="peerbridge-local", audience="peerbridge")


def token(role: str, **kw) -> str:
    return issue_token(SECRET, role=role, issuer="peerbridge-local", audience="peerbridge", **kw)


async def test_a_peer_token_carries_its_role_and_specialist():
    who = await verifier().verify(token("peer", specialist_id="abc"))
    assert who.has("peer") and not who.has("admin") and who.specialist_id == "abc"


@pytest.mark.parametrize("bad", [
    lambda: token("admin", ttl_seconds=-10),                      # expired
    lambda: token("admin")[:-4] + "AAAA",                         # signature tampered
    lambda: issue_token("x" * 40, role="admin", issuer="peerbridge-local", audience="peerbridge"),  # other key
    lambda: issue_token(SECRET, role="admin", issuer="someone-else", audience="peerbridge"),
])
async def test_invalid_tokens_are_refused_with_401(bad):
    with pytest.raises(AuthError) as err:
        await verifier().verify(bad())
    assert err.value.status == 401


def test_unknown_roles_cannot_be_issued():
    with pytest.raises(ValueError):
        token("root")


def test_local_secret_is_created_once_and_private(tmp_path):
    path = tmp_path / "jwt.secret"
    first = local_secret(None, path)
    assert local_secret(None, path) == first and len(first) >= 40
    assert oct(path.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("facilities, named", [(["MERCY"], {"MERCY"}), (["MERCY", "STJ"], {"MERCY", "STJ"}),
                                               (None, set())])
async def test_an_ehr_token_names_the_facilities_it_speaks_for(facilities, named):
    who = await verifier().verify(token("ehr", facilities=facilities))
    assert who.has("ehr") and who.facilities == named


async def test_peerbridge_token_prints_an_ehr_token_for_its_facility(monkeypatch, capsys):
    from services.runtime.cli import main

    monkeypatch.setenv("PEERBRIDGE_JWT_SECRET", SECRET)
    assert main(["token", "--role", "ehr", "--facility", "MERCY"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert (await verifier().verify(printed)).facilities == {"MERCY"}
