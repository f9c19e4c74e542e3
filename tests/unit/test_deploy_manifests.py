"""The Dockerfile, the Compose file and the Helm chart pass their validators and give operators what they need."""
from __future__ import annotations

import re
from importlib import import_module
from importlib.metadata import entry_points

import pytest
import yaml

from tests.support import validators as v

pytestmark = pytest.mark.unit

SERVICES = sorted(e.name for e in entry_points(group="peerbridge.services"))
CONSUMERS = {"pairing", "referral", "billing", "notify"}  # services that read topics (see the README's table)


@pytest.fixture(scope="module")
def rendered() -> list[dict]:
    out = v.helm_template(*v.REQUIRED, "--set", "serviceMonitor.enabled=true")
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_the_chart_passes_helm_lint_strict():
    out = v.run(v.go_tool("helm"), "lint", "--strict", str(v.CHART), *v.KUBE, *v.REQUIRED)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 chart(s) failed" in out.stdout


def test_the_rendered_chart_is_valid_kubernetes(rendered):
    core = [d for d in rendered if d["kind"] != "ServiceMonitor"]
    out = v.kubernetes_validate(yaml.safe_dump_all(core))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("INFO") == len(core), out.stdout  # one "validated" line per document


def test_the_schema_validator_refuses_an_unknown_field(rendered):
    deployment = next(d for d in rendered if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    out = v.kubernetes_validate(yaml.safe_dump(deployment))
    assert out.returncode != 0 and "httpGett" in out.stdout


def test_the_chart_refuses_to_render_without_database_and_jwt_secrets():
    out = v.helm_template()
    assert out.returncode != 0 and "database.url or database.existingSecret is required" in out.stderr
    out = v.helm_template("--set", "database.existingSecret=db", "--set", "jwt.existingSecret=jwt")
    assert out.returncode == 0, out.stderr
    assert "kind: Secret" not in out.stdout  # the operator's own Secrets are referenced, none rendered


def test_every_service_is_a_deployment_probed_limited_non_root_with_secrets_from_secrets(rendered):
    deployments = by_kind(rendered, "Deployment")
    assert sorted(deployments) == [f"pb-peerbridge-{s}" for s in SERVICES]
    secrets = by_kind(rendered, "Secret")
    assert set(secrets["pb-peerbridge-database"]["stringData"]) == {"DATABASE_URL"}
    assert set(secrets["pb-peerbridge-jwt"]["stringData"]) == {"PEERBRIDGE_JWT_SECRET"}
    for name, d in deployments.items():
        pod = d["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        assert c["args"] == [name.removeprefix("pb-peerbridge-")]
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert {"cpu", "memory"} <= set(c["resources"]["requests"]) & set(c["resources"]["limits"])
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        env = {e["name"]: e for e in c["env"]}
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "pb-peerbridge-database"
        assert env["PEERBRIDGE_JWT_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "pb-peerbridge-jwt"
        assert env["PEERBRIDGE_HOST"]["value"] == "0.0.0.0"


def test_disruption_budgets_for_all_autoscalers_for_the_consumers(rendered):
    assert sorted(by_kind(rendered, "PodDisruptionBudget")) == [f"pb-peerbridge-{s}" for s in SERVICES]
    hpas = by_kind(rendered, "HorizontalPodAutoscaler")
    assert sorted(hpas) == sorted(f"pb-peerbridge-{s}" for s in CONSUMERS)
    for name, hpa in hpas.items():
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert "replicas" not in by_kind(rendered, "Deployment")[name]["spec"]  # the HPA owns the count


def test_mllp_is_a_tcp_service_and_http_ports_match_the_services_settings(rendered):
    services = by_kind(rendered, "Service")
    (mllp,) = services["pb-peerbridge-intake-mllp"]["spec"]["ports"]
    assert (mllp["port"], mllp["protocol"], mllp["targetPort"]) == (2575, "TCP", "mllp")
    from services.intake.settings import IntakeSettings
    assert IntakeSettings().mllp_port == 2575
    values = yaml.safe_load((v.CHART / "values.yaml").read_text())
    for s in SERVICES:
        settings = __import__(f"services.{s}.settings", fromlist=["x"])
        (cls,) = [c for n, c in vars(settings).items() if n.endswith("Settings") and n.lower() == f"{s}settings"]
        assert values["services"][s]["port"] == cls.model_fields["port"].default
        assert services[f"pb-peerbridge-{s}"]["spec"]["ports"][0]["port"] == values["services"][s]["port"]


def test_the_service_monitor_is_optional_and_scrapes_metrics(rendered):
    (monitor,) = by_kind(rendered, "ServiceMonitor").values()
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
    out = v.helm_template(*v.REQUIRED)
    assert "ServiceMonitor" not in out.stdout


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_serves_the_probed_endpoints(service):
    app = import_module(f"services.{service}.app").create_app()
    paths = {getattr(route, "path", None) for route in app.routes}
    assert {"/healthz", "/readyz", "/metrics"} <= paths


def test_the_compose_file_passes_the_compose_specification_schema():
    out = v.check_jsonschema("--builtin-schema", "vendor.compose-spec", str(v.COMPOSE))
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_compose_schema_refuses_a_misspelt_key(tmp_path):
    broken = tmp_path / "compose.yml"
    broken.write_text(v.COMPOSE.read_text().replace("healthcheck: *ready", "healthchek: *ready", 1))
    out = v.check_jsonschema("--builtin-schema", "vendor.compose-spec", str(broken))
    assert out.returncode != 0 and "healthchek" in out.stdout


def test_compose_runs_kraft_kafka_postgres_15_and_every_service_with_a_health_check():
    compose = yaml.safe_load(v.COMPOSE.read_text())
    services = compose["services"]
    brokers = [s for s in services.values() if str(s.get("image", "")).startswith("apache/kafka:")]
    assert len(brokers) == 3
    assert all(b["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller" for b in brokers)
    assert services["postgres"]["image"] == "postgres:15"
    for s in SERVICES:
        assert services[s]["command"] == [s]
        assert "/readyz" in " ".join(services[s]["healthcheck"]["test"])
    assert all("healthcheck" in services[n] for n in ["postgres", *[k for k in services if k.startswith("kafka")]])


def test_the_dockerfile_passes_hadolint():
    out = v.hadolint(v.DOCKERFILE)
    assert out.returncode == 0, out.stdout + out.stderr


def test_hadolint_refuses_an_unpinned_base_image(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install peerbridge\n")
    out = v.hadolint(bad)
    assert out.returncode != 0 and "DL3006" in out.stdout


def test_one_multi_stage_image_non_root_without_build_tools_that_runs_each_service():
    text = v.DOCKERFILE.read_text()
    stages = re.split(r"(?m)^FROM ", text)[1:]
    assert len(stages) >= 2
    final = stages[-1]
    assert re.search(r"(?m)^USER 10001", final)
    for tool in ("pip install", "apt-get install", "gcc", "build-essential"):
        assert tool not in final
    assert "pip uninstall" in final  # even the base image's pip goes
    entry = (v.ROOT / "deploy" / "docker" / "entrypoint.sh").read_text()
    (names,) = re.findall(r"^\s+([a-z|]+)\)\n\s+shift", entry, re.M)
    assert sorted(names.split("|")) == SERVICES
