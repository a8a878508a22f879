"""deploy/compose.yaml: valid Compose, and a stack whose parts actually find each other.

The file is checked against the Compose Specification's JSON schema as check-jsonschema vendors it
(`--builtin-schema vendor.compose-spec`, no network). The schema cannot see across files, so the scenarios
below follow each connection: the migration before the gateway, the bridge to the service, traces to the
collector and on to Tempo, Prometheus to both /metrics, Grafana to its data sources and dashboard.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
GATEWAY = ("migrate", "service", "bridge")


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / name).read_text())


def host_port(address: str) -> tuple[str, int]:
    """'http://h:1', 'dns:///h:1' or 'h:1' → ('h', 1)."""
    if "//" in address:
        address = address.split("//", 1)[1].lstrip("/")
    host, port = address.rsplit(":", 1)
    return host, int(port.split("/")[0])


def test_the_file_satisfies_the_compose_specification() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_the_schema_check_catches_a_misspelt_key_and_a_bad_condition(tmp_path: Path) -> None:
    """The validator is not vacuous: the same file with two typos fails it."""
    broken = tmp_path / "compose.yaml"
    text = COMPOSE.read_text().replace("stop_grace_period:", "stop_grace_periods:").replace(
        "service_completed_successfully", "service_finished"
    )
    broken.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "stop_grace_periods" in result.stdout and "service_finished" in result.stdout


def test_the_bridge_and_the_service_run_apart_from_the_one_image_built_here() -> None:
    s = services()
    for name in GATEWAY:
        assert s[name]["image"] == "responses-gateway:local", name
        assert s[name]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}, name
        assert (DEPLOY / s[name]["build"]["context"]).resolve() == DEPLOY.parent
    assert s["service"]["command"] == ["responses-gateway", "serve", "grpc"]
    assert s["bridge"]["command"] == ["responses-gateway", "serve", "bridge"]
    # The bridge dials the service the way it does on Kubernetes.
    target = s["bridge"]["environment"]["RG_BACKEND_TARGET"]
    assert target.startswith("dns:///")
    assert host_port(target) == ("service", int(s["service"]["environment"]["RG_GRPC_PORT"]))
    assert s["service"]["environment"]["RG_GRPC_HOST"] == s["bridge"]["environment"]["RG_HTTP_HOST"] == "0.0.0.0"


def test_the_migration_runs_once_before_the_gateway_starts() -> None:
    s = services()
    migrate = s["migrate"]
    assert migrate["command"] == ["responses-gateway", "migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert s["service"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert s["service"]["environment"]["RG_MIGRATE_ON_START"] == "false"
    assert s["bridge"]["depends_on"]["service"]["condition"] == "service_healthy"
    # Migration and service use one database, PostgreSQL's.
    url = migrate["environment"]["RG_DATABASE_URL"]
    assert url == s["service"]["environment"]["RG_DATABASE_URL"]
    parts = urlsplit(url)
    assert parts.scheme == "postgresql+asyncpg" and parts.hostname == "postgres" and parts.port == 5432
    postgres = s["postgres"]["environment"]
    assert (parts.username, parts.password, parts.path.lstrip("/")) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
        postgres["POSTGRES_DB"],
    )
    assert host_port(s["service"]["environment"]["RG_REDIS_URL"].rsplit("/", 1)[0]) == ("redis", 6379)


def test_every_dependency_exists_and_each_one_waited_on_as_healthy_has_a_healthcheck() -> None:
    s = services()
    for name, service in s.items():
        for dependency, how in service.get("depends_on", {}).items():
            assert dependency in s, f"{name} depends on unknown {dependency}"
            if how["condition"] == "service_healthy":
                assert s[dependency]["healthcheck"]["test"], f"{name} waits for {dependency} to be healthy"


def test_the_gateway_containers_are_hardened_and_drain_on_stop() -> None:
    s = services()
    for name in ("service", "bridge"):
        container = s[name]
        assert container["read_only"] is True and "/tmp" in container["tmpfs"], name
        assert container["cap_drop"] == ["ALL"] and "no-new-privileges:true" in container["security_opt"], name
        grace = int(container["environment"]["RG_SHUTDOWN_GRACE_SECONDS"])
        assert int(container["stop_grace_period"].removesuffix("s")) > grace, name


def test_files_and_named_volumes_the_services_mount_exist() -> None:
    declared = set(compose().get("volumes", {}))
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} mounts undeclared volume {source}"


def test_only_loopback_ports_are_published() -> None:
    for name, service in services().items():
        for mapping in service.get("ports", []):
            assert mapping.startswith("127.0.0.1:"), f"{name} publishes {mapping} beyond this machine"


def test_prometheus_scrapes_the_bridge_and_the_service_where_each_serves_metrics() -> None:
    s = services()
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in s["prometheus"]["volumes"]
    assert "--enable-feature=exemplar-storage" in s["prometheus"]["command"]
    jobs = {job["job_name"]: job for job in load("prometheus.yml")["scrape_configs"]}
    targets = {name: [host_port(t) for c in job["static_configs"] for t in c["targets"]] for name, job in jobs.items()}
    bridge, service = s["bridge"]["environment"], s["service"]["environment"]
    # The bridge has no metrics_port, so /metrics is on its HTTP port; `serve grpc` serves it only on metrics_port.
    assert "RG_METRICS_PORT" not in bridge
    assert targets["responses-gateway-bridge"] == [("bridge", int(bridge["RG_HTTP_PORT"]))]
    assert targets["responses-gateway-service"] == [("service", int(service["RG_METRICS_PORT"]))]
    assert all(job.get("metrics_path", "/metrics") == "/metrics" for job in jobs.values())


def test_traces_go_from_both_processes_to_the_collector_and_on_to_tempo() -> None:
    s = services()
    collector = load("otel-collector.yaml")
    receiver = host_port(collector["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"])
    for name in ("service", "bridge"):
        assert host_port(s[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]) == ("otel-collector", receiver[1]), name
    assert "./otel-collector.yaml:/etc/otelcol/config.yaml:ro" in s["otel-collector"]["volumes"]
    assert "--config=/etc/otelcol/config.yaml" in s["otel-collector"]["command"]

    pipeline = collector["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    assert set(pipeline["processors"]) <= set(collector["processors"])
    (exporter,) = pipeline["exporters"]
    tempo = load("tempo.yaml")
    tempo_otlp = host_port(tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"])
    assert host_port(collector["exporters"][exporter]["endpoint"]) == ("tempo", tempo_otlp[1])
    assert "./tempo.yaml:/etc/tempo/tempo.yaml:ro" in s["tempo"]["volumes"]


def test_grafana_is_provisioned_with_the_dashboard_and_data_sources_that_reach_this_stack() -> None:
    s = services()
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in s["grafana"]["volumes"] if v.startswith("."))
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    providers = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/dashboards.yaml").read_text())["providers"]
    assert mounts["./grafana/dashboards"] == providers[0]["options"]["path"]
    assert (DEPLOY / "grafana/dashboards/responses-gateway.json").is_file()

    sources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/datasources.yaml").read_text())["datasources"]
    listening = {"prometheus": 9090, "tempo": int(load("tempo.yaml")["server"]["http_listen_port"])}
    for source in sources:
        host, port = host_port(source["url"])
        assert host in s, f"data source {source['name']} points at {host}, no service of this stack"
        assert listening[host] == port, source["name"]
