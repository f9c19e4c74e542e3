"""Client keys and a running SMART authorization server (tests/support/smart_authz.py) for tests."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support.stack import ROOT, free_port


@dataclass
class ClientKey:
    """A client's key pair: the private key as a PEM secret file, the public one as a JWK."""

    kid: str
    alg: str
    pem_file: Path
    jwk: dict


def client_key(directory: Path, kid: str, alg: str) -> ClientKey:
    """A new RS384 (RSA 2048) or ES384 (P-384) key, its PEM written to `directory` readable by the owner only."""
    if alg == "RS384":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        private = ec.generate_private_key(ec.SECP384R1())
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    path = directory / f"{kid}.pem"
    path.write_bytes(pem)
    path.chmod(0o600)
    return ClientKey(kid, alg, path, {**jwk, "kid": kid, "alg": alg, "use": "sig"})


class AuthzServer:
    """The authorization server as a process: clients are registered before it starts (their JWKS and scopes)."""

    def __init__(self, token_seconds: int = 300):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="smart-authz-"))
        self.token_seconds = token_seconds
        self.clients: dict[str, dict] = {}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    def register(self, client_id: str, keys: list[ClientKey], scopes: list[str]) -> None:
        self.clients[client_id] = {"jwks": {"keys": [k.jwk for k in keys]}, "scopes": scopes}

    def start(self) -> "AuthzServer":
        registry = self.dir / "registry.json"
        registry.write_text(json.dumps({"clients": self.clients}))
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.support.smart_authz", "--port", str(self.port),
                                      "--registry", str(registry), "--token-seconds", str(self.token_seconds)],
                                     cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(self.dir / "stderr.log", "w"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/admin/stats", timeout=1)
                return self
            except httpx.HTTPError:
                assert self.proc.poll() is None, (self.dir / "stderr.log").read_text()
                time.sleep(0.1)
        raise RuntimeError("the authorization server did not start")

    def stats(self) -> dict:
        return httpx.get(f"{self.url}/admin/stats").json()

    def revoke_all(self) -> None:
        httpx.post(f"{self.url}/admin/revoke")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)
