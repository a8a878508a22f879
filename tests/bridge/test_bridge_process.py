"""`serve bridge` is a thin process: serving, it has loaded none of the service side."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# What a bridge process must never load: the service side of the gateway, and what only it uses.
SERVICE_SIDE = (
    "responses_gateway.service",
    "responses_gateway.store",
    "responses_gateway.router",
    "responses_gateway.providers",
    "responses_gateway.context",
    "responses_gateway.runtime",
    "alembic",
    "sqlalchemy",
    "tiktoken",
    "tokenizers",
)

_SERVE_BRIDGE = textwrap.dedent(
    """
    import asyncio, json, socket, sys
    import aiohttp
    from responses_gateway import cli
    from responses_gateway.config import Settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main():
        settings = Settings(http_port=port, backend_target="127.0.0.1:9")
        serving = asyncio.create_task(cli._serve(settings, "bridge"))
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            else:
                raise SystemExit("the bridge did not come up")
        print(json.dumps(sorted(sys.modules)))
        serving.cancel()

    asyncio.run(main())
    """
)


def test_a_serving_bridge_has_loaded_nothing_of_the_service_side() -> None:
    done = subprocess.run([sys.executable, "-c", _SERVE_BRIDGE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert "responses_gateway.bridge.server" in modules  # it really served
    loaded = sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in SERVICE_SIDE))
    assert loaded == []
