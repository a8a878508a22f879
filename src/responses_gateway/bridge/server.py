"""The bridge's HTTP listener, over whichever backend reaches the service."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from responses_gateway.bridge.app import create_app
from responses_gateway.bridge.backend import Backend, RemoteBackend
from responses_gateway.config import Settings, TLSConfig
from responses_gateway.telemetry import Telemetry
from responses_gateway.telemetry.logs import AccessLog
from responses_gateway.telemetry.metrics import serve_metrics
from responses_gateway.telemetry.tracing import grpc_client_interceptors


@dataclass
class BridgeRuntime:
    """The HTTP bridge and the backend it translates to."""

    runner: web.AppRunner
    backend: Backend
    http_port: int
    telemetry: Telemetry
    # Where `/metrics` is served when not on the HTTP port (settings.metrics_port).
    metrics_port: int | None = None


@contextlib.asynccontextmanager
async def run_bridge(
    settings: Settings, backend: Backend, telemetry: Telemetry | None = None
) -> AsyncIterator[BridgeRuntime]:
    """Serve the HTTP bridge over a backend until the context exits; the caller owns the backend.

    `telemetry`: the process's (in `serve`, shared with the service); its
    metrics are served at `/metrics` on the HTTP port, or alone on
    `metrics_port` when that is set.
    """
    telemetry = telemetry or Telemetry()
    own_port = settings.metrics_port is not None
    worker = settings.worker_index if settings.workers > 1 else None
    traced = telemetry.tracing is not None
    access_log = AccessLog(settings.log_format, worker=worker, traced=traced) if settings.access_log else None
    app = create_app(
        backend,
        max_body_bytes=settings.max_body_bytes,
        read_timeout=settings.http_read_timeout,
        metrics=telemetry.metrics,
        metrics_route=not own_port,
        tracer=telemetry.tracing.tracer if telemetry.tracing is not None else None,
        access_log=access_log,
    )
    # handler_cancellation: a client that disconnects cancels its handler,
    # which closes the stream from the service and so the upstream call.
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=5)
    await runner.setup()
    # Worker processes share the port; the kernel spreads connections over them.
    site = web.TCPSite(
        runner,
        settings.http_host,
        settings.http_port,
        backlog=settings.http_backlog,
        reuse_address=True,
        reuse_port=settings.workers > 1 or None,
        ssl_context=_server_tls(settings.tls),
    )
    await site.start()
    port = int(runner.addresses[0][1])
    try:
        async with contextlib.AsyncExitStack() as stack:
            metrics_port = None
            if settings.metrics_port is not None:
                metrics_port = await stack.enter_async_context(
                    serve_metrics(telemetry.metrics, settings.http_host, settings.metrics_port, reuse_port=settings.workers > 1)
                )
            yield BridgeRuntime(runner, backend, port, telemetry, metrics_port)
    finally:
        await runner.cleanup()
        if access_log is not None:
            access_log.flush()


def _server_tls(tls: TLSConfig) -> ssl.SSLContext | None:
    """The HTTPS context of the listener, when a certificate is configured."""
    if tls.cert_file is None or tls.key_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    return context


@contextlib.asynccontextmanager
async def run_remote_bridge(settings: Settings, telemetry: Telemetry | None = None) -> AsyncIterator[BridgeRuntime]:
    """`serve bridge`: the bridge alone, dialling the service at backend_target (over TLS when configured)."""
    telemetry = telemetry or Telemetry()
    backend = RemoteBackend(settings.backend_target, settings.tls, grpc_client_interceptors(telemetry.tracing))
    try:
        async with run_bridge(settings, backend, telemetry) as bridge:
            yield bridge
    finally:
        await backend.aclose()
