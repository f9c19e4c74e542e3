"""The console's use cases: accounts, sign-in, sessions and the tokens shown to the APIs for the user."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.runtime.auth import ROLES, issue_token
from services.runtime.clock import Clock

from . import store
from .oidc import OidcClient, OidcFailed

HASHER = PasswordHasher()  # argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile)
# Verified when the username is unknown, so a wrong name costs as long as a wrong password (no user enumeration).
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))


LOGIN_TTL = timedelta(minutes=10)


class SignInFailed(Exception):
    """Unknown user or wrong password (the page does not say which)."""


class NoRole(Exception):
    """The identity provider vouches for the person, but none of their roles is one of PeerBridge's."""


@dataclass(frozen=True)
class Session:
    """A signed-in user as the pages see them."""

    id_hash: str
    username: str
    display_name: str
    roles: tuple[str, ...]
    specialist_id: str | None
    csrf: str
    api_token: str | None = None  # the identity provider's access token (OIDC sign-in)
    api_token_expires_at: datetime | None = None

    def has(self, role: str) -> bool:
        return role in self.roles or "admin" in self.roles


def hash_cookie(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


class ConsoleService:
    """Sign-in and sessions over the console's store; time from the injected clock."""

    def __init__(self, pool, clock: Clock, *, idle: timedelta, lifetime: timedelta):
        self.pool, self.clock, self.idle, self.lifetime = pool, clock, idle, lifetime

    async def add_account(self, username: str, password: str, *, roles: list[str], display_name: str,
                          specialist_id: str | None = None) -> None:
        unknown = set(roles) - ROLES
        if unknown or not roles:
            raise ValueError(f"roles must be some of {', '.join(sorted(ROLES))}")
        if "peer" in roles and not specialist_id:
            raise ValueError("a peer account is bound to a specialist (--specialist)")
        await store.upsert_account(self.pool, username=username, display_name=display_name,
                                   password_hash=HASHER.hash(password), roles=roles, specialist_id=specialist_id,
                                   now=self.clock.now())

    async def sign_in(self, username: str, password: str) -> tuple[str, Session]:
        """A new session (the cookie's value and the session) for the right password; SignInFailed otherwise."""
        account = await store.get_account(self.pool, username)
        try:
            HASHER.verify(account["password_hash"] if account else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            raise SignInFailed() from None
        if account is None:
            raise SignInFailed()
        if HASHER.check_needs_rehash(account["password_hash"]):
            await store.set_password_hash(self.pool, username, HASHER.hash(password))
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        await store.insert_session(self.pool, hash_cookie(cookie), username, csrf, self.clock.now())
        return cookie, _session(await store.get_session(self.pool, hash_cookie(cookie)))

    async def session(self, cookie: str | None, *, touch: bool = True) -> Session | None:
        """The live session of this cookie, or None (unknown, idle too long, or too old: then it is deleted)."""
        if not cookie:
            return None
        row = await store.get_session(self.pool, hash_cookie(cookie))
        if row is None:
            return None
        now = self.clock.now()
        if now - row["last_seen_at"] > self.idle or now - row["created_at"] > self.lifetime:
            await store.delete_session(self.pool, row["id_hash"])
            return None
        if touch:
            await store.touch_session(self.pool, row["id_hash"], now)
        return _session(row)

    async def sign_out(self, session: Session) -> None:
        await store.delete_session(self.pool, session.id_hash)

    async def start_oidc(self, oidc: OidcClient, next_path: str) -> str:
        """Where to send the browser for the provider's sign-in; what comes back is checked against what we keep."""
        login = await oidc.login()
        await store.insert_login(self.pool, login.state, login.nonce, login.verifier, next_path, self.clock.now())
        return login.url

    async def finish_oidc(self, oidc: OidcClient, state: str, code: str) -> tuple[str, Session, str]:
        """The provider sent the browser back: a session for the person its ID token names, and where to go."""
        login = await store.take_login(self.pool, state, self.clock.now() - LOGIN_TTL)
        if login is None:
            raise OidcFailed("unknown or expired state")
        identity = await oidc.finish(code, nonce=login["nonce"], verifier=login["verifier"])
        if not identity.roles:
            raise NoRole()
        username = f"oidc:{identity.subject}"
        # The account mirrors the provider's claims at each sign-in; it has no password ("!" is no argon2 hash).
        await store.upsert_account(self.pool, username=username, display_name=identity.name[:200],
                                   password_hash="!", roles=identity.roles,
                                   specialist_id=identity.specialist_id if "peer" in identity.roles else None,
                                   now=self.clock.now())
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.clock.now()
        await store.insert_session(self.pool, hash_cookie(cookie), username, csrf, now, identity.access_token,
                                   now + timedelta(seconds=identity.expires_in))
        return cookie, _session(await store.get_session(self.pool, hash_cookie(cookie))), login["next_path"]


def _session(row) -> Session:
    return Session(id_hash=row["id_hash"], username=row["username"], display_name=row["display_name"],
                   roles=tuple(row["roles"]), specialist_id=str(row["specialist_id"]) if row["specialist_id"] else None,
                   csrf=row["csrf"], api_token=row["api_token"], api_token_expires_at=row["api_token_expires_at"])


def token_for(session: Session, role: str, *, secret: str, issuer: str, audience: str, ttl_seconds: int) -> str:
    """A short-lived token the APIs accept, for one role of the signed-in user (a peer's bound to their specialist)."""
    return issue_token(secret, role=role, issuer=issuer, audience=audience, subject=f"console:{session.username}",
                       specialist_id=session.specialist_id if role == "peer" else None, ttl_seconds=ttl_seconds)
