"""Run a fake upstream as its own process (benchmarks): `python -m tests.upstreams.<fake>`."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import Any, Protocol


class _Fake(Protocol):
    async def start(self, host: str = ..., port: int = ...) -> str: ...
    async def close(self) -> None: ...


FakeFactory = Callable[[str, float, float], _Fake]
"""(api_key, latency_ms, token_delay_ms) → a fake upstream."""


async def _serve_forever(factory: FakeFactory, label: str, args: argparse.Namespace) -> None:
    fake = factory(args.api_key, args.latency_ms, args.token_delay_ms)
    base_url = await fake.start(args.host, args.port)
    print(f"{label} listening on {base_url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.close()


def run(factory: FakeFactory, label: str, *, port: int, api_key: str, argv: list[str] | None = None) -> None:
    """Parse the common flags and serve until interrupted (uvloop when installed)."""
    parser = argparse.ArgumentParser(description=f"{label} upstream")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--api-key", default=api_key)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--token-delay-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        runner(_serve_forever(factory, label, args))
    except KeyboardInterrupt:
        pass
