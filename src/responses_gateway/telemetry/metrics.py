"""The process's Prometheus metrics: instruments in a registry of their own, and their exposition.

Each process builds one `Metrics` and passes it to what records into it, so
tests run several servers in one interpreter without sharing counters.
Labels are bounded: routes are patterns, models and providers are the
configured ones, tenants are the operator's; never ids, keys or user text.
The GenAI instruments carry OpenTelemetry's names (`gen_ai.client.token.usage`
is `gen_ai_client_token_usage` here), so dashboards built on the convention fit.
Latency histograms take the current trace id as an exemplar when tracing is
on; the OpenMetrics format (what Prometheus asks for) carries it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator

from aiohttp import web
from opentelemetry import trace
from opentelemetry.trace import Span
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from responses_gateway.telemetry.instruments import Counter, CounterSeries, Gauge, Histogram, HistogramSeries, Instruments

# Seconds; from a cached lookup (milliseconds) to a long reasoning stream (minutes).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# The GenAI convention's advice for gen_ai.client.operation.duration and the server durations.
OPERATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
FIRST_TOKEN_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
PER_TOKEN_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)

GaugeSource = Callable[[], Iterable[tuple[tuple[str, ...], float]]]


class Metrics:
    """The instruments one process records into."""

    def __init__(self, *, process_collectors: bool = True, exemplars: bool = False) -> None:
        """`exemplars`: latency observations carry the current trace's ids (only worth it when tracing is on)."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.exemplars = exemplars
        if process_collectors:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        # Each (route, method, status)'s two series, found with one lookup per request.
        self._http: dict[tuple[str, str, int], tuple[CounterSeries, HistogramSeries]] = {}
        instruments = Instruments()
        self.registry.register(instruments)
        self._gauges = _GaugeSources()
        self.registry.register(self._gauges)

        def counter(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Counter:
            made = Counter(name, documentation, labels)
            instruments.add(made)
            return made

        def histogram(name: str, documentation: str, labels: tuple[str, ...], buckets: tuple[float, ...]) -> Histogram:
            made = Histogram(name, documentation, labels, buckets)
            instruments.add(made)
            return made

        self.http_requests = counter(
            "responses_gateway_http_requests",
            "HTTP requests the bridge answered, by route pattern, method and status.",
            ("route", "method", "status"),
        )
        self.http_duration = histogram(
            "responses_gateway_http_request_duration_seconds",
            "Time from a request's arrival to its handler's return (a stream's whole length).",
            ("route", "method"),
            LATENCY_BUCKETS,
        )
        self.responses = counter(
            "responses_gateway_responses",
            "Responses the service finished, by model, tenant and final status.",
            ("model", "tenant", "status"),
        )
        self.tokens = counter(
            "responses_gateway_tokens",
            "Tokens of finished responses, by model, tenant and type (input, cached, output, reasoning).",
            ("model", "tenant", "type"),
        )
        self.streams_in_flight = Gauge("responses_gateway_streams_in_flight", "Streamed responses being produced now.")
        instruments.add(self.streams_in_flight)
        self.upstream_errors = counter(
            "responses_gateway_upstream_errors",
            "Failed upstream attempts, by provider and error type.",
            ("provider", "error_type"),
        )
        self.retries = counter("responses_gateway_upstream_retries", "Attempts repeated on the same deployment.", ("deployment",))
        self.fallbacks = counter(
            "responses_gateway_upstream_fallbacks", "Moves from one model to its fallback.", ("from_model", "to_model")
        )
        self.breaker_transitions = counter(
            "responses_gateway_breaker_transitions", "Circuit breakers changing state.", ("deployment", "state")
        )
        self.operation_duration = histogram(
            "gen_ai_client_operation_duration_seconds",
            "GenAI operation duration: one upstream call, to its last event.",
            ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "error_type"),
            OPERATION_BUCKETS,
        )
        self.token_usage = histogram(
            "gen_ai_client_token_usage",
            "Number of input and output tokens used, per upstream call.",
            ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_token_type"),
            TOKEN_BUCKETS,
        )
        self.server_duration = histogram(
            "gen_ai_server_request_duration_seconds",
            "Generative AI server request duration: a create, from its arrival at the service to its last event.",
            ("gen_ai_operation_name", "gen_ai_request_model", "error_type"),
            OPERATION_BUCKETS,
        )
        self.time_to_first_token = histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time to generate the first output token (streamed creates).",
            ("gen_ai_operation_name", "gen_ai_request_model"),
            FIRST_TOKEN_BUCKETS,
        )
        self.time_per_output_token = histogram(
            "gen_ai_server_time_per_output_token_seconds",
            "Time per output token after the first (streamed creates).",
            ("gen_ai_operation_name", "gen_ai_request_model"),
            PER_TOKEN_BUCKETS,
        )

    def add_gauge(self, name: str, documentation: str, labels: tuple[str, ...], source: GaugeSource) -> None:
        """A gauge read from `source` at each scrape (state that lives elsewhere: queues, breakers, pending writes)."""
        self._gauges.add(name, documentation, labels, source)

    def observe_http(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered HTTP request and its duration."""
        key = (route, method, status)
        series = self._http.get(key)
        if series is None:
            series = (self.http_requests.labels(route, method, str(status)), self.http_duration.labels(route, method))
            self._http[key] = series
        series[0].value += 1
        series[1].observe(seconds, self.exemplar() if self.exemplars else None)

    def exemplar(self) -> dict[str, str] | None:
        """The current trace's ids as a histogram exemplar; None when tracing is off or the span is not sampled."""
        return exemplar_of(trace.get_current_span()) if self.exemplars else None

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The registry in the format the scraper asked for (OpenMetrics or Prometheus text) and its content type."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type




def exemplar_of(span: Span | None) -> dict[str, str] | None:
    """A sampled span's ids as a histogram exemplar (None for no span or an unsampled one)."""
    if span is None:
        return None
    context = span.get_span_context()
    if not context.trace_flags.sampled:
        return None
    return {"trace_id": trace.format_trace_id(context.trace_id), "span_id": trace.format_span_id(context.span_id)}


class _GaugeSources(Collector):
    """Gauges whose values are read when scraped."""

    def __init__(self) -> None:
        self._sources: list[tuple[str, str, tuple[str, ...], GaugeSource]] = []

    def add(self, name: str, documentation: str, labels: tuple[str, ...], source: GaugeSource) -> None:
        self._sources.append((name, documentation, labels, source))

    def collect(self) -> Iterator[Metric]:
        for name, documentation, labels, source in self._sources:
            family = GaugeMetricFamily(name, documentation, labels=list(labels))
            for values, value in source():
                family.add_metric(list(values), value)
            yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())


@contextlib.asynccontextmanager
async def serve_metrics(metrics: Metrics, host: str, port: int, *, reuse_port: bool = False) -> AsyncIterator[int]:
    """Serve `GET /metrics` alone on a port of its own until the context exits; yields the bound port."""
    app = web.Application()
    app[METRICS] = metrics
    app.router.add_get("/metrics", metrics_endpoint)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, reuse_port=reuse_port or None)
    await site.start()
    try:
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


async def metrics_endpoint(request: web.Request) -> web.Response:
    """GET /metrics: no key needed, so a scraper needs none (bind it to its own port to keep it private)."""
    body, content_type = request.app[METRICS].exposition(request.headers.get("Accept"))
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type  # carries its own version and charset parameters
    return response


# Where an aiohttp app keeps the process's Metrics.
METRICS = web.AppKey("metrics", Metrics)
