"""Inbound SMART Backend Services: a hospital's system trades a client assertion, signed with a key of its registered
JWKS, for a short-lived `ehr` token scoped to its facility; no shared secret is ever handed out."""
from __future__ import annotations

import secrets
from datetime import datetime
from urllib.parse import parse_qsl

import jwt
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, model_validator

from services.runtime.auth import LOCAL_ALGORITHM
from services.runtime.jwks import JwksKeys
from services.runtime.responses import problems
from services.runtime.service import ServiceRuntime, get_runtime
from services.runtime.web import problem

from .smart import ASSERTION_TYPE

ALGORITHMS = ("RS384", "ES384")
ASSERTION_SECONDS = 300
SKEW_SECONDS = 5
TOKEN_SECONDS = 300
READ_SCOPES = ["system/Task.read", "system/Task.rs", "system/Task.r", "system/Task.s"]


class Recipient(BaseModel):
    """An organization by identifier, as ConsentRecorded's recipients name it."""

    system: str = Field(min_length=1)
    value: str = Field(min_length=1)


class InboundClient(BaseModel):
    """A hospital system registered to call our APIs: its facilities, its public keys, the scopes it may ask."""

    facilities: list[str] = Field(min_length=1)
    jwks: dict | None = None            # the JWKS itself, or
    jwks_url: str | None = None         # where the hospital publishes it (fetched, cached, refreshed on a new kid)
    scopes: list[str] = Field(default_factory=lambda: list(READ_SCOPES))
    # A recipient other than the facility (an HIE, a treatment program): its identifier as patients name it on the
    # consent. Such a client sees its facilities' referrals only under consents that name it.
    recipient: Recipient | None = None

    @model_validator(mode="after")
    def _keys(self) -> "InboundClient":
        if (self.jwks is None) == (self.jwks_url is None):
            raise ValueError("give exactly one of jwks and jwks_url")
        return self


class Refused(Exception):
    def __init__(self, status: int, error: str, why: str):
        super().__init__(why)
        self.status, self.error, self.why = status, error, why


router = APIRouter(tags=["auth"])
FORM = {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "required": ["grant_type", "client_assertion_type", "client_assertion", "scope"],
    "properties": {k: {"type": "string"} for k in ("grant_type", "client_assertion_type", "client_assertion",
                                                   "scope")}}}}}}


def recipient_of(request: Request, who) -> tuple[str, str] | None:
    """The named recipient a caller reads as (its inbound client's registration), or None: the facility's own."""
    client = request.app.state.smart_inbound.get(who.subject)
    return (client.recipient.system, client.recipient.value) if client and client.recipient else None


def token_url(request: Request) -> str:
    """The URL assertions must name as `aud`: configured (behind a proxy), else this endpoint's own."""
    configured = request.app.state.runtime.settings.smart_token_url
    return configured or str(request.url.replace(query=None))


@router.post("/oauth/token", summary="SMART Backend Services token endpoint (client_credentials, private_key_jwt)",
             responses=problems(400, 401, 503), openapi_extra=FORM)
async def issue(request: Request, runtime: ServiceRuntime = Depends(get_runtime)):
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    try:
        client_id, facilities, scopes = await _verify(request, runtime, form)
    except Refused as exc:
        # RFC 6749 clients read `error`; it rides along in the problem document.
        return problem(exc.status, "token request refused", exc.why, error=exc.error)
    own, secret = request.app.state.smart_own, request.app.state.verifier.secret
    if own is None and not secret:  # an external identity provider signs the services' tokens, and we hold no key
        return problem(503, "token endpoint unavailable", "with an external identity provider, set "
                       "REFERRAL_SMART_SIGNING_KEY_FILE so referral signs its own tokens",
                       error="temporarily_unavailable")
    now = int(runtime.clock.now().timestamp())
    s = runtime.settings
    claims = {"sub": client_id, "roles": ["ehr"], "iss": s.jwt_issuer, "aud": s.jwt_audience, "iat": now,
              "exp": now + TOKEN_SECONDS, "jti": secrets.token_hex(12), "scope": " ".join(scopes),
              "facility": facilities[0] if len(facilities) == 1 else facilities}
    token = own.sign(claims) if own else jwt.encode(claims, secret, algorithm=LOCAL_ALGORITHM)
    return {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_SECONDS, "scope": " ".join(scopes)}


@router.get("/oauth/jwks", summary="The public keys our inbound SMART tokens are signed with (JWKS)")
async def jwks(request: Request) -> dict:
    own = request.app.state.smart_own
    return own.jwks() if own else {"keys": []}


