"""Production tokens: RS384 and ES384 keys from a JWKS URL over real HTTP, rotation, unknown keys, no blocking."""
from __future__ import annotations

import asyncio
import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI

from services.runtime import web
from services.runtime.auth import Principal, require
from services.runtime.clock import FixedClock
from services.runtime.service import ServiceRuntime
from services.runtime.settings import CommonSettings
from tests.support import when
from tests.support.fixtures import wait_for

pytestmark = pytest.mark.integration
ISSUER, AUDIENCE, REFRESH = "https://idp.example.org", "peerbridge", 60
HOLD_FAILSAFE = 20.0  # only ends a hold the test never released (the event loop was blocked); never reached otherwise


class Key:
    """A signing key of the identity provider, with its public JWK."""

    def __init__(self, kid: str, algorithm: str):
        self.kid, self.algorithm = kid, algorithm
        if algorithm.startswith("RS"):
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = ec.generate_private_key(ec.SECP384R1())
            public = jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk = {**public, "kid": kid, "alg": algorithm, "use": "sig"}

    def token(self, role: str = "admin", *, kid: str | None = None) -> str:
        start = when.now()
        claims = {"sub": f"idp-{role}", "roles": [role], "iss": ISSUER, "aud": AUDIENCE,
                  "iat": int(start.timestamp()), "exp": int((start + timedelta(minutes=10)).timestamp())}
        return jwt.encode(claims, self.private, algorithm=self.algorithm, headers={"kid": kid or self.kid})


class JwksServer(ThreadingHTTPServer):
    """A real HTTP server on 127.0.0.1 serving the provider's current key set, counting the fetches."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), JwksHandler)
        self.keys: list[Key] = []
        self.fetches = 0
        self.hold: threading.Event | None = None  # when set, answers wait until the test releases them
        self.hold_expired = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/.well-known/jwks.json"


class JwksHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        server: JwksServer = self.server
        server.fetches += 1
        if server.hold is not None and not server.hold.wait(HOLD_FAILSAFE):
            server.hold_expired = True
        body = json.dumps({"keys": [k.jwk for k in server.keys]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def jwks_server():
    server = JwksServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    if server.hold is not None:
        server.hold.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def clock():
    return FixedClock(datetime(2030, 1, 1, tzinfo=timezone.utc))  # only the refresh interval reads it


@pytest.fixture
def api(jwks_server, clock):
    """An app with the shared edge, verifying tokens the way a service configured with PEERBRIDGE_JWT_JWKS_URL does."""
    settings = CommonSettings(jwt_jwks_url=jwks_server.url, jwt_jwks_refresh_seconds=REFRESH, jwt_issuer=ISSUER,
                              jwt_audience=AUDIENCE)
    app = FastAPI()
    web.install(app, "test")
    app.state.verifier = ServiceRuntime("test", settings, migrations=Path("."), clock=clock).verifier()

    @app.get("/who")
    async def who(principal: Principal = Depends(require("admin"))) -> dict:
        return {"subject": principal.subject}

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def call(api: httpx.AsyncClient, token: str) -> httpx.Response:
    return await api.get("/who", headers={"authorization": f"Bearer {token}"})


async def test_rs384_and_es384_tokens_are_verified_and_rotated_keys_are_picked_up(api, jwks_server, clock):
    first, second = Key("2030-01", "RS384"), Key("2030-02", "ES384")
    jwks_server.keys = [first]
    r = await call(api, first.token())
    assert r.status_code == 200 and r.json() == {"subject": "idp-admin"}
    assert (await call(api, first.token("peer"))).status_code == 403
    assert jwks_server.fetches == 1  # the key set is cached

    jwks_server.keys = [first, second]  # the provider rotates: a new kid appears
    clock.advance(seconds=REFRESH)
    r = await call(api, second.token())
    assert r.status_code == 200 and r.json() == {"subject": "idp-admin"}
    assert (await call(api, first.token())).status_code == 200
    assert jwks_server.fetches == 2

    jwks_server.keys = [second]  # the provider withdraws the old key: refused once the cached set is five minutes old
    clock.advance(seconds=299)
    assert (await call(api, first.token())).status_code == 200
    clock.advance(seconds=1)
    assert (await call(api, first.token())).status_code == 401
    assert (await call(api, second.token())).status_code == 200
    assert jwks_server.fetches == 3


async def test_a_token_signed_by_an_unknown_key_is_401_and_refreshes_at_most_once_per_interval(
        api, jwks_server, clock):
    known, stranger = Key("2030-01", "ES384"), Key("2030-99", "RS384")
    jwks_server.keys = [known]
    assert (await call(api, known.token())).status_code == 200
    assert jwks_server.fetches == 1

    r = await call(api, stranger.token())
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    assert (await call(api, Key("2030-01", "ES384").token())).status_code == 401  # a known kid, another key
    clock.advance(seconds=REFRESH - 1)
    for _ in range(5):  # tokens with made-up kids do not make us fetch again within the interval
        assert (await call(api, stranger.token())).status_code == 401
    assert jwks_server.fetches == 1

    clock.advance(seconds=1)
    assert (await call(api, stranger.token())).status_code == 401
    assert jwks_server.fetches == 2  # one refresh once the interval has passed, and still no such key


async def test_fetching_the_keys_does_not_block_the_event_loop(api, jwks_server):
    key = Key("2030-01", "RS384")
    jwks_server.keys, jwks_server.hold = [key], threading.Event()
    pending = asyncio.create_task(call(api, key.token()))

    async def fetch_started():
        return jwks_server.fetches == 1
    await wait_for(fetch_started)
    # While the key set is on its way, the same event loop answers other requests.
    assert (await api.get("/healthz")).status_code == 200
    jwks_server.hold.set()
    assert (await pending).status_code == 200
    assert not jwks_server.hold_expired, "the key fetch held the event loop until the server gave up waiting"
