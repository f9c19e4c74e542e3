"""The deployment validators: helm (built by deploy/local/validators.sh) and the venv's PyPI ones."""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "peerbridge"
COMPOSE = ROOT / "deploy" / "compose" / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
BIN = Path(sys.executable).parent
# The Kubernetes version whose JSON schemas (bundled by kubernetes-validate, PyPI) the chart is checked against:
# the oldest the chart supports that the package still bundles.
KUBERNETES_VERSION = "1.33.0"
# Values a real install must give (the chart refuses to render without them).
# helm built by `go install` has no cluster version stamped in (it would assume 1.20): name the one checked against.
KUBE = ["--kube-version", KUBERNETES_VERSION]
REQUIRED = ["--set", "database.url=postgresql://peerbridge:pw@db:5432/peerbridge", "--set", "jwt.secret=test-secret"]


def go_tool(name: str) -> str:
    """The path of a validator deploy/local/validators.sh builds; fails naming the command that builds it."""
    path = subprocess.run([str(ROOT / "deploy" / "local" / "validators.sh"), "path", name], check=True,
                          capture_output=True, text=True).stdout.strip()
    assert Path(path).is_file(), f"{name} is missing: run deploy/local/validators.sh fetch (make test does)"
    return path


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), input=stdin, capture_output=True, text=True, timeout=120)


def helm_template(*extra: str) -> subprocess.CompletedProcess:
    return run(go_tool("helm"), "template", "pb", str(CHART), *KUBE, *extra)


def kubernetes_validate(manifests: str) -> subprocess.CompletedProcess:
    """kubernetes-validate --strict (unknown fields refused) over a stream of manifests."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(manifests)
        f.flush()
        return run(str(BIN / "kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, f.name)


def check_jsonschema(*args: str) -> subprocess.CompletedProcess:
    return run(str(BIN / "check-jsonschema"), *args)


def hadolint(path: Path) -> subprocess.CompletedProcess:
    return run(str(BIN / "hadolint"), "--failure-threshold", "info", str(path))
