"""The process's Prometheus metrics: instruments in a registry of their own, and their exposition.

Each process builds one `Metrics` and passes it to what records into it, so
tests run several servers in one interpreter without sharing counters.
Labels are bounded: routes are patterns, never paths with ids in them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

# Seconds; from a cached lookup (milliseconds) to a long reasoning stream (minutes).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    """The instruments one process records into."""

    def __init__(self, *, process_collectors: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        if process_collectors:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        self.http_requests = Counter(
            "responses_gateway_http_requests",
            "HTTP requests answered by the bridge, by route pattern, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "responses_gateway_http_request_duration_seconds",
            "Time from a request's arrival to its handler's return (a stream's whole length).",
            ("route", "method"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The registry in the format the scraper asked for (OpenMetrics or Prometheus text) and its content type."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type

    def observe_http(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered HTTP request and its duration."""
        self.http_requests.labels(route, method, str(status)).inc()
        self.http_duration.labels(route, method).observe(seconds)


# Where an aiohttp app keeps the process's Metrics.
METRICS = web.AppKey("metrics", Metrics)


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

