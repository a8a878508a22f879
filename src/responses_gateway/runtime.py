"""Wires the service side together: store, router, service, gRPC server; and `serve` (service + bridge in one process).

Everything is built from Settings and passed in; tests run these same pieces
on ephemeral ports (port 0) and read back the bound ports. The bridge alone
(`serve bridge`) is `bridge.server`, which loads none of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health

from responses_gateway.bridge.server import BridgeRuntime, run_bridge
from responses_gateway.config import Settings
from responses_gateway.context import warm_up
from responses_gateway.providers.local.weights import embedded_models
from responses_gateway.router import Router
from responses_gateway.security import Authenticator, auth_mode
from responses_gateway.security.limits import MemoryRateLimiter, RedisRateLimiter
from responses_gateway.service import ResponsesService
from responses_gateway.service.in_process import InProcessBackend
from responses_gateway.service.leases import LeaseKeeper
from responses_gateway.service.pending import PendingWrites
from responses_gateway.service.server import add_services, bind_server
from responses_gateway.service.usage import UsageLedger
from responses_gateway.store import Store
from responses_gateway.telemetry import Telemetry
from responses_gateway.telemetry.metrics import serve_metrics
from responses_gateway.telemetry.tracing import untraced

log = logging.getLogger(__name__)


@dataclass
class ServiceRuntime:
    """The gRPC service with its store and providers."""

    service: ResponsesService
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    grpc_port: int
    store: Store
    router: Router
    telemetry: Telemetry
    # Where the service alone (`serve grpc`) serves `/metrics` (settings.metrics_port).
    metrics_port: int | None = None


def with_embedded_models(settings: Settings) -> Settings:
    """The default model list plus the embedded model, when it is installed and `models` was left at its default."""
    if "models" in settings.model_fields_set:
        return settings
    local = next((p for p in settings.providers if p.type == "local"), None)
    extra = embedded_models(local.name) if local is not None else []
    return settings.model_copy(update={"models": [*settings.models, *extra]}) if extra else settings


@contextlib.asynccontextmanager
async def run_service(
    settings: Settings, telemetry: Telemetry | None = None, *, own_metrics_port: bool = True
) -> AsyncIterator[ServiceRuntime]:
    """Open the store (migrated), build providers, serve gRPC until the context exits.

    `telemetry`: what the process records into (None: metrics only, no
    tracing). The metrics are served on `metrics_port` when that is set,
    unless `own_metrics_port` is false (`serve`, where the bridge serves them).
    """
    telemetry = telemetry or Telemetry()
    settings = with_embedded_models(settings)
    store = await Store.open(settings.database_url, telemetry.tracing)
    mode, why = auth_mode(settings)
    log.info("auth: %s (%s)%s", mode, why, f"; every call is tenant '{settings.tenant_id}'" if mode == "open" else "")
    authenticator = Authenticator(store, mode=mode, open_tenant=settings.tenant_id, cache_seconds=settings.auth.cache_seconds)
    router = Router(settings, telemetry=telemetry)
    try:
        # Tokenizers load in threads beside the migrations, not on the event loop at the first request.
        migrations = [store.migrate()] if settings.migrate_on_start else []
        await asyncio.gather(*migrations, *(asyncio.to_thread(warm_up, t) for t in {m.tokenizer for m in settings.models}))
        # The port is bound first: the default replica name includes it.
        server, port = bind_server(
            settings.grpc_host,
            settings.grpc_port,
            authenticator,
            settings.tls,
            telemetry.tracing,
            max_connection_age=settings.grpc_max_connection_age_seconds,
        )
        leases = LeaseKeeper(store, replica_id(settings, port), settings.lease_seconds)
        pending = PendingWrites(settings.max_pending_writes) if writes_behind(settings, store) else None
        if pending is not None:
            written_behind = pending
            telemetry.metrics.add_gauge(
                "responses_gateway_pending_writes",
                "Finished responses answered and not yet written.",
                (),
                lambda: [((), float(len(written_behind)))],
            )
        limiter = RedisRateLimiter(settings.redis_url) if settings.redis_url else MemoryRateLimiter()
        ledger = UsageLedger(store, flush_seconds=settings.usage_flush_seconds)
        service = ResponsesService(
            router, store, leases, authenticator, pending=pending, limiter=limiter, ledger=ledger, telemetry=telemetry
        )
        health_servicer = await add_services(server, service)
        with untraced():  # the timers' work belongs to no request's trace
            await leases.reclaim()
            leases.start()
            ledger.start()
        await server.start()
        try:
            async with contextlib.AsyncExitStack() as stack:
                metrics_port = None
                if own_metrics_port and settings.metrics_port is not None:
                    metrics_port = await stack.enter_async_context(
                        serve_metrics(telemetry.metrics, settings.grpc_host, settings.metrics_port, reuse_port=settings.workers > 1)
                    )
                yield ServiceRuntime(service, server, health_servicer, port, store, router, telemetry, metrics_port)
        finally:
            await health_servicer.enter_graceful_shutdown()
            await server.stop(grace=5)
            await service.drain()
            await leases.stop()
            await ledger.stop()
            await limiter.aclose()
    finally:
        await router.aclose()
        await store.close()


def replica_id(settings: Settings, grpc_port: int) -> str:
    """The owner name of this process's responses in progress: configured, else host and gRPC port (and worker)."""
    owner = settings.replica_id or f"{socket.gethostname()}:{grpc_port}"
    return f"{owner}/{settings.worker_index}" if settings.workers > 1 else owner


def writes_behind(settings: Settings, store: Store) -> bool:
    """Whether answers go out before their writes: `auto` only where no other process reads this database."""
    if settings.write_behind != "auto":
        return settings.write_behind == "on"
    return store.is_sqlite and settings.workers == 1


@contextlib.asynccontextmanager
async def run_all(
    settings: Settings, telemetry: Telemetry | None = None
) -> AsyncIterator[tuple[ServiceRuntime, BridgeRuntime]]:
    """`serve`: service and bridge in one process, the bridge on the in-process backend; one telemetry for both."""
    telemetry = telemetry or Telemetry()
    async with run_service(settings, telemetry, own_metrics_port=False) as service:
        backend = InProcessBackend(service.service)
        async with run_bridge(settings, backend, telemetry) as bridge:
            yield service, bridge
