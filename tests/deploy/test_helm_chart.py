"""The Helm chart in helm/responses-gateway: it lints, renders objects Kubernetes accepts, and renders the right ones.

Every value set (the defaults and each ci/*-values.yaml, chart-testing's convention) goes through
`helm lint --strict`, `helm template` and `kubernetes-validate --strict` against KUBERNETES_VERSION, the
newest release kubernetes-validate carries schemas for. The scenarios below then read the rendered objects.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.helm import ROOT, Helm, HelmUnavailable, helm_binary

CHART = ROOT / "helm" / "responses-gateway"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
VALUE_SETS: dict[str, Path | None] = {"default": None, **{p.name.removesuffix("-values.yaml"): p for p in CI_VALUES}}
KUBERNETES_VERSION = "1.37.0"
NAMESPACE = "gateway"
RELEASE = "rg"
FULLNAME = "rg-responses-gateway"
GRPC_HOST = f"{FULLNAME}-grpc.{NAMESPACE}.svc.cluster.local"
# Kinds from CustomResourceDefinitions: kubernetes-validate has only Kubernetes' own schemas, so these are
# checked against CRD_SCHEMAS below instead.
CRD_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}


@pytest.fixture(scope="module")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    try:
        binary = helm_binary()
    except HelmUnavailable as exc:
        pytest.skip(f"no helm binary: {exc}")
    return Helm(binary, tmp_path_factory.mktemp("helm-home"))


def values_args(values: Path | None, sets: tuple[str, ...] = ()) -> list[str]:
    args = ["-f", str(values)] if values else []
    for assignment in sets:
        args += ["--set", assignment]
    return args


def template(helm: Helm, values: Path | None = None, *sets: str) -> subprocess.CompletedProcess[str]:
    return helm.run(
        "template", RELEASE, CHART, "--namespace", NAMESPACE, "--kube-version", KUBERNETES_VERSION, *values_args(values, sets)
    )


_renders: dict[tuple[str, ...], list[dict[str, Any]]] = {}


def render(helm: Helm, values: Path | None = None, *sets: str) -> list[dict[str, Any]]:
    """The objects `helm template` renders (memoised: the scenarios read the same renders)."""
    key = (str(values), *sets)
    if key not in _renders:
        result = template(helm, values, *sets)
        assert result.returncode == 0, result.stderr
        _renders[key] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return _renders[key]


def objects(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]


# --- every value set -------------------------------------------------------------------------------


def test_the_ci_directory_holds_the_value_sets_the_chart_promises() -> None:
    assert {"combined", "external-postgres-redis-tls", "tracing-autoscaling"} <= set(VALUE_SETS)


@pytest.mark.parametrize("name", VALUE_SETS)
def test_helm_lint_passes_strictly(helm: Helm, name: str) -> None:
    result = helm.run("lint", "--strict", CHART, "--namespace", NAMESPACE, *values_args(VALUE_SETS[name]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_rendered_object_is_valid_kubernetes(helm: Helm, name: str, tmp_path: Path) -> None:
    """kubernetes-validate --strict: right kinds and API versions, no unknown or misplaced field, right types."""
    docs = render(helm, VALUE_SETS[name])
    native = [d for d in docs if (d["apiVersion"], d["kind"]) not in CRD_KINDS]
    manifest = tmp_path / f"{name}.yaml"
    manifest.write_text(yaml.safe_dump_all(native))
    result = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "--kubernetes-version", KUBERNETES_VERSION, str(manifest)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # A kind it has no schema for is only a warning there: here every object must have been checked.
    passed = [line for line in result.stdout.splitlines() if " passed for resource " in line]
    assert len(passed) == len(native), result.stdout + result.stderr
    assert "WARN" not in result.stdout + result.stderr


# The fields of prometheus-operator's ServiceMonitor (monitoring.coreos.com/v1) that the chart uses, as its CRD
# declares them; anything else the chart might emit is refused, as a strict check would.
CRD_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": "ServiceMonitor"},
            "metadata": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
            "spec": {
                "type": "object",
                "required": ["selector", "endpoints"],
                "additionalProperties": False,
                "properties": {
                    "selector": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}},
                    },
                    "namespaceSelector": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}},
                    },
                    "endpoints": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "port": {"type": "string"},
                                "path": {"type": "string"},
                                "scheme": {"enum": ["http", "https"]},
                                "interval": {"type": "string", "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"},
                                "scrapeTimeout": {"type": "string", "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"},
                            },
                        },
                    },
                },
            },
        },
    }
}


@pytest.mark.parametrize("name", VALUE_SETS)
def test_custom_resources_match_their_definitions(helm: Helm, name: str) -> None:
    docs = render(helm, VALUE_SETS[name])
    for doc in docs:
        key = (doc["apiVersion"], doc["kind"])
        if key in CRD_KINDS:
            jsonschema.validate(doc, CRD_SCHEMAS[key])


# --- split mode: the production default -------------------------------------------------------------


def test_split_mode_runs_bridge_and_service_apart_and_the_bridge_balances_over_a_headless_service(helm: Helm) -> None:
    docs = render(helm)
    deployments = objects(docs, "Deployment")
    assert set(deployments) == {f"{FULLNAME}-bridge", f"{FULLNAME}-service"}
    bridge, service = deployments[f"{FULLNAME}-bridge"], deployments[f"{FULLNAME}-service"]
    assert container(bridge)["command"][-2:] == ["serve", "bridge"]
    assert container(service)["command"][-2:] == ["serve", "grpc"]

    services = objects(docs, "Service")
    grpc = services[f"{FULLNAME}-grpc"]
    assert grpc["spec"]["clusterIP"] == "None"
    assert grpc["spec"]["selector"]["app.kubernetes.io/component"] == "service"
    assert grpc["spec"]["ports"] == [{"name": "grpc", "port": 50051, "targetPort": "grpc", "protocol": "TCP"}]
    assert services[FULLNAME]["spec"]["selector"]["app.kubernetes.io/component"] == "bridge"
    assert services[FULLNAME]["spec"]["ports"][0]["targetPort"] == "http"

    target = env(container(bridge))["RG_BACKEND_TARGET"]["value"]
    assert target.startswith("dns:///")
    assert target == f"dns:///{GRPC_HOST}:50051"
    # Each side listens on all addresses in its pod, and only on what it serves.
    assert env(container(bridge))["RG_HTTP_HOST"]["value"] == "0.0.0.0" and "RG_GRPC_HOST" not in env(container(bridge))
    assert env(container(service))["RG_GRPC_HOST"]["value"] == "0.0.0.0" and "RG_HTTP_HOST" not in env(container(service))


def test_the_service_is_probed_over_grpc_health_and_the_bridge_over_http(helm: Helm) -> None:
    deployments = objects(render(helm), "Deployment")
    service = container(deployments[f"{FULLNAME}-service"])
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert service[probe]["grpc"] == {"port": 50051}, probe
    bridge = container(deployments[f"{FULLNAME}-bridge"])
    assert bridge["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert bridge["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert bridge["readinessProbe"]["httpGet"]["port"] == "http"


def test_the_migration_runs_once_in_a_hook_job_before_install_and_upgrade_and_the_pods_do_not_migrate(helm: Helm) -> None:
    docs = render(helm)
    (job,) = objects(docs, "Job").values()
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert int(annotations["helm.sh/hook-weight"]) < 0
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"].split(",")
    migrate = job["spec"]["template"]["spec"]["containers"][0]
    assert migrate["command"] == ["responses-gateway", "migrate"]
    assert env(migrate)["RG_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "responses-gateway-database", "key": "url"}
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # Pre-install hooks run before the release's ConfigMap and ServiceAccount exist: the Job needs neither.
    volumes = job["spec"]["template"]["spec"]["volumes"]
    assert all("configMap" not in v for v in volumes)
    assert "serviceAccountName" not in job["spec"]["template"]["spec"]
    service = container(objects(docs, "Deployment")[f"{FULLNAME}-service"])
    assert env(service)["RG_MIGRATE_ON_START"]["value"] == "false"


def test_the_routing_configmap_carries_the_providers_and_models_and_a_change_rolls_the_pods(helm: Helm) -> None:
    docs = render(helm)
    (config_map,) = objects(docs, "ConfigMap").values()
    settings = yaml.safe_load(config_map["data"]["gateway.yaml"])
    assert {p["name"] for p in settings["providers"]} == {"openai", "deepseek"}
    assert {m["id"] for m in settings["models"]} == {"gpt-5.4", "gpt-5.4-mini", "deepseek-v4-pro"}
    assert all("api_key" not in p for p in settings["providers"])  # keys come from Secrets, never the file
    assert settings["auth"]["mode"] == "required"
    assert not {"http_host", "grpc_host", "backend_target", "database_url", "redis_url", "tls"} & set(settings)
    for deployment in objects(docs, "Deployment").values():
        mounts = {m["mountPath"]: m for m in container(deployment)["volumeMounts"]}
        assert mounts["/etc/responses-gateway/gateway.yaml"]["subPath"] == "gateway.yaml"
        assert container(deployment)["command"][1:3] == ["--config", "/etc/responses-gateway/gateway.yaml"]

    changed = render(helm, None, "config.log_format=text")
    checksum = {n: d["spec"]["template"]["metadata"]["annotations"]["checksum/config"] for n, d in objects(docs, "Deployment").items()}
    after = {n: d["spec"]["template"]["metadata"]["annotations"]["checksum/config"] for n, d in objects(changed, "Deployment").items()}
    assert all(checksum[n] != after[n] for n in checksum)


def test_provider_keys_come_from_secrets_and_only_the_service_gets_them(helm: Helm) -> None:
    deployments = objects(render(helm), "Deployment")
    service = env(container(deployments[f"{FULLNAME}-service"]))
    assert service["OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "responses-gateway-providers",
        "key": "openai-api-key",
        "optional": True,
    }
    assert "DEEPSEEK_API_KEY" in service
    bridge = env(container(deployments[f"{FULLNAME}-bridge"]))
    # The bridge holds no state and calls no upstream: no keys, no database.
    assert not {"OPENAI_API_KEY", "DEEPSEEK_API_KEY", "RG_DATABASE_URL", "RG_REDIS_URL"} & set(bridge)


# --- pods: hardened, drained ------------------------------------------------------------------------


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_pod_runs_unprivileged_on_a_read_only_root_with_a_writable_tmp(helm: Helm, name: str) -> None:
    for where, spec in pod_specs(render(helm, VALUE_SETS[name])):
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["automountServiceAccountToken"] is False, where
        volumes = {v["name"]: v for v in spec["volumes"]}
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert "add" not in sc["capabilities"], where
            tmp = next(m for m in c["volumeMounts"] if m["mountPath"] == "/tmp")
            assert "emptyDir" in volumes[tmp["name"]], where
            assert c["resources"]["requests"] and c["resources"]["limits"]["memory"], where


@pytest.mark.parametrize("name", VALUE_SETS)
def test_the_pods_get_longer_to_stop_than_the_gateway_takes_to_drain(helm: Helm, name: str) -> None:
    values = yaml.safe_load(VALUE_SETS[name].read_text()) if VALUE_SETS[name] else {}
    default_shutdown = yaml.safe_load((CHART / "values.yaml").read_text())["shutdown"]
    shutdown = {**default_shutdown, **values.get("shutdown", {})}
    for deployment in objects(render(helm, VALUE_SETS[name]), "Deployment").values():
        spec = deployment["spec"]["template"]["spec"]
        c = container(deployment)
        grace = int(env(c)["RG_SHUTDOWN_GRACE_SECONDS"]["value"])
        assert grace == shutdown["graceSeconds"]
        pause = c["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert pause == shutdown["preStopSleepSeconds"] > 0
        # The kubelet's budget covers the preStop pause, then the drain after SIGTERM, with time to spare.
        assert spec["terminationGracePeriodSeconds"] > pause + grace > grace


def test_the_default_drain_fits_inside_kubernetes_usual_30_seconds(helm: Helm) -> None:
    (deployment, *_) = objects(render(helm), "Deployment").values()
    assert int(env(container(deployment))["RG_SHUTDOWN_GRACE_SECONDS"]["value"]) == 25
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 35


# --- combined mode ----------------------------------------------------------------------------------


def test_combined_mode_runs_one_deployment_serving_both_faces_on_sqlite(helm: Helm) -> None:
    docs = render(helm, VALUE_SETS["combined"])
    (deployment,) = objects(docs, "Deployment").values()
    assert deployment["metadata"]["name"] == FULLNAME
    c = container(deployment)
    assert c["command"][-2:] == ["serve", "all"]
    assert {p["name"] for p in c["ports"]} == {"http", "grpc", "metrics"}
    variables = env(c)
    assert variables["RG_DATABASE_URL"]["value"] == "sqlite+aiosqlite:////var/lib/responses-gateway/responses-gateway.db"
    assert "RG_BACKEND_TARGET" not in variables
    # The SQLite file sits on a PersistentVolumeClaim; one pod owns it, so updates replace rather than overlap.
    data = next(m for m in c["volumeMounts"] if m["mountPath"] == "/var/lib/responses-gateway")
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == data["name"])
    assert volume["persistentVolumeClaim"]["claimName"] in objects(docs, "PersistentVolumeClaim")
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    assert deployment["spec"]["replicas"] == 1
    # No shared database, so no hook Job: the pod migrates its own file when it starts.
    assert not objects(docs, "Job")
    assert variables["RG_MIGRATE_ON_START"]["value"] == "true"
    services = objects(docs, "Service")
    assert services[f"{FULLNAME}-grpc"]["spec"]["clusterIP"] == "None"
    assert services[FULLNAME]["spec"]["selector"] == services[f"{FULLNAME}-grpc"]["spec"]["selector"]
    # Probed over HTTP: /readyz answers for the in-process service too.
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_combined_mode_without_persistence_keeps_sqlite_on_an_empty_dir(helm: Helm) -> None:
    docs = render(helm, VALUE_SETS["combined"], "database.sqlite.persistence.enabled=false")
    (deployment,) = objects(docs, "Deployment").values()
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes["data"]
    assert not objects(docs, "PersistentVolumeClaim")


# --- external PostgreSQL, Redis and TLS -------------------------------------------------------------


def test_external_database_redis_tls_and_sealing_key_are_referenced_by_secret_name_and_key(helm: Helm) -> None:
    docs = render(helm, VALUE_SETS["external-postgres-redis-tls"])
    deployments = objects(docs, "Deployment")
    service = container(deployments[f"{FULLNAME}-service"])
    variables = env(service)
    assert variables["RG_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "gateway-postgres", "key": "sqlalchemy-url"}
    assert variables["RG_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "gateway-redis", "key": "url"}
    assert variables["RG_COMPACTION__SEALING_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "gateway-sealing", "key": "key"}
    assert "optional" not in variables["OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"]
    # No Secret is rendered: the chart only points at existing ones.
    assert not objects(docs, "Secret")

    for name, deployment in deployments.items():
        c = container(deployment)
        mount = next(m for m in c["volumeMounts"] if m["name"] == "tls")
        assert mount["readOnly"] is True
        volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "tls")
        assert volume["secret"]["secretName"] == "gateway-tls"
        files = {k: v["value"] for k, v in env(c).items() if k.startswith("RG_TLS__") and k != "RG_TLS__BACKEND_SERVER_NAME"}
        assert files and all(path.startswith(mount["mountPath"] + "/") for path in files.values()), name
    assert set(files) >= {"RG_TLS__CERT_FILE", "RG_TLS__KEY_FILE"}

    bridge = env(container(deployments[f"{FULLNAME}-bridge"]))
    assert {"RG_TLS__BACKEND_CA_FILE", "RG_TLS__BACKEND_CERT_FILE", "RG_TLS__BACKEND_KEY_FILE"} <= set(bridge)
    assert bridge["RG_TLS__BACKEND_SERVER_NAME"]["value"] == "responses-gateway-service"
    assert "RG_TLS__CLIENT_CA_FILE" in variables and "RG_TLS__CLIENT_CA_FILE" not in bridge
    # The kubelet's gRPC probe has no TLS: the service is probed on its socket; the bridge over HTTPS.
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert service[probe]["tcpSocket"] == {"port": "grpc"} and "grpc" not in service[probe], probe
    assert container(deployments[f"{FULLNAME}-bridge"])["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"


# --- tracing and autoscaling ------------------------------------------------------------------------


def test_each_deployment_scales_on_its_own_autoscaler_and_every_pod_exports_traces(helm: Helm) -> None:
    docs = render(helm, VALUE_SETS["tracing-autoscaling"])
    deployments = objects(docs, "Deployment")
    autoscalers = objects(docs, "HorizontalPodAutoscaler")
    assert {a["spec"]["scaleTargetRef"]["name"] for a in autoscalers.values()} == set(deployments)
    for autoscaler in autoscalers.values():
        assert autoscaler["apiVersion"] == "autoscaling/v2"
        assert autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"]
    for name, deployment in deployments.items():
        # The autoscaler owns the replica count; a fixed one would fight it on every upgrade.
        assert "replicas" not in deployment["spec"], name
        variables = env(container(deployment))
        assert variables["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel-collector.observability.svc:4317"
        assert variables["OTEL_TRACES_SAMPLER"]["value"] == "parentbased_traceidratio"
        assert variables["OTEL_TRACES_SAMPLER_ARG"]["value"] == "0.01"
        assert "k8s.pod.name=$(K8S_POD_NAME)" in variables["OTEL_RESOURCE_ATTRIBUTES"]["value"]

    budgets = objects(docs, "PodDisruptionBudget")
    assert budgets[f"{FULLNAME}-service"]["spec"]["maxUnavailable"] == "25%"


def test_the_service_monitor_scrapes_every_pod_once_on_its_metrics_port(helm: Helm) -> None:
    docs = render(helm, VALUE_SETS["tracing-autoscaling"])
    (monitor,) = (d for d in docs if d["kind"] == "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    services = [s for s in objects(docs, "Service").values() if s["metadata"]["labels"].items() >= monitor["spec"]["selector"]["matchLabels"].items()]
    assert [s["metadata"]["name"] for s in services] == [f"{FULLNAME}-metrics"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    # It selects every gateway pod (bridge and service alike), each of which names its metrics port.
    assert "app.kubernetes.io/component" not in services[0]["spec"]["selector"]
    for deployment in objects(docs, "Deployment").values():
        ports = {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}
        assert ports["metrics"] == int(env(container(deployment))["RG_METRICS_PORT"]["value"])
    assert not [d for d in render(helm) if d["kind"] == "ServiceMonitor"]


# --- what the chart refuses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assignment", "complaint"),
    [
        ("mode=splitt", "/mode"),
        ("mode=Combined", "/mode"),
        ("bridge.replicas=two", "/bridge/replicas"),
        ("service.replicas=-1", "/service/replicas"),
        ("bridge.replica=3", "replica"),
        ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
        ("ports.grpc=70000", "/ports/grpc"),
        ("otel.env.TRACES_SAMPLER=always_on", "'TRACES_SAMPLER' does not match pattern"),
    ],
)
def test_the_values_schema_refuses_typos_before_anything_renders(helm: Helm, assignment: str, complaint: str) -> None:
    for command in (["lint", CHART], ["template", RELEASE, CHART]):
        result = helm.run(*command, "--set", assignment)
        assert result.returncode != 0, f"helm {command[0]} accepted {assignment}"
        assert complaint in result.stdout + result.stderr, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("sets", "complaint"),
    [
        (("database.existingSecret=",), "mode split needs a database"),
        (("mode=combined", "database.existingSecret=", "gateway.replicas=2"), "SQLite is one file on one pod"),
        (("shutdown.terminationGracePeriodSeconds=20",), "must exceed"),
        (("tls.enabled=true",), "tls.enabled needs tls.existingSecret"),
        (("config.database_url=sqlite://",), "config.database_url is the chart's to set: use database.existingSecret"),
        (("config.models=",), "config.models is the chart's to set: use routing.models"),
    ],
)
def test_combinations_that_cannot_work_fail_the_render_with_what_to_change(helm: Helm, sets: tuple[str, ...], complaint: str) -> None:
    """Checked by the templates (`fail`), which Helm 4's lint mode lets pass: install, upgrade and template refuse."""
    result = template(helm, None, *sets)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_the_values_schema_accepts_every_shipped_value_set(helm: Helm) -> None:
    """The same check helm makes, done here too so that a schema too loose to be useful shows: it must be strict."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.validate(defaults, schema)
    assert schema["additionalProperties"] is False
    for name in ("bridge", "service", "gateway"):
        assert schema["properties"][name]["additionalProperties"] is False
    assert set(schema["properties"]) >= set(defaults)


def test_notes_tell_how_to_reach_the_gateway_and_which_secrets_it_reads(helm: Helm) -> None:
    result = helm.run("install", RELEASE, CHART, "--namespace", NAMESPACE, "--dry-run=client")
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    assert f"port-forward svc/{FULLNAME}" in notes
    assert f"dns:///{GRPC_HOST}:50051" in notes
    assert "responses-gateway-database / url" in notes
    assert "RG_MIGRATE_ON_START=false" in notes
