"""What tracing costs: `serve` with tracing off, sampled at 1 %, always on, and the code before tracing existed.

    python bench/bench_tracing.py --quick                  # about 4 minutes
    python bench/bench_tracing.py --quick --rounds 6       # more interleaved rounds, less noise

Targets, all in one rig (same fake upstream, same load generator, same run; bench_revisions.py's):

  serve@base   `serve` from the commit before this work (--baseline-rev, default 1e3157d: no /metrics, no tracing)
  serve        this working tree, no OTEL_* variables: tracing off (metrics and the access line on, as by default)
  serve-log    the same with `access_log: false`, to tell the access line's share
  serve+1%     this tree, OTLP/gRPC to a local sink, OTEL_TRACES_SAMPLER=parentbased_traceidratio, ARG 0.01
  serve+on     this tree, OTLP/gRPC to the sink, every request traced (the default sampler)

Spans go to bench/_otlp_sink.py, a separate process that accepts and counts them, so the
exporter's real work (batching, protobuf encoding, the gRPC call) is in the gateway's CPU.

Rows: gateway CPU per request at c=1 and at max throughput, max req/s, and c=1 added latency
(p50 over the fake upstream's own), store off and on; each target's ratio to serve@base is
the median over rounds of that round's ratio, so drift of the machine between rounds cancels.
Targets: off ≤ 1.03, 1 % ≤ 1.05, always-on ≤ 1.25 (CPU per request).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_gateway as bg  # noqa: E402
import bench_revisions as br  # noqa: E402
from _procs import free_port, wait_tcp  # noqa: E402

DEFAULT_BASELINE = "1e3157d"  # the last commit before /metrics and tracing
BASE = "serve@base"
TARGETS = ("serve@base", "serve", "serve-log", "serve+1%", "serve+on")
log = bg.log


class TracingRig(br.RevRig):
    """One `serve` per target; the tracing ones export to a shared OTLP sink."""

    def __init__(self, args: argparse.Namespace, new: Path, base: Path) -> None:
        super().__init__(args, {BASE: base, **{name: new for name in TARGETS[1:]}})
        self.order = ["direct", *TARGETS]
        self._starting = ""
        self.sink_port = 0

    def start(self) -> None:
        self.sink_port = free_port()
        sink = self.children.spawn("otlp-sink", [bg.PY, str(bg.BENCH / "_otlp_sink.py"), "--port", str(self.sink_port)], cwd=bg.ROOT)
        wait_tcp(self.sink_port, sink, 30)
        for kind, latency, token_delay in (("fast", 0, 0), ("l20", self.args.upstream_latency_ms, 0), ("tok", 0, self.args.token_delay_ms)):
            port = free_port()
            self.ports[kind] = port
            argv = [bg.PY, str(bg.BENCH / "_upstream.py"), "--port", str(port), "--latency-ms", str(latency), "--token-delay-ms", str(token_delay)]
            self.upstreams[kind] = self.children.spawn(f"upstream-{kind}", argv, cwd=bg.ROOT)
        for kind, child in self.upstreams.items():
            wait_tcp(self.ports[kind], child, 30)
        direct = bg.Target("direct", tree=False)
        for kind, port in self.ports.items():
            direct.base[kind] = f"http://127.0.0.1:{port}/v1/responses"
            direct.model[kind] = bg.MODEL
        self.targets["direct"] = direct
        for name in TARGETS:
            self._starting = name
            self.targets[name] = self._start_serve(name)
        self.lg = bg.LoadGen(self.children)

    def _gw_env(self, db: str, http: int, grpc: int) -> dict[str, str]:
        env = super()._gw_env(db, http, grpc)
        endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{self.sink_port}", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
        if self._starting == "serve-log":
            env["RG_ACCESS_LOG"] = "false"
        elif self._starting == "serve+on":
            env.update(endpoint)
        elif self._starting == "serve+1%":
            env.update(endpoint, OTEL_TRACES_SAMPLER="parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG="0.01")
        return env


def build_table(rig: TracingRig, R: dict[str, Any]) -> str:
    header = ["figure", *TARGETS[1:], *(f"{n} / base" for n in TARGETS[1:]), "serve@base"]
    rows: list[list[str]] = []

    def row(label: str, per_round: Any, fmt: Any) -> None:
        cells = [label]
        for name in TARGETS[1:]:
            cells.append(fmt(bg.median(per_round(name))) if rig.targets[name].ok else "n/a")
        for name in TARGETS[1:]:
            ratios, _ = br._paired(per_round(name), per_round(BASE))
            ratio = bg.median(ratios)
            cells.append("—" if ratio is None else f"{ratio:.3f} [{min(ratios):.2f}–{max(ratios):.2f}]")
        cells.append(fmt(bg.median(per_round(BASE))))
        rows.append(cells)

    for store in ("off", "on"):
        row(
            f"gateway CPU per request, c=1, store {store}",
            lambda n, s=store: [r["cpu_us"] for r in bg._get(R, n, f"lat_{s}", "rounds") or []],
            lambda v: bg._num(v, " µs"),
        )
    for store in ("off", "on"):
        row(
            f"gateway CPU per request at max, store {store}",
            lambda n, s=store: [r["gw_cpu_us"] for r in bg._get(R, n, f"max_{s}", "rounds") or []],
            lambda v: bg._num(v, " µs"),
        )
        row(
            f"max throughput, store {store}",
            lambda n, s=store: [r["rps"] for r in bg._get(R, n, f"max_{s}", "rounds") or []],
            lambda v: bg._num(v, " req/s"),
        )
    for store in ("off", "on"):
        row(
            f"added latency c=1 p50, store {store}",
            lambda n, s=store: bg._get(R, n, f"lat_{s}", "added_p50_rounds") or [],
            lambda v: bg._ms(v, sign=True),
        )
    return bg._markdown(header, rows)


def main(argv: list[str] | None = None) -> int:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--baseline-rev", default=DEFAULT_BASELINE)
    mine, rest = own.parse_known_args(argv)
    args = br.parse_args([*rest, "--baseline-rev", mine.baseline_rev])
    t0 = time.monotonic()
    base_path, base_sha = br.checkout(args.baseline_rev)
    rig = TracingRig(args, bg.ROOT, base_path)
    R: dict[str, Any] = {}
    try:
        log(f"machine: {bg.machine_speed()}; logs in {rig.tmp}")
        rig.start()
        rig.verify_trees()
        rig.preflight()
        if "latency" in args.phases:
            bg.phase_latency(rig, R)
        if "max" in args.phases:
            br.phase_max_rounds(rig, R)
    finally:
        rig.stop()
    print()
    print(f"## tracing cost ({'quick' if args.quick else 'full'} sizes, {time.strftime('%Y-%m-%d %H:%M')}, {time.monotonic() - t0:.0f}s)")
    print(f"new: {bg.ROOT}/src, {br.describe_new(base_sha)}")
    print(f"base: {base_path}/src, commit {base_sha[:12]}")
    print(f"{os.cpu_count()} cores shared by load generator, upstream, sink and gateways; {bg.versions()}")
    print(f"c=1: {args.rounds} interleaved rounds x ({args.warmup} warm-up + {args.n} requests); max: {args.max_rounds} rounds, c in {args.max_c}")
    print()
    print(build_table(rig, R))
    sink_log = rig.children.log_dir / "otlp-sink.log"
    if sink_log.exists():
        lines = [ln for ln in sink_log.read_text().splitlines() if ln.startswith("spans received")]
        print(f"\nthe sink received: {lines[-1] if lines else 'nothing'}")
    return 0 if all(rig.targets[n].ok for n in TARGETS) else 1


if __name__ == "__main__":
    sys.exit(main())
