"""Run the four services as real processes on free ports, against the test broker and database."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from services.runtime.auth import issue_token
from tests.support.stack import ROOT, free_port

SERVICES = ("intake", "pairing", "referral", "billing", "notify")


@dataclass
class RunningStack:
    """The services' base URLs, a token maker, and the processes behind them."""

    urls: dict[str, str]
    env: dict[str, str]
    secret: str
    log_dir: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def token(self, role: str, specialist_id: str | None = None) -> str:
        return issue_token(self.secret, role=role, issuer="peerbridge-local", audience="peerbridge",
                           specialist_id=specialist_id)

    def headers(self, role: str, specialist_id: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, specialist_id)}"}

    def logs(self) -> str:
        """Everything the services have logged so far."""
        return "".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))

    def log_lines(self, event: str, **fields: str) -> list[dict]:
        """The JSON log lines of one event whose fields have these values (a test's own facility, say)."""
        found = []
        for line in self.logs().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("event") == event and all(
                    entry.get(k) == v for k, v in fields.items()):
                found.append(entry)
        return found

    def counter(self, name: str, metric: str, **labels: str) -> float:
        """The sum of a service's Prometheus samples `metric` whose labels include these (0 when none)."""
        text = httpx.get(f"{self.urls[name]}/metrics").text
        return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
                   if sample.name == metric and labels.items() <= sample.labels.items())

    def start(self, name: str) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", f"services.{name}"], cwd=ROOT, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        for name, url in self.urls.items():
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                proc = self.procs.get(name)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.logs()[-3000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not ready in {timeout}s:\n{self.logs()[-3000:]}")
                time.sleep(0.2)


def start_services(kafka_bootstrap: str, database_url: str, log_dir: Path, extra_env: dict | None = None,
                   names: tuple[str, ...] = SERVICES) -> RunningStack:
    """Start services (all by default) with their own ports, a topic prefix of their own and a fresh secret."""
    ports = {name: free_port() for name in names}
    secret = secrets.token_urlsafe(32)
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DATABASE_URL": database_url,
           "PEERBRIDGE_TOPIC_PREFIX": f"e2e{uuid.uuid4().hex[:8]}.", "PEERBRIDGE_JWT_SECRET": secret,
           "PEERBRIDGE_RELAY_POLL_SECONDS": "0.2", "PEERBRIDGE_LOG_LEVEL": "DEBUG",
           "INTAKE_MLLP_PORT": str(free_port()), **(extra_env or {})}
    for name, port in ports.items():
        env[f"{name.upper()}_PORT"] = str(port)
    if "pairing" in ports:  # where ConsentRecorded says a consent's signature is read
        env["PAIRING_PUBLIC_URL"] = f"http://127.0.0.1:{ports['pairing']}"
    if "intake" in ports:
        env["BILLING_INTAKE_URL"] = f"http://127.0.0.1:{ports['intake']}"
    log_dir.mkdir(parents=True, exist_ok=True)
    stack = RunningStack({n: f"http://127.0.0.1:{p}" for n, p in ports.items()}, env, secret, log_dir)
    for name in names:
        stack.start(name)
    try:
        stack.wait_ready()
    except Exception:
        stop_services(stack)
        raise
    return stack


def stop_services(stack: RunningStack) -> None:
    for name in list(stack.procs):
        stack.stop(name)
