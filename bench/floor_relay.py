"""The least a Python relay can do: aiohttp server in, pooled aiohttp client out, bytes copied.

No parsing, no validation, no state: the request body goes upstream as it came
and every chunk of the answer goes back as it arrived. Its CPU per streamed
event is the floor under any gateway built on aiohttp and uvloop on the same
machine; `bench_floor.py` measures it beside the gateway. Not a product: it
forwards to one upstream and knows nothing of the API.

    python bench/floor_relay.py --port 9000 --upstream http://127.0.0.1:8001/v1/responses
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
import uvloop
from aiohttp import web

FORWARDED = ("Authorization", "Content-Type")


async def _serve(port: int, upstream: str) -> None:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2048), cookie_jar=aiohttp.DummyCookieJar())

    async def relay(request: web.Request) -> web.StreamResponse:
        headers = {k: request.headers[k] for k in FORWARDED if k in request.headers}
        async with session.post(upstream, data=await request.read(), headers=headers) as answer:
            response = web.StreamResponse(status=answer.status, headers={"Content-Type": answer.headers.get("Content-Type", "")})
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/responses", relay)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    print(f"floor relay on 127.0.0.1:{port} -> {upstream}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the upstream's POST /v1/responses URL (loopback)")
    args = parser.parse_args()
    try:
        uvloop.run(_serve(args.port, args.upstream))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
