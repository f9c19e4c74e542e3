"""Benchmark: the peer app's pages on the running stack: HTML size, server time, and first render in Chromium.

Makes its own peer (a specialist on shift at a fresh facility, an overdose visit offered to them, a console account),
then fetches each page 30 times over HTTP and loads each once in headless Chromium (390 x 844), reading the
browser's navigation timing and first contentful paint. Targets: HTML < 100 kB, first render < 1 s.

    .venv/bin/python bench/console_pages.py      (after make up; ports from the same environment as the stack)
"""
from __future__ import annotations

import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.console.settings import ConsoleSettings  # noqa: E402
from services.runtime.auth import issue_token, local_secret  # noqa: E402
from services.runtime.npi import is_valid_npi  # noqa: E402

S = ConsoleSettings()
CONSOLE = f"http://127.0.0.1:{S.port}"
INTAKE = f"http://127.0.0.1:{os.environ.get('INTAKE_PORT', '8001')}"


def bearer(role: str) -> dict:
    token = issue_token(local_secret(S.jwt_secret, S.jwt_secret_file), role=role, issuer=S.jwt_issuer,
                        audience=S.jwt_audience, ttl_seconds=600)
    return {"Authorization": f"Bearer {token}"}


def npi() -> str:
    while True:
        candidate = "1" + "".join(random.choice("0123456789") for _ in range(9))
        if is_valid_npi(candidate):
            return candidate


def setup() -> tuple[str, str, str]:
    facility = "B" + uuid.uuid4().hex[:6].upper()
    today = datetime.now(timezone.utc).date()
    body = {"name": "Bench Peer", "npi": npi(), "languages": ["en", "es"], "facilities": [facility],
            "certifications": [{"kind": "CPRS", "number": "B1", "expires_on": str(today + timedelta(days=400))}],
            "recovery_since": "2012-01-01", "pathways": ["MOUD-supportive"], "lived_experience": ["opioids"]}
    sid = httpx.post(f"{S.pairing_url}/specialists", json=body, headers=bearer("admin")).json()["id"]
    httpx.put(f"{S.pairing_url}/specialists/{sid}/shifts", json=[{"facility": facility, "pattern": "24/7"}],
              headers=bearer("admin")).raise_for_status()
    visit = {"facility": facility, "visit_number": "V" + uuid.uuid4().hex[:8], "location": "ED", "bed": "7",
             "language": "es", "diagnoses": ["T40.1X1A"],
             "arrived_at": (datetime.now(timezone.utc) - timedelta(minutes=20)).isoformat()}
    httpx.post(f"{INTAKE}/visits", json=visit, headers=bearer("ehr")).raise_for_status()
    for _ in range(100):
        offers = httpx.get(f"{S.pairing_url}/assignments", params={"facility": facility},
                           headers=bearer("supervisor")).json()
        if offers:
            break
        time.sleep(0.2)
    user, password = f"bench-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    subprocess.run([sys.executable, "-m", "services.runtime.cli", "console", "add-account", "--username", user,
                    "--password", password, "--role", "peer", "--specialist", sid], check=True, capture_output=True)
    form = httpx.get(CONSOLE + "/")
    pre = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    r = httpx.post(CONSOLE + "/signin", data={"username": user, "password": password, "csrf": pre, "next": ""},
                   headers={"Cookie": f"pb_signin={pre}"})
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("pb_session=")).split(";")[0]
    return cookie.split("=", 1)[1], offers[0]["id"], offers[0]["case_id"]


def main() -> None:
    cookie, offer_id, _case = setup()
    pages = ["/peer", "/peer/now/offers", f"/peer/offers/{offer_id}", "/peer/cases", "/peer/shifts", "/offline"]
    print(f"{'page':<28}{'bytes':>8}{'median ms':>11}{'p95 ms':>9}")
    with httpx.Client(headers={"Cookie": f"pb_session={cookie}"}) as client:
        for page in pages:
            times, size = [], 0
            for _ in range(30):
                started = time.perf_counter()
                r = client.get(CONSOLE + page)
                times.append((time.perf_counter() - started) * 1000)
                size = len(r.content)
            times.sort()
            print(f"{page[:27]:<28}{size:>8}{statistics.median(times):>11.1f}{times[int(len(times) * .95) - 1]:>9.1f}")
    try:
        from tests.support.browser import chromium
    except ImportError:
        print("browser: selenium not installed (pip install -e '.[test]')")
        return
    with tempfile.TemporaryDirectory() as profile:
        driver = chromium(Path(profile))
        try:
            driver.get(CONSOLE + "/offline")
            driver.add_cookie({"name": "pb_session", "value": cookie, "path": "/"})
            print(f"{'first render (Chromium)':<28}{'DOM ready ms':>13}{'first paint ms':>16}")
            for page in pages[:1] + pages[2:]:
                driver.get(CONSOLE + page)
                nav, paint = driver.execute_script(
                    "const n = performance.getEntriesByType('navigation')[0];"
                    "const p = performance.getEntriesByName('first-contentful-paint')[0];"
                    "return [n.domContentLoadedEventEnd, p ? p.startTime : null];")
                painted = f"{paint:.0f}" if paint else "-"
                print(f"{page[:27]:<28}{nav:>13.0f}{painted:>16}")
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
