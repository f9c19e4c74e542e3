"""A hospital for push tests: a HAPI FHIR JPA server on PostgreSQL (deploy/hapi) and the SMART authorization server
whose tokens its /smart/fhir base requires (tests/support/smart_authz.py), with the client registrations it holds for
us. One server per test session: its /fhir base is the open hospital, /smart/fhir the secured one."""
from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from services.referral.smart import PUSHED_TYPES, SmartAuth, SmartClientConfig
from services.runtime.clock import SystemClock
from tests.support.smart import AuthzServer, client_key
from tests.support.stack import ROOT, free_port

HAPI = ROOT / "deploy" / "hapi" / "hapi.sh"
# HAPI reuses a search's results for a minute by default; a client that needs what is there now says so.
FRESH = {"Cache-Control": "no-cache"}


def jdbc(dsn: str) -> tuple[str, str]:
    """A postgresql:// URL as HAPI's JDBC URL and user."""
    u = urlsplit(dsn)
    return f"jdbc:postgresql://{u.hostname}:{u.port or 5432}{u.path}", u.username or "postgres"


class HapiServer:
    """The HAPI FHIR JPA server process of deploy/hapi/hapi.sh, on a database of its own."""

    def __init__(self, database_url: str, introspect_url: str | None = None, java_opts: str | None = None):
        self.port = free_port()
        self.state = tempfile.mkdtemp(prefix="hapi-")
        url, user = jdbc(database_url)
        self.env = {**os.environ, "HAPI_PORT": str(self.port), "STATE_DIR": self.state, "HAPI_DB_URL": url,
                    "HAPI_DB_USER": user}
        if introspect_url:  # /smart/fhir then requires a bearer token the authorization server issued
            self.env["HAPI_INTROSPECT_URL"] = introspect_url
        if java_opts:
            self.env["HAPI_JAVA_OPTS"] = java_opts
        self.started_in: float | None = None

    def start(self) -> "HapiServer":
        began = time.monotonic()
        run = subprocess.run([str(HAPI), "start"], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
        if run.returncode:
            raise RuntimeError(f"HAPI FHIR did not start:\n{run.stderr}")
        self.started_in = time.monotonic() - began
        return self

    def stop(self) -> None:
        subprocess.run([str(HAPI), "stop"], env=self.env, check=False)
        shutil.rmtree(self.state, ignore_errors=True)

    def rss_mb(self) -> float:
        """The server's resident memory now."""
        pid = Path(self.state, "hapi", "hapi.pid").read_text().strip()
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def base(self, path: str) -> "Hapi":
        return Hapi(f"http://127.0.0.1:{self.port}/{path}")


class Hapi:
    """One FHIR base of the HAPI server as the test reads it."""

    def __init__(self, url: str):
        self.url, self.port = url, urlsplit(url).port
        self.headers: dict[str, str] = {}  # what the test's own reads carry (a token, for the secured base)

    def versions(self, rtype: str, rid: str) -> int:
        """How many versions of a resource the server holds: HAPI numbers them 1, 2, ... and deletes nothing here."""
        r = httpx.get(f"{self.url}/{rtype}/{rid}", headers={**self.headers, **FRESH})
        r.raise_for_status()
        return int(r.json()["meta"]["versionId"])

    def find(self, rtype: str, identifier: str) -> list[dict]:
        """The resources of a type with that identifier (system|value), by the server's own search."""
        r = httpx.get(f"{self.url}/{rtype}", params={"identifier": identifier, "_count": 100},
                      headers={**self.headers, **FRESH})
        r.raise_for_status()
        return [e["resource"] for e in r.json().get("entry", [])]


class Relay:
    """A TCP relay to a port, listening only from start(): a hospital server that is down until the test says."""

    def __init__(self, target_port: int):
        self.port, self.target = free_port(), target_port
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()
        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))


class Hospital:
    """A hospital as the push meets it: its authorization server, its FHIR server requiring that server's tokens
    (`hapi`; `open` is the same server without them), and the client registrations (keys, scopes) it holds for us."""

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
        self.server: HapiServer | None = None

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

    def start(self, database_url: str) -> "Hospital":
        self.authz.start()
        self.server = HapiServer(database_url, introspect_url=f"{self.authz.url}/introspect").start()
        self.hapi, self.open = self.server.base("smart/fhir"), self.server.base("fhir")
        return self

    def stop(self) -> None:
        if self.server:
            self.server.stop()
        self.authz.stop()
