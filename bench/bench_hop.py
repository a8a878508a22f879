"""The cost of one hop on this machine: an aiohttp HTTP call beside a grpc.aio unary call.

The split layout puts one gRPC call (bridge → service) on every request's path
that `serve` does not have. Neither a gateway nor this one can make that hop
cheaper than a bare call that echoes its message and does nothing else, so
this benchmark measures that floor: c=1 round trips of the same 300-byte body,

* `http`: aiohttp client → aiohttp server (uvloop) that echoes the body, the hop
  a client → gateway or gateway → upstream call makes;
* `grpc`: grpc.aio unary call → grpc.aio server (uvloop) whose generic handler
  returns the request bytes: no protobuf work, only gRPC's own; client and server
  run with the `GRPC_EXPERIMENTS` the gateway sets for itself (see
  `responses_gateway/__init__.py`);
* `grpc-ee`: the same with grpc's own defaults (its EventEngine TCP client and
  listener), the setting the gateway turns off.

Every server is a child process, and so is every round's client, which takes its
`GRPC_EXPERIMENTS` as grpc reads it: once, at import. Rounds rotate the order of
the targets so a drift in machine speed hits all alike; medians over rounds.

    python bench/bench_hop.py                 # 5 rounds x 2000 calls per target, about 1 min
    python bench/bench_hop.py --rounds 3 --n 1000

Reading it: `split added − serve added` in bench_gateway.py's c=1 rows is the
split layout's own cost; compare it with the `grpc` row here (the bridge's gRPC
call replaces nothing: it is one more hop), from a run taken the same hour (the
machine lines must agree). `server CPU per call` is the echo server's CPU divided
by the calls it answered, warm-up included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _procs import Children, cpu_seconds, free_port, wait_tcp  # noqa: E402
from bench_gateway import PY, _markdown, log, machine_speed, versions  # noqa: E402

BODY = b'{"model":"gpt-5.4","input":"' + b"x" * 268 + b'"}'
from responses_gateway import GRPC_EXPERIMENTS  # noqa: E402

# Each target's GRPC_EXPERIMENTS, for its server and its clients.
TARGETS = {"http": GRPC_EXPERIMENTS, "grpc": GRPC_EXPERIMENTS, "grpc-ee": ""}


async def _serve_http(port: int) -> None:
    from aiohttp import web

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read(), content_type="application/json")

    app = web.Application()
    app.router.add_post("/echo", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


async def _serve_grpc(port: int) -> None:
    import grpc

    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return request

    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler("bench.Hop", {"Echo": grpc.unary_unary_rpc_method_handler(echo)})
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


async def _client(target: str, port: int, n: int, warmup: int) -> None:
    """A round's client (its own process): warm up, say "ready", wait for "go", time `n` calls, print them as JSON."""
    import aiohttp
    import grpc

    async with aiohttp.ClientSession() as session, grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        echo = channel.unary_unary("/bench.Hop/Echo")
        url = f"http://127.0.0.1:{port}/echo"

        async def http_call() -> bytes:
            async with session.post(url, data=BODY, headers={"content-type": "application/json"}) as r:
                return await r.read()

        async def grpc_call() -> bytes:
            reply: bytes = await echo(BODY)
            return reply

        call = http_call if target == "http" else grpc_call
        for _ in range(warmup):
            await call()
        print("ready", flush=True)
        sys.stdin.readline()
        lat = []
        for _ in range(n):
            t = time.perf_counter()
            if await call() != BODY:
                raise RuntimeError(f"{target} echo returned another body")
            lat.append(time.perf_counter() - t)
    print(json.dumps(lat), flush=True)


def _round(target: str, port: int, server_pid: int, n: int, warmup: int) -> tuple[float, float, float]:
    """One round against one target: p50 and p99 in µs, server CPU per timed call in µs."""
    env = {**os.environ, "GRPC_EXPERIMENTS": TARGETS[target]}
    argv = [PY, __file__, "--client", target, "--port", str(port), "--n", str(n), "--warmup", str(warmup)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != b"ready":
        proc.kill()
        raise RuntimeError(f"{target} client did not start")
    cpu0 = cpu_seconds(server_pid)
    out, _ = proc.communicate(b"go\n", timeout=600)
    cpu = cpu_seconds(server_pid) - cpu0
    if proc.returncode != 0:
        raise RuntimeError(f"{target} client failed")
    lat = sorted(json.loads(out))
    return lat[len(lat) // 2] * 1e6, lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e6, cpu / n * 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--n", type=int, default=2000, help="calls per target and round")
    p.add_argument("--warmup", type=int, default=200)
    # The child processes: a server, or one round's client.
    p.add_argument("--serve", choices=TARGETS, help=argparse.SUPPRESS)
    p.add_argument("--client", choices=TARGETS, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    import uvloop

    if args.serve:
        uvloop.run(_serve_http(args.port) if args.serve == "http" else _serve_grpc(args.port))
        return 0
    if args.client:
        uvloop.run(_client(args.client, args.port, args.n, args.warmup))
        return 0
    speed = machine_speed()
    log(f"machine: {speed}")
    children = Children(Path(tempfile.mkdtemp(prefix="rg-hop-")))
    res: dict[str, list[tuple[float, float, float]]] = {t: [] for t in TARGETS}
    names = list(TARGETS)
    try:
        ports = {t: free_port() for t in TARGETS}
        procs = {
            t: children.spawn(f"hop-{t}", [PY, __file__, "--serve", t, "--port", str(ports[t])], env={"GRPC_EXPERIMENTS": TARGETS[t]})
            for t in TARGETS
        }
        for t in TARGETS:
            wait_tcp(ports[t], procs[t], 30)
        log(f"c=1: {args.rounds} rounds x ({args.warmup} warm-up + {args.n} calls) per target")
        for r in range(args.rounds):
            for t in names[r % len(names) :] + names[: r % len(names)]:
                res[t].append(_round(t, ports[t], procs[t].pid, args.n, args.warmup))
    finally:
        children.stop_all()
    med = {t: [statistics.median(x[k] for x in res[t]) for k in range(3)] for t in TARGETS}
    print(f"\n## One hop, c=1 ({time.strftime('%Y-%m-%d %H:%M')})\n{versions()}\nmachine speed: {speed}\n")
    rows = [
        [t, "—" if t == "http" else TARGETS[t] or "(grpc's defaults)", f"{med[t][0]:.0f} µs", f"{med[t][1]:.0f} µs", f"{med[t][2]:.0f} µs", " ".join(f"{x[0]:.0f}/{x[1]:.0f}" for x in res[t])]
        for t in TARGETS
    ]
    print(_markdown(["hop", "GRPC_EXPERIMENTS", "p50 (median of rounds)", "p99", "server CPU per call", "per round p50/p99 µs"], rows))
    g, e, h = med["grpc"], med["grpc-ee"], med["http"]
    print(f"\ngrpc − http: p50 {g[0] - h[0]:+.0f} µs, p99 {g[1] - h[1]:+.0f} µs")
    print(f"grpc − grpc-ee: p50 {g[0] - e[0]:+.0f} µs, p99 {g[1] - e[1]:+.0f} µs, server CPU {g[2] - e[2]:+.0f} µs per call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
