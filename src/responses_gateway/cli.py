"""`responses-gateway`: serve (all, grpc, bridge) and migrate.

Each command imports only what it runs: `serve bridge` loads the bridge and
its gRPC client, never the service, store or providers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import gc
import json
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from responses_gateway.config import Settings
from responses_gateway.telemetry import Metrics, Telemetry
from responses_gateway.telemetry.logs import configure_logging
from responses_gateway.telemetry.otlp_metrics import metrics_pusher
from responses_gateway.telemetry.tracing import start_tracing

if TYPE_CHECKING:
    from responses_gateway.store import Store

log = logging.getLogger("responses_gateway")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="responses-gateway", description="OpenAI Responses API gateway")
    parser.add_argument("--config", type=Path, default=None, help="YAML config file (env RG_* overrides it)")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument(
        "role",
        nargs="?",
        choices=("all", "grpc", "bridge"),
        default="all",
        help="all: gRPC service + HTTP bridge in one process (default); grpc or bridge: one of them",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes sharing the ports (default: the `workers` setting, 1)",
    )
    sub.add_parser("migrate", help="apply database migrations and exit")
    keys = sub.add_parser("keys", help="gateway API keys: create, list, revoke").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create a key for a tenant; the key is printed once and stored only as a hash")
    create.add_argument("--tenant", required=True, help="the tenant the key's calls (and everything they store) belong to")
    create.add_argument("--name", default=None, help="a label for listings")
    create.add_argument("--rpm", type=_positive, default=None, help="requests per minute")
    create.add_argument("--tpm", type=_positive, default=None, help="tokens per minute")
    create.add_argument("--monthly-tokens", type=_positive, default=None, help="tokens per calendar month")
    create.add_argument("--json", action="store_true", help='print {"id", "key", "tenant", "name"} and nothing else')
    listing = keys.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--tenant", default=None)
    listing.add_argument("--json", action="store_true")
    revoke = keys.add_parser("revoke", help="revoke a key by its id (every replica stops accepting it within auth.cache_seconds)")
    revoke.add_argument("id")
    used = keys.add_parser("usage", help="tokens used per key, model and day (UTC)")
    used.add_argument("--tenant", default=None)
    used.add_argument("--since", type=_day, default=None, help="YYYY-MM-DD (default: the first of this month)")
    used.add_argument("--json", action="store_true")
    return parser


def _day(value: str) -> str:
    try:
        return datetime.date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value}") from None


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return number


def _worker(config: Path | None, role: str, index: int, workers: int) -> None:
    """One `serve` worker process (spawned): the same server, its own index."""
    settings = Settings.load(config, workers=workers, worker_index=index)
    configure_logging(settings.log_format, worker=index)
    _run_until_signalled(_serve(settings, role))


def _serve_workers(args: argparse.Namespace, settings: Settings, workers: int) -> int:
    """Run `workers` processes of `serve`; the database is migrated once, first."""
    if settings.http_port == 0 or settings.grpc_port == 0:
        raise SystemExit("--workers needs fixed ports (http_port and grpc_port), not 0")
    _event_loop_runner()(_migrate(settings))
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_worker, args=(args.config, args.role, index, workers), name=f"worker-{index}")
        for index in range(workers)
    ]
    for child in children:
        child.start()

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.is_alive() and child.pid is not None:
                os.kill(child.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()
    log.info("shut down")
    return max((abs(child.exitcode or 0) for child in children), default=0)


def _run_until_signalled(main_coro: Coroutine[Any, Any, None]) -> None:
    async def supervised() -> None:
        task = asyncio.ensure_future(main_coro)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            log.info("shut down")

    _event_loop_runner()(supervised())


# The collector, measured under load (64 clients in a closed loop, instant
# upstream, store off): with CPython's defaults it took 9–15 % of the event
# loop's time, and each full collection walked every object built at start-up
# (modules, protobuf descriptors, SQLAlchemy metadata, tokenizers' Python side)
# in a pause of about 90 ms, many times a request's whole p99 budget. Requests
# allocate short-lived objects only; what lives long was made before the first
# request. A request allocates a few hundred tracked objects, so CPython's
# young threshold of 700 meant a collection every two or three requests.
YOUNG_THRESHOLD = 10_000
MIDDLE_THRESHOLD = 20
OLD_THRESHOLD = 100


def settle_after_start() -> None:
    """Freeze what start-up built out of the collector's sight and collect young objects less often.

    Call once the servers are up: frozen objects are never scanned again
    (and never freed, which is right for modules and configuration).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)


async def _serve_forever() -> None:
    """Once the servers are up: settle the heap, then serve until cancelled (SIGINT/SIGTERM cancel the main task)."""
    settle_after_start()
    await asyncio.Event().wait()


def _log_metrics_port(host: str, port: int | None) -> None:
    if port is not None:
        log.info("metrics on http://%s:%d/metrics", host, port)


# service.name when OTEL_SERVICE_NAME names none, by what `serve` runs.
SERVICE_NAMES = {"all": "responses-gateway", "grpc": "responses-gateway-service", "bridge": "responses-gateway-bridge"}


def _telemetry(role: str) -> Telemetry:
    """The process's metrics, and tracing when the OTEL_* variables ask for it."""
    tracing = start_tracing(SERVICE_NAMES.get(role, SERVICE_NAMES["all"]))
    if tracing is not None:
        log.info("tracing on: %s", tracing.description)
    return Telemetry(Metrics(exemplars=tracing is not None), tracing)


