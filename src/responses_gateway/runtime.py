"""Wires the process together: store, router, service, gRPC server, bridge.

Everything is built from Settings and passed in; tests run these same pieces
on ephemeral ports (port 0) and read back the bound ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
from aiohttp import web
from grpc_health.v1 import health

from responses_gateway.bridge import Backend, InProcessBackend, RemoteBackend, create_app
from responses_gateway.config import Settings
from responses_gateway.context import warm_up
from responses_gateway.router import Router
from responses_gateway.service import ResponsesService
from responses_gateway.service.leases import LeaseKeeper
from responses_gateway.service.pending import PendingWrites
from responses_gateway.service.server import build_server
from responses_gateway.store import Store

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


@dataclass
class BridgeRuntime:
    """The HTTP bridge and the backend it translates to."""

    runner: web.AppRunner
    backend: Backend
    http_port: int
    extra: list[object] = field(default_factory=list)


@contextlib.asynccontextmanager
async def run_service(settings: Settings) -> AsyncIterator[ServiceRuntime]:
    """Open the store (migrated), build providers, serve gRPC until the context exits."""
    store = await Store.open(settings.database_url)
    router = Router(settings)
    try:
        # Tokenizers load in threads beside the migrations, not on the event loop at the first request.
        await asyncio.gather(store.migrate(), *(asyncio.to_thread(warm_up, t) for t in {m.tokenizer for m in settings.models}))
        # The port is bound first so the default replica name can include it.
        leases = LeaseKeeper(store, "", settings.lease_seconds)
        pending = PendingWrites(settings.max_pending_writes) if writes_behind(settings, store) else None
        service = ResponsesService(router, store, leases, pending=pending)
        server, port, health_servicer = await build_server(
            service, settings.grpc_host, settings.grpc_port, tenant_id=settings.tenant_id
        )
        leases.owner = settings.replica_id or f"{socket.gethostname()}:{port}"
        if settings.workers > 1:
            leases.owner += f"/{settings.worker_index}"
        await leases.reclaim()
        leases.start()
        await server.start()
        try:
            yield ServiceRuntime(service, server, health_servicer, port, store, router)
        finally:
            await health_servicer.enter_graceful_shutdown()
            await server.stop(grace=5)
            await service.drain()
            await leases.stop()
    finally:
        await router.aclose()
        await store.close()


def writes_behind(settings: Settings, store: Store) -> bool:
    """Whether answers go out before their writes: `auto` only where no other process reads this database."""
    if settings.write_behind != "auto":
        return settings.write_behind == "on"
    return store.is_sqlite and settings.workers == 1


@contextlib.asynccontextmanager
async def run_bridge(settings: Settings, backend: Backend) -> AsyncIterator[BridgeRuntime]:
    """Serve the HTTP bridge over a backend until the context exits."""
    app = create_app(backend, max_body_bytes=settings.max_body_bytes)
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
    )
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    try:
        yield BridgeRuntime(runner, backend, port)
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def run_all(settings: Settings) -> AsyncIterator[tuple[ServiceRuntime, BridgeRuntime]]:
    """`serve`: service and bridge in one process, the bridge on the in-process backend."""
    async with run_service(settings) as service:
        backend = InProcessBackend(service.service, settings.tenant_id)
        async with run_bridge(settings, backend) as bridge:
            yield service, bridge


@contextlib.asynccontextmanager
async def run_remote_bridge(settings: Settings) -> AsyncIterator[BridgeRuntime]:
    """`serve bridge`: the bridge alone, dialling the service at backend_target."""
    backend = RemoteBackend(settings.backend_target)
    try:
        async with run_bridge(settings, backend) as bridge:
            yield bridge
    finally:
        await backend.aclose()


async def wait_forever() -> None:
    """Block until cancelled (SIGINT/SIGTERM handling cancels the main task)."""
    await asyncio.Event().wait()
