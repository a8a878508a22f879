"""The Grafana dashboard in deploy/grafana: valid, laid out, provisioned, and asking only for metrics /metrics exposes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import promql_parser
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Gateway, gateway  # noqa: F401 - the fixture, both layouts

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "responses-gateway.json"
# Grafana's own variables, replaced by what Grafana would put there before PromQL sees them.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
# Where promql_parser's expression nodes hold their sub-expressions.
CHILDREN = ("lhs", "rhs", "args", "expr", "vector_selector", "param")
SAMPLE_SUFFIXES = ("", "_total", "_bucket", "_sum", "_count", "_created")


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def expressions() -> Iterator[tuple[str, str]]:
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def metric_names(expr: str) -> set[str]:
    """The metrics a PromQL expression selects (it must parse)."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    names: set[str] = set()

    def walk(node: Any) -> None:
        if type(node).__name__ == "VectorSelector":
            names.add(node.name)
            return
        for attribute in CHILDREN:
            value = getattr(node, attribute, None)
            for child in value if isinstance(value, list) else [value]:
                if child is not None and type(child).__module__ == "promql_parser":
                    walk(child)

    walk(promql_parser.parse(expr))
    return names


def test_the_dashboard_is_laid_out_without_overlaps_and_uses_the_provisioned_prometheus() -> None:
    board = dashboard()
    assert board["uid"] == "responses-gateway" and board["panels"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        g = panel["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, panel["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
    provisioned = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "datasources.yaml").read_text())
    uids = {d["uid"]: d for d in provisioned["datasources"]}
    assert uids["prometheus"]["jsonData"]["exemplarTraceIdDestinations"][0]["datasourceUid"] in uids
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] in uids, panel["title"]
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "dashboards.yaml").read_text())["providers"]
    assert providers[0]["type"] == "file" and providers[0]["options"]["path"]


def test_every_query_parses_and_the_latency_panels_link_to_traces() -> None:
    exprs = list(expressions())
    assert len(exprs) >= 15
    for title, expr in exprs:
        assert metric_names(expr), f"{title}: {expr} selects no metric"
    latency = [p for p in dashboard()["panels"] if p.get("fieldConfig", {}).get("defaults", {}).get("unit") == "s"]
    assert latency and all(t["exemplar"] for p in latency for t in p["targets"])


async def test_every_metric_the_dashboard_names_is_one_metrics_exposes(gateway: Gateway) -> None:
    """Names from both processes of the split layout: the bridge's /metrics and the service's own."""
    assert gateway.service is not None
    async with aiohttp.ClientSession() as session, session.get(f"{gateway.http_url}/metrics") as resp:
        text = await resp.text()
    text += gateway.service.telemetry.metrics.exposition(None)[0].decode()
    exposed = {f.name + suffix for f in text_string_to_metric_families(text) for suffix in SAMPLE_SUFFIXES}
    named = {name for _, expr in expressions() for name in metric_names(expr)}
    assert named - exposed == set()