async def _verify(request: Request, runtime: ServiceRuntime, form: dict) -> tuple[str, list[str], list[str]]:
    """The client, its facilities and granted scopes, once its assertion passed every SMART check."""
    if form.get("grant_type") != "client_credentials":
        raise Refused(400, "unsupported_grant_type", "grant_type must be client_credentials")
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise Refused(400, "invalid_request", "client_assertion_type must be jwt-bearer")
    assertion = form.get("client_assertion") or ""
    try:
        header = jwt.get_unverified_header(assertion)
        client_id = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        raise Refused(401, "invalid_client", "malformed client assertion") from None
    clients: dict[str, InboundClient] = request.app.state.smart_inbound
    if not isinstance(client_id, str) or client_id not in clients:
        raise Refused(401, "invalid_client", "unknown client")
    if header.get("alg") not in ALGORITHMS or not isinstance(header.get("kid"), str):
        raise Refused(401, "invalid_client", "assertion must be RS384 or ES384 with a kid")
    key = await _key(request, client_id, clients[client_id], header["kid"])
    now = runtime.clock.now()
    try:
        claims = jwt.decode(assertion, key, algorithms=[header["alg"]], audience=token_url(request),
                            leeway=SKEW_SECONDS, options={"require": ["iss", "sub", "aud", "exp", "jti"],
                                                          "verify_exp": False})
    except jwt.PyJWTError:
        raise Refused(401, "invalid_client", "assertion signature, audience or claims invalid") from None
    exp = claims["exp"]
    if claims["sub"] != client_id or not isinstance(exp, int | float):
        raise Refused(401, "invalid_client", "sub must equal iss")
    if not isinstance(claims["jti"], str) or not 0 < len(claims["jti"]) <= 255 or "\x00" in claims["jti"]:
        raise Refused(401, "invalid_client", "jti must be a string of 1 to 255 characters")
    if exp < now.timestamp() - SKEW_SECONDS or exp > now.timestamp() + ASSERTION_SECONDS + SKEW_SECONDS:
        raise Refused(401, "invalid_client", "assertion expired or valid longer than five minutes")
    if not await _first_use(runtime, client_id, str(claims["jti"]), datetime.fromtimestamp(exp, now.tzinfo), now):
        raise Refused(401, "invalid_client", "jti already used")
    requested = (form.get("scope") or "").split()
    if not requested or not set(requested) <= set(clients[client_id].scopes):
        raise Refused(400, "invalid_scope", "scope not granted to this client")
    return client_id, clients[client_id].facilities, requested


async def _key(request: Request, client_id: str, client: InboundClient, kid: str):
    if client.jwks is not None:
        keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(client.jwks).keys}
        if kid not in keys:
            raise Refused(401, "invalid_client", "no registered key with this kid")
        return keys[kid].key
    cache: dict[str, JwksKeys] = request.app.state.smart_jwks
    s = request.app.state.runtime.settings
    fetched = cache.get(client_id)
    if fetched is None:  # one cache per client: its keys, refetched on an unknown kid at most once per refresh
        fetched = cache[client_id] = JwksKeys(client.jwks_url, clock=request.app.state.runtime.clock,
                                              timeout=s.smart_jwks_timeout_seconds,
                                              refresh_seconds=s.smart_jwks_refresh_seconds)
    try:
        return (await fetched.key(kid)).key
    except jwt.PyJWTError:
        raise Refused(401, "invalid_client", "no registered key with this kid") from None


async def _first_use(runtime: ServiceRuntime, client_id: str, jti: str, until: datetime, now: datetime) -> bool:
    """Record the assertion's jti until it expires; False when it was seen before (a replay)."""
    async with runtime.pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM smart_assertions WHERE expires_at < $1", now)
        return await conn.fetchval(
            "INSERT INTO smart_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING RETURNING true", client_id, jti, until) is not None


@router.get("/fhir/.well-known/smart-configuration", summary="SMART configuration (Backend Services)")
async def smart_configuration(request: Request) -> dict:
    return {"token_endpoint": token_url_for(request), "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
            "scopes_supported": READ_SCOPES, "capabilities": ["client-confidential-asymmetric"],
            "jwks_uri": str(request.url_for("jwks"))}


def token_url_for(request: Request) -> str:
    return request.app.state.runtime.settings.smart_token_url or str(request.url_for("issue"))
