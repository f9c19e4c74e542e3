"""HL7's FHIR validator (deploy/fhir-validator) as one process per test session, and assert_valid_fhir."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

from tests.support.stack import ROOT

SCRIPT = ROOT / "deploy" / "fhir-validator" / "validator.sh"
FAILING = {"error", "fatal"}


def available() -> bool:
    return bool(shutil.which("java") and shutil.which("mvn"))


class FhirValidator:
    """One JVM with the R4 core definitions loaded; resources go in one JSON line at a time."""

    def __init__(self) -> None:
        # Java and Maven are installed by deploy/local/prereqs.sh (make test); without them this must fail, not skip.
        assert available(), "the FHIR validator needs Java and Maven"
        self._log = tempfile.NamedTemporaryFile(prefix="fhir-validator-", suffix=".log")
        self._lock = threading.Lock()
        self._proc = subprocess.Popen([str(SCRIPT), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=self._log, text=True, encoding="utf-8", bufsize=1,
                                      start_new_session=True)
        self._ready = False  # the JVM loads the R4 definitions meanwhile; the first resource waits for it

    def _wait_ready(self) -> None:
        if not self._ready:
            if self._proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the FHIR validator did not start: {self._tail()}")
            self._ready = True

    def _tail(self) -> str:
        return Path(self._log.name).read_text(errors="replace")[-2000:]

    def issues(self, resource: dict) -> list[dict]:
        """The validator's issues (OperationOutcome.issue) for one resource."""
        line = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))  # JSON escapes every newline
        with self._lock:
            self._wait_ready()
            self._proc.stdin.write(line + "\n")
            self._proc.stdin.flush()
            answer = self._proc.stdout.readline()
        if not answer:
            raise RuntimeError(f"the FHIR validator stopped: {self._tail()}")
        return json.loads(answer).get("issue", [])

    def close(self) -> None:
        """End of input ends the JVM; a session that ends while the jars are still being fetched stops the fetch."""
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, signal.SIGTERM)
            self._proc.wait(timeout=30)
        self._log.close()


def describe(issue: dict) -> str:
    where = ", ".join(issue.get("expression", [])) or "?"
    return f"{issue['severity']}: {where}: {issue.get('diagnostics', '')}"


def check(validator: FhirValidator, resource: dict) -> None:
    """Fail with the validator's messages when it reports an error or fatal issue; print its warnings."""
    issues = validator.issues(resource)
    failing = [describe(i) for i in issues if i["severity"] in FAILING]
    for issue in issues:
        if issue["severity"] not in FAILING:
            print(f"FHIR validator on {resource.get('resourceType')}: {describe(issue)}")
    assert not failing, (f"the FHIR validator found {len(failing)} error(s) in {resource.get('resourceType')}:\n"
                         + "\n".join(failing))
