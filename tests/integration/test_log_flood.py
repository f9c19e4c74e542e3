"""A broker outage under a running client: a few JSON lines, all on the allow-list, instead of a flood of text."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter

import pytest

from services.runtime.logs import SAFE_KEYS
from tests.support.stack import ROOT, own_kafka

pytestmark = pytest.mark.integration
INTERVAL = 2.0


def wait_for_text(path, predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate(path.read_text(errors="replace")):
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {timeout}s:\n{path.read_text(errors='replace')[-2000:]}")
        time.sleep(0.2)


def test_a_broker_outage_writes_one_allow_listed_json_line_per_interval_for_each_repeated_message(tmp_path):
    log = tmp_path / "probe.log"
    with own_kafka() as broker, open(log, "wb") as out:
        started = time.monotonic()
        probe = subprocess.Popen([sys.executable, "-m", "tests.support.log_probe", "--bootstrap", broker.bootstrap,
                                  "--topic", "probe", "--repeat-seconds", str(INTERVAL)],
                                 cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_text(log, lambda text: "probe_started" in text)
            broker.run("stop")
            # The client keeps failing to reach the broker; wait until a line says repeats were suppressed.
            wait_for_text(log, lambda text: '"suppressed"' in text)
            broker.run("start")
        finally:
            probe.terminate()
            probe.wait(timeout=30)
        elapsed = time.monotonic() - started
    lines = [line for line in log.read_text().splitlines() if line != "probe_started"]
    records = [json.loads(line) for line in lines]  # every line is JSON
    assert records and all(set(r) <= SAFE_KEYS | {"dropped_keys"} for r in records)
    kinds = Counter((r["logger"], r["level"], r["event"]) for r in records)
    assert max(kinds.values()) <= elapsed / INTERVAL + 1, kinds
    assert sum(r.get("suppressed", 0) for r in records) > 0
