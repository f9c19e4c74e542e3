"""Debian's headless Chromium driven by Selenium (chromedriver), with axe-core for accessibility checks."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.support.stack import ROOT, free_port

AXE = Path(__file__).with_name("vendor") / "axe.min.js"
CHROMIUM = os.environ.get("PEERBRIDGE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PEERBRIDGE_CHROMEDRIVER", "/usr/bin/chromedriver")
# The network is closed: nothing may try to reach Google's services, and no state leaks between runs.
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--disable-extensions", "--hide-scrollbars", "--force-device-scale-factor=1"]
PHONE = (390, 844)


def chromium(profile: Path, size: tuple[int, int] = PHONE) -> webdriver.Chrome:
    """A fresh headless Chromium whose page viewport is `size` (a phone by default)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    # The viewport, not the window, is what a phone has: set it exactly through the DevTools protocol.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": True})
    driver.set_page_load_timeout(30)
    return driver


def axe_violations(driver: webdriver.Chrome, impacts=("serious", "critical")) -> list[dict]:
    """axe-core's WCAG 2.x A/AA violations of the current page at these impacts (id, impact, help, targets)."""
    driver.execute_script(AXE.read_text())
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " targets: v.nodes.map(n => n.target.join(' '))}))), e => done([{id: 'axe-error', impact: 'critical',"
        " help: String(e), targets: []}]));")
    return [v for v in result if v["impact"] in impacts]


class Screens:
    """Screenshots of each step, kept under .local/artifacts/<test>/ (gitignored) for a person to look at."""

    def __init__(self, driver: webdriver.Chrome, test_name: str):
        self.driver = driver
        self.dir = ROOT / ".local" / "artifacts" / re.sub(r"[^A-Za-z0-9_.-]", "_", test_name)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def shot(self, name: str) -> Path:
        self.count += 1
        path = self.dir / f"{self.count:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        return path


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout}s")
        time.sleep(interval)


def add_account(env: dict, username: str, password: str, role: str, specialist: str | None = None) -> None:
    """A sign-in account made with the operator command, as an administrator would."""
    cmd = [sys.executable, "-m", "services.runtime.cli", "console", "add-account", "--username", username,
           "--password", password, "--role", role, "--name", f"Test {role}"]
    if specialist:
        cmd += ["--specialist", specialist]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def running_console(stack, extra_env: dict | None = None, name: str = "console"):
    """A console process beside a test stack (its database, secret and topic prefix): {"url", "env"}."""
    port = free_port()
    env = {**stack.env, "CONSOLE_PORT": str(port), "CONSOLE_PAIRING_URL": stack.urls["pairing"],
           "CONSOLE_REFERRAL_URL": stack.urls["referral"], "CONSOLE_BILLING_URL": stack.urls["billing"],
           "CONSOLE_POLL_SECONDS": "1", **(extra_env or {})}
    log = open(stack.log_dir / f"{name}.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "services.console"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url) or proc.poll() is not None, timeout=90, what="console ready")
        assert proc.poll() is None, (stack.log_dir / f"{name}.log").read_text()[-3000:]
        yield {"url": url, "env": env}
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
