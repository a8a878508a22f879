"""OTLP metric export, when `OTEL_METRICS_EXPORTER=otlp`: the same instruments `/metrics` shows, pushed.

The instruments live once, in the process's Prometheus registry (recording into
it costs well under a microsecond; a second set of OpenTelemetry instruments
would double that on every request). Every `OTEL_METRIC_EXPORT_INTERVAL`
milliseconds (60000) the registry is read and handed to the SDK's OTLP exporter
as cumulative sums, gauges and explicit-bucket histograms. The GenAI instruments
go out under the convention's names and attribute keys
(`gen_ai_client_operation_duration_seconds{gen_ai_provider_name}` is
`gen_ai.client.operation.duration` with `gen_ai.provider.name`, unit `s`);
the gateway's own keep their Prometheus names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from prometheus_client.metrics_core import Metric as PromMetric

from responses_gateway.telemetry.metrics import Metrics

log = logging.getLogger(__name__)

# Prometheus family → the GenAI convention's instrument name and unit.
GENAI_NAMES = {
    "gen_ai_client_operation_duration_seconds": ("gen_ai.client.operation.duration", "s"),
    "gen_ai_client_token_usage": ("gen_ai.client.token.usage", "{token}"),
    "gen_ai_server_request_duration_seconds": ("gen_ai.server.request.duration", "s"),
    "gen_ai_server_time_to_first_token_seconds": ("gen_ai.server.time_to_first_token", "s"),
    "gen_ai_server_time_per_output_token_seconds": ("gen_ai.server.time_per_output_token", "s"),
}
# Prometheus label → the convention's attribute key.
GENAI_ATTRIBUTES = {
    "gen_ai_operation_name": "gen_ai.operation.name",
    "gen_ai_provider_name": "gen_ai.provider.name",
    "gen_ai_request_model": "gen_ai.request.model",
    "gen_ai_token_type": "gen_ai.token.type",
    "error_type": "error.type",
}
_SCOPE = InstrumentationScope("responses_gateway")


def metrics_export_requested(env: Mapping[str, str]) -> bool:
    """Whether `OTEL_METRICS_EXPORTER` names otlp (the only exporter this reads)."""
    return "otlp" in {name.strip().lower() for name in env.get("OTEL_METRICS_EXPORTER", "").split(",")}


def metric_exporter(env: Mapping[str, str]) -> MetricExporter:
    """The SDK's OTLP metric exporter for the configured protocol; it reads its own endpoint variables."""
    protocol = (env.get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc").strip()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcExporter

        return GrpcExporter()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpExporter

        return HttpExporter()
    raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL: {protocol!r} is not supported (grpc or http/protobuf)")


def to_metrics_data(families: Iterable[PromMetric], resource: Resource, start_ns: int) -> MetricsData:
    """A registry's collection as OTLP metrics: cumulative since `start_ns`."""
    now = time.time_ns()
    metrics = [m for m in (_convert(f, start_ns, now) for f in families) if m is not None]
    return MetricsData([ResourceMetrics(resource, [ScopeMetrics(_SCOPE, metrics, "")], "")])


def _attributes(labels: Mapping[str, str], skip: str = "") -> dict[str, Any]:
    return {GENAI_ATTRIBUTES.get(k, k): v for k, v in labels.items() if k != skip}


def _convert(family: PromMetric, start_ns: int, now: int) -> Metric | None:
    name, unit = GENAI_NAMES.get(family.name, (family.name, family.unit or ""))
    if family.type == "counter":
        points = [
            NumberDataPoint(_attributes(s.labels), start_ns, now, s.value) for s in family.samples if s.name.endswith("_total")
        ]
        data: Sum | Gauge | Histogram = Sum(points, AggregationTemporality.CUMULATIVE, is_monotonic=True)
    elif family.type == "gauge":
        data = Gauge([NumberDataPoint(_attributes(s.labels), start_ns, now, s.value) for s in family.samples])
    elif family.type == "histogram":
        data = Histogram(_histogram_points(family, start_ns, now), AggregationTemporality.CUMULATIVE)
    else:
        return None
    return Metric(name, family.documentation, unit, data)


def _histogram_points(family: PromMetric, start_ns: int, now: int) -> list[HistogramDataPoint]:
    """Prometheus's cumulative `le` buckets as OTLP's per-bucket counts, one point per label set."""
    series: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for sample in family.samples:
        key = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
        entry = series.setdefault(key, {"buckets": [], "sum": 0.0, "count": 0})
        if sample.name.endswith("_bucket"):
            entry["buckets"].append((float(sample.labels["le"]), sample.value))
        elif sample.name.endswith("_sum"):
            entry["sum"] = sample.value
        elif sample.name.endswith("_count"):
            entry["count"] = int(sample.value)
    points = []
    for key, entry in series.items():
        cumulative = sorted(entry["buckets"])
        bounds = [le for le, _ in cumulative if le != float("inf")]
        counts, previous = [], 0.0
        for _, value in cumulative:
            counts.append(int(value - previous))
            previous = value
        points.append(
            HistogramDataPoint(
                _attributes(dict(key)),
                start_ns,
                now,
                entry["count"],
                entry["sum"],
                counts,
                bounds,
                min=float("nan"),
                max=float("nan"),
            )
        )
    return points


class MetricsPusher:
    """Reads the registry every interval and exports it; the last push happens at stop."""

    def __init__(self, metrics: Metrics, exporter: MetricExporter, service_name: str, interval_seconds: float) -> None:
        self._metrics = metrics
        self._exporter = exporter
        named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
        self._resource = Resource.create({} if named else {SERVICE_NAME: service_name})
        self._interval = interval_seconds
        self._start_ns = time.time_ns()

    def push(self) -> None:
        """One export of everything now (blocking: run it in a thread)."""
        data = to_metrics_data(self._metrics.registry.collect(), self._resource, self._start_ns)
        if self._exporter.export(data) is not MetricExportResult.SUCCESS:
            log.warning("OTLP metric export failed; the next one carries the same totals")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Push every interval while the context is open, and once more at its end."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(self._interval)
                await asyncio.to_thread(self.push)

        task = asyncio.get_running_loop().create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.to_thread(self.push)
            await asyncio.to_thread(self._exporter.shutdown)


def metrics_pusher(metrics: Metrics, service_name: str, env: Mapping[str, str] | None = None) -> MetricsPusher | None:
    """The pusher the variables ask for; None unless OTEL_METRICS_EXPORTER names otlp."""
    env = os.environ if env is None else env
    if not metrics_export_requested(env):
        return None
    interval_ms = float(env.get("OTEL_METRIC_EXPORT_INTERVAL", "60000") or 60000)
    return MetricsPusher(metrics, metric_exporter(env), service_name, max(interval_ms, 100) / 1000)
