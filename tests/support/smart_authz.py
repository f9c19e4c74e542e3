"""A SMART Backend Services authorization server, as a process of its own, for tests: a hospital's token endpoint.

usage: python -m tests.support.smart_authz --port PORT --registry FILE [--token-seconds N]

The registry (JSON) names each client: {"clients": {"<client_id>": {"jwks": {...}, "scopes": ["system/Task.cus"]}}}.
POST /token checks what the SMART Backend Services spec asks of a client assertion: grant_type client_credentials,
client_assertion_type jwt-bearer, RS384/ES384 signature by a key of the client's registered JWKS (found by kid),
iss = sub = client id, aud = this token URL, exp no more than five minutes ahead, a jti never seen before, and
requested scopes the client was granted, sent as a form (application/x-www-form-urlencoded).
It answers an opaque token; POST /introspect (RFC 7662) tells the FHIR
server whether a token is one it issued and still valid. /admin/revoke forgets every token; /admin/stats counts.
"""
from __future__ import annotations

import argparse
import json
import secrets
import time
from pathlib import Path
from urllib.parse import parse_qsl

import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS384", "ES384")
MAX_ASSERTION_SECONDS = 300
SKEW_SECONDS = 5


class Refused(Exception):
    def __init__(self, status: int, error: str, why: str):
        super().__init__(why)
        self.status, self.error, self.why = status, error, why


def build(registry: dict, token_url: str, token_seconds: int) -> Starlette:
    clients = registry["clients"]
    seen_jti: dict[str, float] = {}                 # jti -> its assertion's exp: replays refused until then
    tokens: dict[str, dict] = {}                    # access token -> {client_id, scope, exp}
    stats = {"issued": {}, "refused": [], "introspected": 0}

    def check(form) -> tuple[str, list[str]]:
        if form.get("grant_type") != "client_credentials":
            raise Refused(400, "unsupported_grant_type", "grant_type")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise Refused(400, "invalid_request", "client_assertion_type")
        assertion = form.get("client_assertion") or ""
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Refused(401, "invalid_client", "malformed assertion") from None
        client_id = unverified.get("iss")
        if client_id not in clients:
            raise Refused(401, "invalid_client", "unknown client")
        if header.get("alg") not in ALGORITHMS:
            raise Refused(401, "invalid_client", "alg")
        keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(clients[client_id]["jwks"]).keys}
        if header.get("kid") not in keys:
            raise Refused(401, "invalid_client", "kid")
        try:
            claims = jwt.decode(assertion, keys[header["kid"]].key, algorithms=[header["alg"]], audience=token_url,
                                leeway=SKEW_SECONDS, options={"require": ["iss", "sub", "aud", "exp", "jti"]})
        except jwt.InvalidAudienceError:
            raise Refused(401, "invalid_client", "aud") from None
        except jwt.PyJWTError as exc:
            raise Refused(401, "invalid_client", type(exc).__name__) from None
        if claims["sub"] != client_id:
            raise Refused(401, "invalid_client", "sub")
        now = time.time()
        if claims["exp"] > now + MAX_ASSERTION_SECONDS + SKEW_SECONDS:
            raise Refused(401, "invalid_client", "exp too far")
        for jti in [j for j, exp in seen_jti.items() if exp < now - SKEW_SECONDS]:
            del seen_jti[jti]
        if claims["jti"] in seen_jti:
            raise Refused(401, "invalid_client", "jti replayed")
        seen_jti[claims["jti"]] = claims["exp"]
        requested = (form.get("scope") or "").split()
        allowed = set(clients[client_id].get("scopes", []))
        if not requested or not set(requested) <= allowed:
            raise Refused(400, "invalid_scope", "scope")
        return client_id, requested

    async def token(request: Request) -> JSONResponse:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            stats["refused"].append("content-type")
            return JSONResponse({"error": "invalid_request", "error_description": "content-type"}, status_code=400)
        form = await _form(request)
        try:
            client_id, scopes = check(form)
        except Refused as exc:
            stats["refused"].append(exc.why)
            return JSONResponse({"error": exc.error, "error_description": exc.why}, status_code=exc.status)
        access = secrets.token_urlsafe(32)
        tokens[access] = {"client_id": client_id, "scope": " ".join(scopes), "exp": time.time() + token_seconds}
        stats["issued"][client_id] = stats["issued"].get(client_id, 0) + 1
        return JSONResponse({"access_token": access, "token_type": "bearer", "expires_in": token_seconds,
                             "scope": " ".join(scopes)}, headers={"Cache-Control": "no-store"})

    async def introspect(request: Request) -> JSONResponse:
        stats["introspected"] += 1
        found = tokens.get((await _form(request)).get("token") or "")
        if not found or found["exp"] < time.time():
            return JSONResponse({"active": False})
        return JSONResponse({"active": True, "client_id": found["client_id"], "scope": found["scope"],
                             "exp": int(found["exp"]), "token_type": "bearer"})

    async def revoke(request: Request) -> JSONResponse:
        tokens.clear()
        return JSONResponse({"revoked": True})

    async def show(request: Request) -> JSONResponse:
        return JSONResponse(stats)

    return Starlette(routes=[Route("/token", token, methods=["POST"]),
                             Route("/introspect", introspect, methods=["POST"]),
                             Route("/admin/revoke", revoke, methods=["POST"]),
                             Route("/admin/stats", show, methods=["GET"])])


async def _form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (the last value of a repeated field)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--registry", type=Path, required=True)
    parser.add_argument("--token-seconds", type=int, default=300)
    args = parser.parse_args()
    app = build(json.loads(args.registry.read_text()), f"http://127.0.0.1:{args.port}/token", args.token_seconds)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
