"""A hospital for push tests: a HAPI FHIR server (deploy/hapi) and, when secured, the SMART authorization server
whose tokens it requires (tests/support/smart_authz.py), with the client registrations it holds for us."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx

from services.referral.smart import PUSHED_TYPES, SmartAuth, SmartClientConfig
from services.runtime.clock import SystemClock
from tests.support.smart import AuthzServer, client_key
from tests.support.stack import ROOT, free_port

HAPI = ROOT / "deploy" / "hapi" / "hapi.sh"


class Hapi:
    """A HAPI FHIR server process started from deploy/hapi/hapi.sh."""

    def __init__(self, port: int | None = None, introspect_url: str | None = None):
        self.port = port or free_port()
        self.state = tempfile.mkdtemp(prefix="hapi-")
        self.env = {**os.environ, "HAPI_PORT": str(self.port), "STATE_DIR": self.state}
        if introspect_url:  # the server then requires a bearer token the authorization server issued
            self.env["HAPI_INTROSPECT_URL"] = introspect_url
        self.url = f"http://127.0.0.1:{self.port}/fhir"
        self.headers: dict[str, str] = {}  # what the test's own reads carry (a token, for a secured server)

    def start(self) -> "Hapi":
        subprocess.run([str(HAPI), "start"], env=self.env, check=True, stdout=subprocess.DEVNULL)
        return self

    def stop(self) -> None:
        subprocess.run([str(HAPI), "stop"], env=self.env, check=False)
        shutil.rmtree(self.state, ignore_errors=True)

    def versions(self, rtype: str, rid: str) -> int:
        """How many versions of a resource the server holds: one per transaction that wrote it."""
        return httpx.get(f"{self.url}/{rtype}/{rid}/_history", headers=self.headers).json()["total"]

    def find(self, rtype: str, identifier: str) -> list[dict]:
        bundle = httpx.get(f"{self.url}/{rtype}", params={"_count": 1000}, headers=self.headers).json()
        return [e["resource"] for e in bundle.get("entry", [])
                if any(f"{i['system']}|{i['value']}" == identifier for i in e["resource"].get("identifier", []))]


class Hospital:
    """A hospital as the push meets it: its authorization server, its FHIR server requiring that server's tokens,
    and the client registrations (keys, scopes) it holds for us."""

    def __init__(self):
        self.authz = AuthzServer()
        keys = Path(self.authz.dir)
        self.rsa = client_key(keys, "peerbridge-rs", "RS384")
        self.ec = client_key(keys, "peerbridge-ec", "ES384")
        self.reader = client_key(keys, "auditor", "ES384")
        v1 = [f"system/{t}.write" for t in PUSHED_TYPES]
        v2 = [f"system/{t}.cus" for t in PUSHED_TYPES]
        self.authz.register("peerbridge-v1", [self.rsa], v1)
        self.authz.register("peerbridge-v2", [self.ec], v2)
        self.authz.register("auditor", [self.reader], ["system/*.read"])
        self.authz.register("narrow", [self.rsa], ["system/Task.write"])
        self.hapi = Hapi(introspect_url=f"{self.authz.url}/introspect")

    def client(self, client_id: str, key, **extra) -> dict:
        """A facility's SMART client registration as the referral service is configured with it."""
        return {"token_url": self.authz.token_url, "client_id": client_id, "kid": key.kid,
                "private_key_file": str(key.pem_file), "alg": key.alg, **extra}

    async def read_as_auditor(self) -> None:
        """Give the test's own reads of the FHIR server a token of the hospital's auditor client."""
        async with httpx.AsyncClient() as http:
            auth = SmartAuth({"x": SmartClientConfig(**self.client("auditor", self.reader, scopes=["system/*.read"]))},
                             SystemClock(), http)
            self.hapi.headers = {"Authorization": f"Bearer {await auth.token('x')}"}



    def start(self) -> "Hospital":
        self.authz.start()
        self.hapi.start()
        return self

    def stop(self) -> None:
        self.hapi.stop()
        self.authz.stop()