async def _serve(settings: Settings, role: str) -> None:
    telemetry = _telemetry(role)
    pusher = metrics_pusher(telemetry.metrics, SERVICE_NAMES.get(role, SERVICE_NAMES["all"]))
    try:
        async with pusher.running() if pusher is not None else contextlib.nullcontext():
            if pusher is not None:
                log.info("OTLP metric export on (OTEL_METRICS_EXPORTER)")
            await _serve_role(settings, role, telemetry)
    finally:
        if telemetry.tracing is not None:
            await asyncio.to_thread(telemetry.tracing.shutdown)  # exports what is still buffered


async def _serve_role(settings: Settings, role: str, telemetry: Telemetry) -> None:
    if role == "bridge":
        from responses_gateway.bridge.server import run_remote_bridge

        async with run_remote_bridge(settings, telemetry) as bridge:
            log.info("HTTP bridge on http://%s:%d → gRPC %s", settings.http_host, bridge.http_port, settings.backend_target)
            _log_metrics_port(settings.http_host, bridge.metrics_port)
            await _serve_forever()
        return
    from responses_gateway.runtime import run_all, run_service

    if role == "grpc":
        async with run_service(settings, telemetry) as service:
            log.info("gRPC service on %s:%d", settings.grpc_host, service.grpc_port)
            _log_metrics_port(settings.grpc_host, service.metrics_port)
            await _serve_forever()
    else:
        async with run_all(settings, telemetry) as (service, bridge):
            log.info(
                "serving: HTTP http://%s:%d  gRPC %s:%d", settings.http_host, bridge.http_port, settings.grpc_host, service.grpc_port
            )
            _log_metrics_port(settings.http_host, bridge.metrics_port)
            await _serve_forever()


async def _migrate(settings: Settings) -> None:
    from responses_gateway.store import Store

    store = await Store.open(settings.database_url)
    try:
        await store.migrate()
    finally:
        await store.close()


async def _keys(args: argparse.Namespace, settings: Settings) -> int:
    """The `keys` commands, against the database `serve` uses (migrated first)."""
    from responses_gateway.store import Store

    store = await Store.open(settings.database_url)
    try:
        await store.migrate()
        command = {"create": _keys_create, "list": _keys_list, "usage": _keys_usage, "revoke": _keys_revoke}
        return await command[args.keys_command](args, store)
    finally:
        await store.close()


async def _keys_create(args: argparse.Namespace, store: Store) -> int:
    from responses_gateway.security import key_admin

    record, key = await key_admin.create_key(
        store, args.tenant, name=args.name, rpm=args.rpm, tpm=args.tpm, monthly_tokens=args.monthly_tokens
    )
    if args.json:
        print(json.dumps({"id": record.id, "key": key, "tenant": record.tenant_id, "name": record.name}))
    else:
        print(f"{key}\n\nkey id {record.id}, tenant {record.tenant_id}. The key is shown only now: store it safely.")
    return 0


async def _keys_list(args: argparse.Namespace, store: Store) -> int:
    from responses_gateway.security import key_admin

    rows = [
        {
            "id": r.id,
            "tenant": r.tenant_id,
            "name": r.name,
            "created_at": r.created_at,
            "revoked_at": r.revoked_at,
            "rpm": r.rpm,
            "tpm": r.tpm,
            "monthly_tokens": r.monthly_tokens,
        }
        for r in await key_admin.list_keys(store, args.tenant)
    ]
    if args.json:
        print(json.dumps(rows))
    for row in [] if args.json else rows:
        print(f"{row['id']}  {row['tenant']}  {row['name'] or '-'}  {'revoked' if row['revoked_at'] else 'active'}")
    return 0


async def _keys_usage(args: argparse.Namespace, store: Store) -> int:
    from responses_gateway.security import key_admin

    since = args.since or datetime.date.today().replace(day=1).isoformat()
    rows = [
        {
            "tenant": r.tenant_id,
            "key_id": r.key_id or None,
            "model": r.model,
            "day": r.day,
            "requests": r.requests,
            "input_tokens": r.input_tokens,
            "cached_tokens": r.cached_tokens,
            "output_tokens": r.output_tokens,
            "reasoning_tokens": r.reasoning_tokens,
        }
        for r in await key_admin.usage_since(store, since, args.tenant)
    ]
    if args.json:
        print(json.dumps(rows))
    for row in [] if args.json else rows:
        print(
            f"{row['day']}  {row['tenant']}  {row['key_id'] or '-'}  {row['model']}  requests {row['requests']}  "
            f"input {row['input_tokens']} (cached {row['cached_tokens']})  output {row['output_tokens']} "
            f"(reasoning {row['reasoning_tokens']})"
        )
    return 0


async def _keys_revoke(args: argparse.Namespace, store: Store) -> int:
    from responses_gateway.security import key_admin

    if await key_admin.revoke_key(store, args.id):
        print(f"revoked {args.id}")
        return 0
    print(f"no active key with id {args.id}", file=sys.stderr)
    return 1


def _event_loop_runner() -> Callable[[Coroutine[Any, Any, None]], None]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is absent on Windows only
        return asyncio.run
    return uvloop.run


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    configure_logging()
    settings = Settings.load(args.config)
    configure_logging(settings.log_format)
    runner = _event_loop_runner()
    if args.command == "migrate":
        runner(_migrate(settings))
        log.info("database at the newest schema")
        return 0
    if args.command == "keys":
        status = 0

        async def keys_command() -> None:
            nonlocal status
            status = await _keys(args, settings)

        runner(keys_command())
        return status
    workers = args.workers or settings.workers
    if workers > 1:
        return _serve_workers(args, settings, workers)
    _run_until_signalled(_serve(settings, args.role))
    return 0


if __name__ == "__main__":
    sys.exit(main())
