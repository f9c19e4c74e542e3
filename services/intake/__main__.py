"""python -m services.intake"""
import os
import tempfile

# With several MLLP worker processes, metrics are aggregated across them through files, which
# prometheus_client requires to be configured before it is first imported.
if int(os.environ.get("INTAKE_MLLP_WORKERS", "1")) > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="peerbridge-intake-metrics-")

from services.runtime.service import run_service  # noqa: E402

from .app import create_app  # noqa: E402
from .domain.rules import RulesError  # noqa: E402
from .settings import IntakeSettings  # noqa: E402

settings = IntakeSettings()
try:
    app = create_app(settings)
except RulesError as exc:  # the program's rule file is wrong: say where, without a traceback, and do not start
    raise SystemExit(f"intake: {exc}") from None
run_service("intake", app, settings, settings.port)

if os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").startswith(tempfile.gettempdir() + "/peerbridge-intake-metrics-"):
    import shutil

    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
