"""A local OpenID Connect provider for tests: discovery, JWKS, authorize (pick a user), token with PKCE S256.

usage: python -m tests.support.fake_idp PORT USERS_JSON   (users: {"name": {"name", "roles", ...claims}}, read on
each sign-in so a test can add users while it runs). Only for tests on this machine; it signs whatever is chosen.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "fake-idp-1"
CLIENT_ID = "peerbridge-console"
CODES: dict[str, dict] = {}


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class Provider(BaseHTTPRequestHandler):
    issuer = ""
    users_file = Path()

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: bytes, kind: str = "application/json", headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, doc: dict):
        self._send(status, json.dumps(doc).encode())

    def do_GET(self):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/.well-known/openid-configuration":
            return self._json(200, {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                                    "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                                    "response_types_supported": ["code"],
                                    "code_challenge_methods_supported": ["S256"]})
        if url.path == "/jwks":
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
            return self._json(200, {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]})
        if url.path == "/authorize":
            if q.get("client_id") != CLIENT_ID or q.get("code_challenge_method") != "S256" or not q.get(
                    "code_challenge") or q.get("response_type") != "code":
                return self._send(400, b"bad authorization request", "text/plain")
            users = json.loads(self.users_file.read_text())
            options = "".join(f'<option value="{html.escape(u)}">{html.escape(u)}</option>' for u in users)
            hidden = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in q.items())
            page = (f'<!doctype html><html lang="en"><title>Hospital sign-in</title><main><h1>Hospital sign-in</h1>'
                    f'<form action="/approve"><label for="user">Who</label><select id="user" name="user">{options}'
                    f'</select>{hidden}<button type="submit">Sign in</button></form></main></html>')
            return self._send(200, page.encode(), "text/html; charset=utf-8")
        if url.path == "/approve":
            code = secrets.token_urlsafe(16)
            CODES[code] = q
            target = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
            return self._send(302, b"", "text/plain", {"Location": target})
        return self._send(404, b"not found", "text/plain")

    def do_POST(self):
        if urlparse(self.path).path != "/token":
            return self._send(404, b"not found", "text/plain")
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
        grant = CODES.pop(form.get("code", ""), None)  # a code is good once
        if (grant is None or form.get("redirect_uri") != grant["redirect_uri"] or form.get("client_id") != CLIENT_ID
                or s256(form.get("code_verifier", "")) != grant["code_challenge"]):
            return self._json(400, {"error": "invalid_grant"})
        user = json.loads(self.users_file.read_text())[grant["user"]]
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "sub": f"sub-{grant['user']}", "iat": now, "exp": now + 300,
                  "nonce": grant["nonce"], **user}
        id_token = jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": KID})
        return self._json(200, {"id_token": id_token, "access_token": secrets.token_urlsafe(24),
                                "token_type": "Bearer", "expires_in": 300})


def main(port: int, users_file: str) -> None:
    Provider.issuer = f"http://127.0.0.1:{port}"
    Provider.users_file = Path(users_file)
    ThreadingHTTPServer(("127.0.0.1", port), Provider).serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
