"""Concurrent streams: the upstream directly, a do-nothing relay, and `serve`, in one run.

What one Python process can relay on this machine, before any gateway work:
`floor_relay.py` copies bytes between an aiohttp server and a pooled aiohttp
client, and nothing else. Beside it `serve` (store off) does everything the
gateway does per event. Same fake `tok` upstream, same load generator, same
stall rule as `bench_gateway.py`'s streams phase; each process's CPU is read
from /proc around every measurement.

    python bench/bench_floor.py                    # 128, 256, 512 streams, 10 s each (about 3 min)
    python bench/bench_floor.py --c 64,128 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _procs import Child, Children, cpu_seconds, free_port, wait_http, wait_tcp  # noqa: E402
from bench_gateway import BENCH, MODEL, PY, ROOT, STALL_INPUT, LoadGen, _markdown, log, machine_speed, versions  # noqa: E402


def _start(children: Children, tmp: Path, token_delay_ms: float) -> tuple[dict[str, str], dict[str, Child], Child]:
    """The upstream, the floor relay and `serve`: each target's URL and process."""
    up_port, floor_port, http, grpc = free_port(), free_port(), free_port(), free_port()
    upstream = children.spawn(
        "upstream-tok", [PY, str(BENCH / "_upstream.py"), "--port", str(up_port), "--token-delay-ms", str(token_delay_ms)], cwd=ROOT
    )
    wait_tcp(up_port, upstream, 30)
    upstream_url = f"http://127.0.0.1:{up_port}/v1/responses"
    floor = children.spawn("floor", [PY, str(BENCH / "floor_relay.py"), "--port", str(floor_port), "--upstream", upstream_url], cwd=ROOT)
    config = tmp / "gateway.yaml"
    config.write_text(
        json.dumps(
            {
                "providers": [
                    {"name": "up", "type": "openai_responses", "base_url": f"http://127.0.0.1:{up_port}/v1", "api_key_env": "OPENAI_API_KEY"}
                ],
                "models": [{"id": MODEL, "provider": "up", "owned_by": "openai"}],
            }
        )
    )
    env = {
        "RG_HTTP_PORT": str(http),
        "RG_GRPC_PORT": str(grpc),
        "RG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'serve.db'}",
        "OPENAI_API_KEY": "sk-test-fake",
    }
    serve = children.spawn("serve", [str(Path(PY).parent / "responses-gateway"), "--config", str(config), "serve"], env=env, cwd=tmp)
    wait_tcp(floor_port, floor, 30)
    wait_http(f"http://127.0.0.1:{http}/healthz", serve, 60)
    urls = {"direct": upstream_url, "floor": f"http://127.0.0.1:{floor_port}/v1/responses", "serve": f"http://127.0.0.1:{http}/v1/responses"}
    return urls, {"floor": floor, "serve": serve}, upstream


def _measure(lg: LoadGen, url: str, procs: dict[str, Child], c: int, args: argparse.Namespace) -> dict[str, Any]:
    body = json.dumps({"model": MODEL, "input": STALL_INPUT, "store": False, "stream": True})
    stall_ms = args.token_delay_ms + 100
    cmd = {"op": "stream_conc", "url": url, "body": body, "c": c, "duration": args.seconds, "ramp_s": 1.0, "stall_ms": stall_ms, "timeout": 60, "hard_timeout": args.seconds + 120}
    before = {name: cpu_seconds(p.pid) for name, p in procs.items()}
    started = time.perf_counter()
    out = lg.run(cmd)
    wall = time.perf_counter() - started
    out["cores"] = {name: (cpu_seconds(p.pid) - before[name]) / wall for name, p in procs.items()}
    out["cores"]["loadgen"] = out.get("lg_cpu_total_s", 0.0) / wall
    out["wall_s"] = wall
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--c", default="128,256,512", help="concurrent streams, comma list")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--token-delay-ms", type=float, default=50.0)
    args = parser.parse_args()
    speed = machine_speed()
    log(f"machine: {speed}")
    tmp = Path(tempfile.mkdtemp(prefix="rg-floor-"))
    children = Children(tmp / "logs")
    rows = []
    try:
        urls, relays, upstream = _start(children, tmp, args.token_delay_ms)
        lg = LoadGen(children)
        for c in (int(x) for x in args.c.split(",")):
            for name, url in urls.items():
                procs = {"upstream": upstream, **({name: relays[name]} if name in relays else {})}
                out = _measure(lg, url, procs, c, args)
                events = max(1, out.get("events", 0))
                own = out["cores"].get(name)
                per_event = f"{own * out['wall_s'] * 1e6 / events:.0f}" if own is not None else "—"
                verdict = "ok" if out.get("streams", 0) and not (out.get("stalled") or out.get("late_start") or out.get("errors")) else "STALL"
                log(f"c={c} {name}: {verdict} {out.get('stalled')}/{out.get('streams')} stalled, {out.get('late_start')} late")
                rows.append(
                    [
                        str(c),
                        name,
                        f"{verdict} {out.get('stalled')}/{out.get('streams')} stalled, {out.get('late_start')} late, {out.get('errors')} err",
                        f"{out.get('max_gap_ms') or 0:.0f}",
                        f"{out.get('ttft_p99_ms') or 0:.0f}",
                        f"{out.get('events_per_s', 0):.0f}",
                        ", ".join(f"{k} {v:.2f}" for k, v in out["cores"].items()),
                        per_event,
                    ]
                )
    finally:
        children.stop_all()
    print()
    print(f"## concurrent streams: direct, floor relay, serve ({time.strftime('%Y-%m-%d %H:%M')})")
    print(f"token delay {args.token_delay_ms:g} ms, 20-word echo, {args.seconds:g} s per cell, stall = gap > {args.token_delay_ms + 100:g} ms; {versions()}")
    print(f"machine speed: {speed}")
    print()
    header = ["streams", "target", "result", "max gap ms", "TTFT p99 ms", "events/s", "cores (CPU s / wall s)", "relay CPU µs/event"]
    print(_markdown(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
