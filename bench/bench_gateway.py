"""Benchmark: the fake upstream directly vs responses-gateway (`serve`, split) vs LiteLLM.

One command, prints one table:

    python bench/bench_gateway.py            # full run (10-minute soak per gateway layout)
    python bench/bench_gateway.py --quick    # < 4 minutes, 20-second soak

Rig (loopback only, every process on the same 2 cores, each one's CPU reported):
three fake OpenAI Responses upstreams (tests/upstreams/openai_responses.py,
via bench/_upstream.py): "fast" answers at once, "l20" after 20 ms, "tok" streams
one word every --token-delay-ms. The gateways route model `gpt-5.4` to fast,
`gpt-5.4-l20` to l20 and `gpt-5.4-tok` to tok (upstream model always gpt-5.4);
direct runs hit the same upstream with `gpt-5.4`. The load generator
(bench/loadgen.py, aiohttp on uvloop) is a separate process.

Measurements (see bench/README.md for how to read them):
  c=1 latency     W warm-up + N sequential non-streaming requests per target and
                  store mode, in R interleaved rounds (target order and store
                  order alternate); added = target percentile − direct percentile
                  of the same round; the median over rounds is reported.
  streaming c=1   same rounds; TTFT = request sent → first output_text.delta;
                  per-event overhead = (target span − direct span) / events,
                  span = first event → last event.
  max proxy       closed loop against the instant upstream, c in --max-c, the best
                  req/s; gateway CPU µs/request from /proc/PID/stat.
  sustained @20ms closed loop against the 20 ms upstream, concurrency sweep; the
                  highest req/s of a step with p99 < 1 s and errors < 0.1 %.
  streams         32/128/512 concurrent streams from the token-delay upstream for
                  a few seconds; a stream stalls when two events are more than
                  token delay + 100 ms apart.
  soak            closed loop c=32 on the 20 ms upstream, a mix of store on/off and
                  streaming; RSS after a warm-up vs at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _procs import Child, Children, HostTicks, cpu_seconds, free_port, rss_kb, wait_http, wait_tcp  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PY = sys.executable
LITELLM_VENV = BENCH / ".venv-litellm"
MODEL = "gpt-5.4"
SHORT_INPUT = "Hello there"
# 40 words: the reply echoes them, one text delta per word (+ 4 words of framing).
LONG_INPUT = " ".join(
    "the quick brown fox jumps over the lazy dog while seven tired engineers measure "
    "how long each little event takes to cross two loopback hops and back again "
    "before the coffee gets cold on a grey".split()[:40]
)
STALL_INPUT = " ".join(LONG_INPUT.split()[:20])
TARGETS = ("direct", "serve", "split", "litellm")
GATEWAYS = ("serve", "split", "litellm")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- targets


@dataclass
class Target:
    name: str
    base: dict[str, str] = field(default_factory=dict)  # upstream kind -> URL of /v1/responses
    model: dict[str, str] = field(default_factory=dict)  # upstream kind -> model id
    procs: dict[str, Child] = field(default_factory=dict)  # what to measure (CPU, RSS)
    tree: bool = False  # count descendants too (LiteLLM's uvicorn worker)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class LoadGen:
    def __init__(self, children: Children) -> None:
        self.child = children.spawn(
            "loadgen", [PY, str(BENCH / "loadgen.py")], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )

    def run(self, cmd: dict[str, Any]) -> dict[str, Any]:
        p = self.child.popen
        assert p.stdin is not None and p.stdout is not None
        p.stdin.write((json.dumps(cmd) + "\n").encode())
        p.stdin.flush()
        line = p.stdout.readline()
        if not line:
            raise RuntimeError(f"load generator died; see {self.child.log}")
        out: dict[str, Any] = json.loads(line)
        if "fatal" in out:
            log(f"load generator: {out['fatal']}")
        return out


class Rig:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="rg-bench-"))
        self.children = Children(self.tmp / "logs")
        self.workers: int = args.workers
        self.upstreams: dict[str, Child] = {}
        self.ports: dict[str, int] = {}
        self.targets: dict[str, Target] = {}
        self.lg: LoadGen | None = None
        self.phase = ""

    # ---- processes

    def start(self) -> None:
        a = self.args
        for kind, lat, tok in (("fast", 0, 0), ("l20", a.upstream_latency_ms, 0), ("tok", 0, a.token_delay_ms)):
            port = free_port()
            self.ports[kind] = port
            self.upstreams[kind] = self.children.spawn(
                f"upstream-{kind}",
                [PY, str(BENCH / "_upstream.py"), "--port", str(port), "--latency-ms", str(lat), "--token-delay-ms", str(tok)],
                cwd=ROOT,
            )
        for kind, child in self.upstreams.items():
            wait_tcp(self.ports[kind], child, 30)
        direct = Target("direct", tree=False)
        for kind, port in self.ports.items():
            direct.base[kind] = f"http://127.0.0.1:{port}/v1/responses"
            direct.model[kind] = MODEL
        self.targets["direct"] = direct
        self.targets["serve"] = self._start_serve()
        self.targets["split"] = self._start_split()
        self.targets["litellm"] = self._start_litellm() if not a.no_litellm else Target("litellm", error="--no-litellm")
        self.lg = LoadGen(self.children)

    def _gateway_config(self) -> Path:
        path = self.tmp / "gateway.yaml"
        providers = []
        models = []
        for kind, port in self.ports.items():
            p: dict[str, Any] = {
                "name": f"up-{kind}",
                "type": "openai_responses",
                "base_url": f"http://127.0.0.1:{port}/v1",
                "api_key_env": "OPENAI_API_KEY",
            }
            if self.args.pool_size:
                p["pool_size"] = self.args.pool_size
            providers.append(p)
            models.append({"id": self._model(kind), "provider": f"up-{kind}", "upstream_model": MODEL, "owned_by": "openai"})
        path.write_text(json.dumps({"providers": providers, "models": models}, indent=1))  # JSON is YAML
        return path

    @staticmethod
    def _model(kind: str) -> str:
        return MODEL if kind == "fast" else f"{MODEL}-{kind}"

    def _gw_env(self, db: str, http: int, grpc: int) -> dict[str, str]:
        return {
            "RG_HTTP_PORT": str(http),
            "RG_GRPC_PORT": str(grpc),
            "RG_DATABASE_URL": f"sqlite+aiosqlite:///{self.tmp / db}",
            "OPENAI_API_KEY": "sk-test-fake",
        }

    def _gw_target(self, name: str, http: int) -> Target:
        t = Target(name)
        for kind in self.ports:
            t.base[kind] = f"http://127.0.0.1:{http}/v1/responses"
            t.model[kind] = self._model(kind)
        return t

    def _gateway_cmd(self, name: str) -> list[str]:
        """The command that runs the `responses-gateway` CLI for target `name` (bench_revisions.py overrides it)."""
        return [str(Path(PY).parent / "responses-gateway")]

    def _start_serve(self, name: str = "serve") -> Target:
        cfg = self._gateway_config()
        http, grpc = free_port(), free_port()
        argv = [*self._gateway_cmd(name), "--config", str(cfg), "serve", "--workers", str(self.workers)]
        child = self.children.spawn(name, argv, env=self._gw_env(f"{name}.db", http, grpc), cwd=self.tmp)
        t = self._gw_target(name, http)
        t.tree = self.workers > 1  # the workers are children of the `serve` process
        t.procs["serve"] = child
        try:
            wait_http(f"http://127.0.0.1:{http}/healthz", child, 60)
        except RuntimeError as exc:
            t.error = str(exc)
        return t

    def _start_split(self, name: str = "split") -> Target:
        cfg = self._gateway_config()
        http, grpc = free_port(), free_port()
        cmd = self._gateway_cmd(name)
        env = self._gw_env(f"{name}.db", http, grpc)
        svc = self.children.spawn(f"{name}-grpc", [*cmd, "--config", str(cfg), "serve", "grpc"], env=env, cwd=self.tmp)
        t = self._gw_target(name, http)
        t.procs["service"] = svc
        try:
            wait_tcp(grpc, svc, 60)
            env = {**env, "RG_BACKEND_TARGET": f"127.0.0.1:{grpc}"}
            bridge = self.children.spawn(f"{name}-bridge", [*cmd, "--config", str(cfg), "serve", "bridge"], env=env, cwd=self.tmp)
            t.procs = {"bridge": bridge, "service": svc}
            wait_http(f"http://127.0.0.1:{http}/readyz", bridge, 60)
        except RuntimeError as exc:
            t.error = str(exc)
        return t

    def _start_litellm(self) -> Target:
        t = Target("litellm", tree=True)
        exe = LITELLM_VENV / "bin" / "litellm"
        try:
            if not exe.exists():
                log("installing litellm[proxy] into bench/.venv-litellm (once) ...")
                subprocess.run([PY, "-m", "venv", str(LITELLM_VENV)], check=True)
                r = subprocess.run(
                    [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"],
                    capture_output=True,
                    text=True,
                    timeout=900,
                )
                if r.returncode != 0 or not exe.exists():
                    raise RuntimeError("pip install litellm[proxy] failed: " + (r.stderr.strip().splitlines() or ["?"])[-1])
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            t.error = f"cannot install: {exc}"
            return t
        cfg = self.tmp / "litellm.yaml"
        model_list = [
            {
                "model_name": self._model(kind),
                "litellm_params": {"model": f"openai/{MODEL}", "api_base": f"http://127.0.0.1:{port}/v1", "api_key": "sk-test-fake"},
            }
            for kind, port in self.ports.items()
        ]
        cfg.write_text(json.dumps({"model_list": model_list, "litellm_settings": {"drop_params": True, "set_verbose": False}}))
        port = free_port()
        env = {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the cost map from GitHub: loopback only
            "LITELLM_LOG": "ERROR",
            # The same bearer the load generator sends everywhere; LiteLLM refuses to start without one.
            "LITELLM_MASTER_KEY": "sk-test-fake",
            "LITELLM_TELEMETRY": "False",
            "DISABLE_ADMIN_UI": "True",
            "NO_DOCS": "True",
        }
        for var in ("DATABASE_URL", "REDIS_HOST"):
            os.environ.pop(var, None)
        child = self.children.spawn(
            "litellm",
            [str(exe), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"],
            env=env,
            cwd=self.tmp,
        )
        t.procs["litellm"] = child
        for kind in self.ports:
            t.base[kind] = f"http://127.0.0.1:{port}/v1/responses"
            t.model[kind] = self._model(kind)
        try:
            wait_http(f"http://127.0.0.1:{port}/health/liveliness", child, 180)
        except RuntimeError as exc:
            t.error = f"did not start: {exc}"
        return t

    def stop(self) -> None:
        if self.lg is not None and self.lg.child.alive():
            try:
                assert self.lg.child.popen.stdin is not None
                self.lg.child.popen.stdin.write(b'{"op":"quit"}\n')
                self.lg.child.popen.stdin.flush()
            except OSError:
                pass
        self.children.stop_all()

    # ---- measuring

    def body(self, t: Target, kind: str, *, store: bool, stream: bool = False, text: str = SHORT_INPUT) -> str:
        b: dict[str, Any] = {"model": t.model[kind], "input": text, "store": store}
        if stream:
            b["stream"] = True
        return json.dumps(b)

    def measure(self, t: Target, kind: str, cmd: dict[str, Any]) -> dict[str, Any]:
        """Run one load-generator command; add each process's CPU seconds and the wall time."""
        assert self.lg is not None
        cmd = {"url": t.base[kind], **cmd}
        procs = {**{f"{t.name}:{k}": (c.pid, t.tree) for k, c in t.procs.items()}, f"upstream-{kind}": (self.upstreams[kind].pid, False)}
        spies = self._spy_start(t, cmd)
        before = {k: cpu_seconds(pid, tree=tree) for k, (pid, tree) in procs.items()}
        w0 = time.perf_counter()
        try:
            out = self.lg.run(cmd)
        finally:
            wall = time.perf_counter() - w0
            self._spy_stop(spies)
        out["cpu_s"] = {k: cpu_seconds(pid, tree=tree) - before[k] for k, (pid, tree) in procs.items()}
        out["cpu_s"]["loadgen"] = out.get("lg_cpu_total_s", 0.0)
        out["wall_total_s"] = wall
        return out

    def _spy_start(self, t: Target, cmd: dict[str, Any]) -> list[Child]:
        """With --pyspy DIR: py-spy records each gateway process during the chosen phase's runs."""
        a = self.args
        if not a.pyspy or t.name == "direct" or self.phase not in a.pyspy_phases:
            return []
        exe = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
        if not Path(exe).exists():
            log("py-spy not found: pip install py-spy")
            a.pyspy = None
            return []
        a.pyspy.mkdir(parents=True, exist_ok=True)
        store = "on" if '"store": true' in (cmd.get("body") or "".join(cmd.get("bodies") or [])) else "off"
        label = f"{self.phase}-{t.name}-{cmd['op']}-c{cmd.get('c', 1)}-{store}"
        spies = []
        for k, c in t.procs.items():
            out = a.pyspy / f"{label}-{k}.txt"
            spies.append(self.children.spawn(f"py-spy-{label}-{k}", [exe, "record", "-p", str(c.pid), "-r", "200", "-f", "raw", "--nonblocking", "-o", str(out)]))
        time.sleep(0.5)
        return spies

    def _spy_stop(self, spies: list[Child]) -> None:
        for s in spies:
            if s.alive():
                s.popen.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for s in spies:
            try:
                s.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.children.stop(s)

    def gw_cpu(self, t: Target, out: dict[str, Any]) -> float:
        return sum(v for k, v in out["cpu_s"].items() if k.startswith(f"{t.name}:"))

    def live(self, names: tuple[str, ...] = TARGETS) -> list[Target]:
        return [self.targets[n] for n in names if self.targets[n].ok]


# --------------------------------------------------------------------------- statistics


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


def median(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


# --------------------------------------------------------------------------- phases


def phase_latency(rig: Rig, R: dict[str, Any]) -> None:
    a = rig.args
    log(f"c=1 latency: {a.rounds} rounds x ({a.warmup} warm-up + {a.n} requests) per target and store mode")
    order = rig.live()
    per: dict[tuple[str, bool], list[dict[str, float]]] = {}
    for rnd in range(a.rounds):
        targets = order if rnd % 2 == 0 else list(reversed(order))
        for t in targets:
            stores = (False, True) if rnd % 2 == 0 else (True, False)
            for store in stores:
                n = a.n if t.name != "litellm" else max(100, a.n // a.litellm_divisor)
                out = rig.measure(t, "fast", {"op": "lat", "body": rig.body(t, "fast", store=store), "n": n, "warmup": a.warmup if t.name != "litellm" else min(a.warmup, 50)})
                lat = out.get("lat_us", [])
                per.setdefault((t.name, store), []).append(
                    {"p50": pct(lat, 50), "p99": pct(lat, 99), "errors": out.get("errors", -1), "n": len(lat), "cpu_us": rig.gw_cpu(t, out) / max(1, len(lat)) * 1e6}
                )
    for store in (False, True):
        direct = per.get(("direct", store), [])
        for t in order:
            rows = per.get((t.name, store), [])
            key = f"lat_{'on' if store else 'off'}"
            res: dict[str, Any] = {
                "p50_us": median([r["p50"] for r in rows]),
                "p99_us": median([r["p99"] for r in rows]),
                "rounds": rows,
                "errors": sum(r["errors"] for r in rows),
                "cpu_us_per_req_c1": median([r["cpu_us"] for r in rows]) if t.name != "direct" else None,
            }
            if t.name != "direct" and direct:
                res["added_p50_us"] = median([r["p50"] - d["p50"] for r, d in zip(rows, direct) if r["p50"] and d["p50"]])
                res["added_p99_us"] = median([r["p99"] - d["p99"] for r, d in zip(rows, direct) if r["p99"] and d["p99"]])
                res["added_p50_rounds"] = [r["p50"] - d["p50"] for r, d in zip(rows, direct) if r["p50"] and d["p50"]]
                res["added_p99_rounds"] = [r["p99"] - d["p99"] for r, d in zip(rows, direct) if r["p99"] and d["p99"]]
            R.setdefault(t.name, {})[key] = res


def phase_stream_seq(rig: Rig, R: dict[str, Any]) -> None:
    a = rig.args
    log(f"streaming c=1: {a.rounds} rounds x ({a.stream_warmup} warm-up + {a.stream_n} streams)")
    order = rig.live()
    per: dict[tuple[str, bool], list[dict[str, float]]] = {}
    for rnd in range(a.rounds):
        targets = order if rnd % 2 == 0 else list(reversed(order))
        for t in targets:
            for store in (False, True) if rnd % 2 == 0 else (True, False):
                n = a.stream_n if t.name != "litellm" else max(50, a.stream_n // a.litellm_divisor)
                out = rig.measure(t, "fast", {"op": "stream_seq", "body": rig.body(t, "fast", store=store, stream=True, text=LONG_INPUT), "n": n, "warmup": min(a.stream_warmup, 20) if t.name == "litellm" else a.stream_warmup})
                rows = out.get("rows", [])
                per.setdefault((t.name, store), []).append(
                    {
                        "ttfe_p50": pct([r[0] for r in rows], 50),
                        "ttft_p50": pct([r[1] for r in rows], 50),
                        "ttft_p99": pct([r[1] for r in rows], 99),
                        "span_p50": pct([r[2] for r in rows], 50),
                        "events": median([r[3] for r in rows]),
                        "errors": out.get("errors", -1),
                        "n": len(rows),
                        "cpu_us_per_event": rig.gw_cpu(t, out) * 1e6 / max(1, sum(r[3] for r in rows)),
                    }
                )
    for store in (False, True):
        direct = per.get(("direct", store), [])
        for t in order:
            rows = per.get((t.name, store), [])
            res: dict[str, Any] = {
                "ttft_p50_us": median([r["ttft_p50"] for r in rows]),
                "ttft_p99_us": median([r["ttft_p99"] for r in rows]),
                "span_p50_us": median([r["span_p50"] for r in rows]),
                "events": median([r["events"] for r in rows]),
                "errors": sum(r["errors"] for r in rows),
                "rounds": rows,
                "cpu_us_per_event_c1": median([r["cpu_us_per_event"] for r in rows]) if t.name != "direct" else None,
            }
            if t.name != "direct" and direct:
                res["added_ttft_p50_us"] = median([r["ttft_p50"] - d["ttft_p50"] for r, d in zip(rows, direct) if r["ttft_p50"] and d["ttft_p50"]])
                res["added_ttft_p99_us"] = median([r["ttft_p99"] - d["ttft_p99"] for r, d in zip(rows, direct) if r["ttft_p99"] and d["ttft_p99"]])
                res["us_per_event"] = median(
                    [(r["span_p50"] - d["span_p50"]) / r["events"] for r, d in zip(rows, direct) if r["span_p50"] is not None and d["span_p50"] is not None and r["events"]]
                )
            R.setdefault(t.name, {})[f"stream_{'on' if store else 'off'}"] = res


def phase_max(rig: Rig, R: dict[str, Any]) -> None:
    a = rig.args
    log(f"max proxy throughput (instant upstream): closed loop c in {a.max_c}, {a.step_s:g}s per step")
    for t in rig.live():
        for store in (False, True):
            best: dict[str, Any] | None = None
            steps = []
            for c in a.max_c:
                out = rig.measure(t, "fast", {"op": "closed", "bodies": [rig.body(t, "fast", store=store)], "c": c, "duration": a.step_s, "warmup_s": a.warmup_s, "timeout": 30})
                step = _step(rig, t, c, out)
                steps.append(step)
                if best is None or step["rps"] > best["rps"]:
                    best = step
            R.setdefault(t.name, {})[f"max_{'on' if store else 'off'}"] = {**(best or {}), "steps": steps}
            if best:
                log(f"  {t.name:8s} store {'on ' if store else 'off'}: {best['rps']:.0f} req/s (c={best['c']}, p99 {best['p99_ms']:.1f} ms, gw {best['gw_cpu_us']:.0f} µs/req)")


def _step(rig: Rig, t: Target, c: int, out: dict[str, Any]) -> dict[str, Any]:
    wall = out.get("wall_total_s", 1.0)
    ok = max(1, out.get("ok", 0))
    n = max(1, out.get("n", 0))
    return {
        "c": c,
        "rps": out.get("rps", 0.0),
        "p50_ms": (out.get("p50_us") or 0) / 1e3,
        "p99_ms": (out.get("p99_us") or 0) / 1e3,
        "errors": out.get("errors", 0),
        "error_rate": out.get("errors", 0) / n,
        "err_samples": out.get("err_samples", []),
        "gw_cpu_us": rig.gw_cpu(t, out) * 1e6 / ok,
        "cpu_us": {k: v * 1e6 / ok for k, v in out["cpu_s"].items()},
        "cores": {k: v / wall for k, v in out["cpu_s"].items()},
    }


def phase_sustained(rig: Rig, R: dict[str, Any]) -> None:
    a = rig.args
    log(f"sustained throughput (upstream answers after {a.upstream_latency_ms:g} ms): closed-loop sweep c in {a.sweep_c}")
    for t in rig.live():
        for store in a.sustained_stores:
            best: dict[str, Any] | None = None
            steps = []
            prev_rps = 0.0
            for c in a.sweep_c:
                out = rig.measure(t, "l20", {"op": "closed", "bodies": [rig.body(t, "l20", store=store)], "c": c, "duration": a.step_s, "warmup_s": a.warmup_s, "timeout": 30})
                step = _step(rig, t, c, out)
                step["pass"] = step["p99_ms"] < 1000 and step["error_rate"] < 0.001 and out.get("ok", 0) > 0
                steps.append(step)
                if step["pass"] and (best is None or step["rps"] > best["rps"]):
                    best = step
                if not step["pass"] or step["rps"] < prev_rps * 0.97:
                    break  # past the knee
                prev_rps = step["rps"]
            key = f"sustained_{'on' if store else 'off'}"
            R.setdefault(t.name, {})[key] = {**(best or {"rps": None, "none_passed": True}), "steps": steps}
            log(f"  {t.name:8s} store {'on ' if store else 'off'}: {(best or {}).get('rps', 0):.0f} req/s (c={(best or {}).get('c')})")


def phase_streams(rig: Rig, R: dict[str, Any]) -> None:
    a = rig.args
    stall_ms = a.token_delay_ms + 100
    log(f"concurrent streams {a.stream_c} (token delay {a.token_delay_ms:g} ms, stall = gap > {stall_ms:g} ms), {a.streams_s:g}s each")
    for store in a.stream_stores:
        for t in rig.live():
            if t.name == "direct" and store:
                continue  # the fake's own store is not what is measured
            _streams_for(rig, R, t, store, stall_ms)


def _streams_for(rig: Rig, R: dict[str, Any], t: Target, store: bool, stall_ms: float) -> None:
    a = rig.args
    if True:
        res = {}
        for c in a.stream_c:
            out = rig.measure(
                t,
                "tok",
                {"op": "stream_conc", "body": rig.body(t, "tok", store=store, stream=True, text=STALL_INPUT), "c": c, "duration": a.streams_s, "ramp_s": 0.5 if a.quick else 1.0, "stall_ms": stall_ms, "timeout": 15 if a.quick else 60, "hard_timeout": a.streams_s + 120},
            )
            out["gw_cpu_us_per_event"] = rig.gw_cpu(t, out) * 1e6 / max(1, out.get("events", 0))
            out["stall_free"] = out.get("streams", 0) > 0 and out.get("stalled", 1) == 0 and out.get("late_start", 1) == 0 and out.get("errors", 1) == 0
            res[c] = out
            log(
                f"  {t.name:8s} store {'on ' if store else 'off'} c={c:3d}: {out.get('streams')} streams, {out.get('stalled')} stalled, {out.get('late_start')} late, {out.get('errors')} errors, "
                f"max gap {(out.get('max_gap_ms') or 0):.0f} ms, TTFT p99 {(out.get('ttft_p99_ms') or 0):.0f} ms"
            )
        R.setdefault(t.name, {})[f"streams_{'on' if store else 'off'}"] = res


def phase_soak(rig: Rig, R: dict[str, Any]) -> None:
    a = rig.args
    names = ("serve", "split") + (("litellm",) if a.soak_litellm else ())
    log(f"soak: {a.soak_seconds:g}s per layout ({', '.join(names)}), c={a.soak_c}, 20 ms upstream, mixed store on/off + streaming")
    for t in rig.live(names):
        bodies = [
            rig.body(t, "l20", store=False),
            rig.body(t, "l20", store=True),
            rig.body(t, "l20", store=False, stream=True),
            rig.body(t, "l20", store=True, stream=True),
        ]
        rig.measure(t, "l20", {"op": "closed", "bodies": bodies, "c": a.soak_c, "duration": min(10.0, a.soak_seconds / 10), "warmup_s": 0.5})
        before = {k: rss_kb(c.pid, tree=t.tree) for k, c in t.procs.items()}
        segments = 10 if a.soak_seconds >= 60 else 2
        samples = []
        total_ok = total_err = 0
        cpu = 0.0
        for _ in range(segments):
            out = rig.measure(t, "l20", {"op": "closed", "bodies": bodies, "c": a.soak_c, "duration": a.soak_seconds / segments, "warmup_s": 0.0, "hard_timeout": a.soak_seconds + 120})
            total_ok += out.get("ok", 0)
            total_err += out.get("errors", 0)
            cpu += rig.gw_cpu(t, out)
            samples.append({k: rss_kb(c.pid, tree=t.tree) for k, c in t.procs.items()})
        after = samples[-1]
        growth = {k: (after[k] - before[k]) / before[k] * 100 if before[k] else None for k in before}
        R.setdefault(t.name, {})["soak"] = {
            "rss_before_kb": before,
            "rss_after_kb": after,
            "samples_kb": samples,
            "growth_pct": growth,
            "requests": total_ok,
            "errors": total_err,
            "gw_cpu_us_per_req": cpu * 1e6 / max(1, total_ok),
        }
        log(f"  {t.name:8s}: RSS {before} -> {after} kB ({', '.join(f'{k} {v:+.1f}%' for k, v in growth.items() if v is not None)}), {total_ok} requests, {total_err} errors")


# --------------------------------------------------------------------------- the table


def _ms(us: float | None, sign: bool = False) -> str:
    if us is None:
        return "—"
    return f"{'+' if sign and us >= 0 else ''}{us / 1000:.2f} ms"


def _num(v: float | None, unit: str = "", fmt: str = "{:.0f}") -> str:
    return "—" if v is None else fmt.format(v) + unit


def _ratio(better: float | None, worse: float | None) -> str:
    """How many times `better` beats `worse` (both same sense: worse/better)."""
    if better is None or worse is None or better <= 0:
        return "—"
    return f"{worse / better:.1f}×"


def _get(R: dict[str, Any], target: str, *path: Any) -> Any:
    cur: Any = R.get(target)
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return None
        cur = cur[p]
    return cur


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "NO")


def _le(v: float | None, limit: float) -> bool | None:
    return None if v is None else v <= limit


def _ge(v: float | None, limit: float) -> bool | None:
    return None if v is None else v >= limit


def build_table(rig: Rig, R: dict[str, Any]) -> str:
    a = rig.args
    na = {n: (rig.targets[n].error if not rig.targets[n].ok else None) for n in TARGETS}
    rows: list[list[str]] = []

    def cell(n: str, text: str) -> str:
        return f"n/a ({na[n][:40]})" if na.get(n) else text

    def add(label: str, direct: str, vals: dict[str, str], lower_better: bool | None, raw: dict[str, float | None], target: str, verdict: str) -> None:
        if lower_better is None:
            r1 = r2 = "—"
        elif lower_better:
            r1, r2 = _ratio(raw.get("serve"), raw.get("litellm")), _ratio(raw.get("split"), raw.get("litellm"))
        else:
            r1, r2 = _ratio(raw.get("litellm"), raw.get("serve")), _ratio(raw.get("litellm"), raw.get("split"))
        rows.append([label, direct, cell("serve", vals["serve"]), cell("split", vals["split"]), cell("litellm", vals["litellm"]), r1, r2, target, verdict])

    # added latency, c=1
    for store in ("off", "on"):
        for p in ("p50", "p99"):
            raw = {n: _get(R, n, f"lat_{store}", f"added_{p}_us") for n in GATEWAYS}
            d = _get(R, "direct", f"lat_{store}", f"{p}_us")
            vals = {n: _ms(raw[n], sign=True) for n in GATEWAYS}
            lim_serve = {"p50": 1000, "p99": 2000 if store == "off" else 3000}[p]
            lim_split = {"p50": 2000, "p99": 4000}[p]
            add(
                f"added latency c=1 {p}, store {store}",
                _ms(d),
                vals,
                True,
                raw,
                f"serve ≤{lim_serve / 1000:g} / split ≤{lim_split / 1000:g} ms",
                f"{_verdict(_le(raw['serve'], lim_serve))} / {_verdict(_le(raw['split'], lim_split))}",
            )
    # throughput
    for store in ("off", "on"):
        raw = {n: _get(R, n, f"max_{store}", "rps") for n in TARGETS}
        vals = {n: f"{_num(raw[n], ' req/s')} (c={_get(R, n, f'max_{store}', 'c')})" for n in GATEWAYS}
        lim = 2000 if store == "off" else 1000
        v_serve = _ge(raw["serve"], lim)
        x20 = None if raw["serve"] is None or not raw.get("litellm") else raw["serve"] >= 20 * raw["litellm"]
        add(
            f"max proxy throughput, instant upstream, store {store}",
            _num(raw["direct"], " req/s"),
            vals,
            False,
            raw,
            f"serve ≥{lim} & ≥20× LiteLLM / split ≥1000",
            f"{_verdict(v_serve)}{'' if x20 is None else (' & yes' if x20 else ' & NO')} / {_verdict(_ge(raw['split'], 1000))}",
        )
    for store in ("off", "on"):
        if not any(_get(R, n, f"sustained_{store}") for n in TARGETS):
            continue
        raw = {n: _get(R, n, f"sustained_{store}", "rps") for n in TARGETS}
        vals = {
            n: "no step passed (first: c={c} {rps:.0f}/s p99 {p99:.0f} ms)".format(**(_get(R, n, f"sustained_{store}", "steps") or [{}])[0] | {"p99": (_get(R, n, f"sustained_{store}", "steps") or [{}])[0].get("p99_ms", 0)})
            if _get(R, n, f"sustained_{store}", "none_passed") and _get(R, n, f"sustained_{store}", "steps")
            else f"{_num(raw[n], ' req/s')} (c={_get(R, n, f'sustained_{store}', 'c')})"
            for n in GATEWAYS
        }
        add(f"sustained @{a.upstream_latency_ms:g} ms upstream (p99<1s, err<0.1%), store {store}", _num(raw["direct"], " req/s"), vals, False, raw, "—", "—")
    for store in ("off", "on"):
        raw = {n: _get(R, n, f"max_{store}", "gw_cpu_us") for n in GATEWAYS}
        vals = {}
        for n in GATEWAYS:
            per = _get(R, n, f"max_{store}", "cpu_us") or {}
            parts = [f"{k.split(':', 1)[1]} {v:.0f}" for k, v in per.items() if k.startswith(f"{n}:")]
            vals[n] = _num(raw[n], " µs") + (f" ({' + '.join(parts)})" if len(parts) > 1 else "")
        up = _get(R, "direct", f"max_{store}", "cpu_us") or {}
        add(f"gateway CPU per request at max throughput, store {store}", f"upstream {up.get('upstream-fast', 0):.0f} µs", vals, True, raw, "—", "—")
    # streaming
    for store in ("off", "on"):
        for p in ("p50", "p99"):
            raw = {n: _get(R, n, f"stream_{store}", f"added_ttft_{p}_us") for n in GATEWAYS}
            d = _get(R, "direct", f"stream_{store}", f"ttft_{p}_us")
            vals = {n: _ms(raw[n], sign=True) for n in GATEWAYS}
            tgt, ver = ("serve ≤5 ms", _verdict(_le(raw["serve"], 5000))) if p == "p99" else ("—", "—")
            add(f"added TTFT c=1 {p}, store {store}", _ms(d), vals, True, raw, tgt, ver)
        raw = {n: _get(R, n, f"stream_{store}", "us_per_event") for n in GATEWAYS}
        ev = _get(R, "direct", f"stream_{store}", "events")
        span = _get(R, "direct", f"stream_{store}", "span_p50_us")
        vals = {n: _num(raw[n], " µs", "{:+.1f}") for n in GATEWAYS}
        add(
            f"per-event overhead c=1, store {store}",
            f"span {_num(span, ' µs')} / {_num(ev, ' ev')}",
            vals,
            True,
            raw,
            "serve ≤30 / split ≤150 µs",
            f"{_verdict(_le(raw['serve'], 30))} / {_verdict(_le(raw['split'], 150))}",
        )
    for st in a.stream_stores:
        key = f"streams_{'on' if st else 'off'}"
        dkey = "streams_off"  # the direct baseline runs once, store off
        for c in a.stream_c:
            def sc(n: str, c: int = c, key: str = key) -> str:
                s = _get(R, n, dkey if n == "direct" else key, c)
                if not s:
                    return "—"
                if "fatal" in s:
                    return f"failed: {s['fatal'][:40]}"
                return (
                    f"{'ok' if s.get('stall_free') else 'STALL'} {s.get('stalled')}/{s.get('streams')} stalled, {s.get('late_start')} late, {s.get('errors')} err, "
                    f"max gap {_num(s.get('max_gap_ms'), ' ms')}, TTFT p99 {_num(s.get('ttft_p99_ms'), ' ms')}"
                )

            sf = {n: (_get(R, n, key, c) or {}).get("stall_free") for n in GATEWAYS}
            rows.append(
                [f"{c} concurrent streams, store {'on' if st else 'off'} (token delay {a.token_delay_ms:g} ms)", sc("direct"), cell("serve", sc("serve")), cell("split", sc("split")), cell("litellm", sc("litellm")), "—", "—",
                 "serve: no stall at 512" if c == 512 else "—", _verdict(sf["serve"]) if c == 512 else "—"]
            )
        c = max(a.stream_c)
        raw = {n: (_get(R, n, key, c) or {}).get("gw_cpu_us_per_event") for n in GATEWAYS}
        add(f"gateway CPU per streamed event at {c} streams, store {'on' if st else 'off'}", "—", {n: _num(raw[n], " µs") for n in GATEWAYS}, True, raw, "—", "—")
    # soak
    for_soak = {}
    for n in GATEWAYS:
        s = _get(R, n, "soak")
        if not s:
            for_soak[n] = "—"
            continue
        parts = [
            f"{k} {s['rss_before_kb'][k] / 1024:.0f}→{s['rss_after_kb'][k] / 1024:.0f} MB ({s['growth_pct'][k]:+.1f}%)" for k in s["rss_before_kb"]
        ]
        for_soak[n] = "; ".join(parts) + f", {s['requests']} req, {s['errors']} err"
    growth_ok = []
    for n in ("serve", "split"):
        g = _get(R, n, "soak", "growth_pct")
        if g:
            growth_ok.append(all(v is not None and v < 5 for v in g.values()))
    rows.append([f"RSS over a {a.soak_seconds:g}s soak", "—", cell("serve", for_soak["serve"]), cell("split", for_soak["split"]), cell("litellm", for_soak["litellm"]), "—", "—", "growth < 5 %",
                 " / ".join(_verdict(x) for x in growth_ok) or "—"])

    header = ["figure", "direct", "serve", "split", "LiteLLM", "serve vs LiteLLM", "split vs LiteLLM", "target (serve / split)", "met"]
    return _markdown(header, rows)


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |", "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return "\n".join(lines)


def cpu_table(rig: Rig, R: dict[str, Any]) -> str:
    """Each process's share of the 2 cores during the max-throughput run (store off)."""
    rows = []
    for n in TARGETS:
        s = _get(R, n, "max_off")
        if not s:
            continue
        cores = ", ".join(f"{k} {v:.2f}" for k, v in s["cores"].items())
        per = ", ".join(f"{k} {v:.0f}" for k, v in s["cpu_us"].items())
        rows.append([n, f"c={s['c']}", f"{s['rps']:.0f}", cores, per])
    for key in ("streams_off", "streams_on"):
        for n in TARGETS:
            s = _get(R, n, key, max(rig.args.stream_c))
            if not s or "cpu_s" not in s:
                continue
            wall = s.get("wall_total_s") or 1.0
            cores = ", ".join(f"{k} {v / wall:.2f}" for k, v in s["cpu_s"].items())
            rows.append([n, f"{max(rig.args.stream_c)} streams, {key.replace('streams_', 'store ')}", f"{s.get('events_per_s', 0):.0f} ev/s", cores, f"gateway {s.get('gw_cpu_us_per_event', 0):.1f} µs/event"])
    return _markdown(["target", "load", "req/s", "cores used (CPU s / wall s)", "CPU µs per request"], rows)


def lat_detail(rig: Rig, R: dict[str, Any]) -> str:
    rows = []
    for store in ("off", "on"):
        for n in TARGETS:
            s = _get(R, n, f"lat_{store}")
            if not s:
                continue
            rows.append(
                [
                    f"{n} store {store}",
                    _ms(s["p50_us"]),
                    _ms(s["p99_us"]),
                    " ".join(f"{r['p50'] / 1000:.2f}/{r['p99'] / 1000:.2f}" for r in s["rounds"] if r["p50"]),
                    " ".join(f"{x / 1000:+.2f}" for x in s.get("added_p50_rounds", [])) or "—",
                    " ".join(f"{x / 1000:+.2f}" for x in s.get("added_p99_rounds", [])) or "—",
                    _num(s.get("cpu_us_per_req_c1"), " µs"),
                    str(s["errors"]),
                ]
            )
    return _markdown(["c=1 non-streaming", "p50 (median of rounds)", "p99", "per round p50/p99 ms", "added p50 per round", "added p99 per round", "gw CPU/req c=1", "errors"], rows)


def sweep_detail(R: dict[str, Any]) -> str:
    rows = []
    for n in TARGETS:
        for key in ("max_off", "max_on", "sustained_off", "sustained_on"):
            s = _get(R, n, key)
            if not s:
                continue
            steps = "  ".join(f"c{st['c']}: {st['rps']:.0f}/s p99 {st['p99_ms']:.0f}ms err {st['errors']}" for st in s["steps"])
            rows.append([n, key, steps])
    return _markdown(["target", "run", "steps (req/s, p99, errors)"], rows)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=textwrap.dedent(__doc__ or ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short run (< 4 minutes), 20 s soak")
    p.add_argument("--soak-seconds", type=float, default=None, help="soak length per gateway layout (default 600, quick 20)")
    p.add_argument("--soak-c", type=int, default=32)
    p.add_argument("--soak-litellm", action="store_true", help="soak LiteLLM too")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--n", type=int, default=None, help="measured c=1 requests per round")
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--upstream-latency-ms", type=float, default=20.0)
    p.add_argument("--token-delay-ms", type=float, default=50.0, help="the streaming upstream's delay per word")
    p.add_argument("--pool-size", type=int, default=0, help="set the gateway's upstream pool_size (default: the gateway's own default)")
    p.add_argument("--workers", type=int, default=1, help="`serve --workers N`: worker processes sharing the ports")
    p.add_argument("--no-litellm", action="store_true")
    p.add_argument("--only", default="latency,stream,max,sustained,streams,soak", help="phases to run (comma list)")
    p.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    p.add_argument("--pyspy", type=Path, default=None, help="record the gateway processes with py-spy (raw stacks) into this directory")
    p.add_argument("--pyspy-phases", default="max,streams", help="phases to record with --pyspy")
    args = p.parse_args(argv)
    q = args.quick
    args.rounds = args.rounds or (2 if q else 4)
    args.n = args.n or (300 if q else 1000)
    args.warmup = args.warmup if args.warmup is not None else (100 if q else 200)
    args.litellm_divisor = 3 if q else 2  # LiteLLM is ~20x slower per request: fewer samples keep the run short
    args.stream_n = 100 if q else 300
    args.stream_warmup = 20 if q else 50
    args.max_c = [64] if q else [32, 64, 128]
    args.sweep_c = [32, 128] if q else [8, 16, 32, 64, 128, 256, 512]
    args.sustained_stores = (False,) if q else (False, True)
    args.step_s = 2.5 if q else 8.0
    args.warmup_s = 1.0 if q else 2.0
    args.stream_c = [32, 128, 512]
    args.streams_s = 3.0 if q else 10.0
    args.stream_stores = (False,) if q else (False, True)
    args.soak_seconds = args.soak_seconds if args.soak_seconds is not None else (20.0 if q else 600.0)
    args.phases = set(args.only.split(","))
    args.pyspy_phases = set(args.pyspy_phases.split(","))
    return args


def versions() -> str:
    out = [f"python {sys.version.split()[0]}"]
    for mod in ("aiohttp", "grpc", "google.protobuf", "orjson", "uvloop"):
        try:
            m = __import__(mod, fromlist=["__version__"])
            out.append(f"{mod.split('.')[-1]} {getattr(m, '__version__', '?')}")
        except ImportError:
            pass
    try:
        from google.protobuf.internal import api_implementation

        out.append(f"protobuf backend {api_implementation.Type()}")
    except ImportError:
        pass
    try:
        r = subprocess.run([str(LITELLM_VENV / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('litellm'))"], capture_output=True, text=True, timeout=60)
        if r.returncode == 0:
            out.append(f"litellm {r.stdout.strip()}")
    except (OSError, subprocess.SubprocessError):
        pass
    return ", ".join(out)


_WAKE_PEER = """
import select, socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
ep = select.epoll(); ep.register(c.fileno(), select.EPOLLIN)
while True:
    ep.poll()
    if not c.recv(65536):
        break
"""


def machine_speed() -> str:
    """Two gauges of the virtual machine, which drifts from day to day: figures of two runs compare only beside these.

    * the interpreter: `sum(range(10000))`, best of 5;
    * a loopback send that wakes a peer sleeping in epoll (a streamed event with a
      token delay is such a send): median of 300, 10 ms apart.
    """
    import socket
    import timeit

    loop_us = min(timeit.repeat("sum(range(10000))", number=200, repeat=5)) / 200 * 1e6
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    peer = subprocess.Popen([PY, "-c", _WAKE_PEER, str(listener.getsockname()[1])])
    try:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sends = []
        for _ in range(300):
            time.sleep(0.01)
            t = time.perf_counter()
            conn.send(b"x" * 200)
            sends.append(time.perf_counter() - t)
        conn.close()
    finally:
        listener.close()
        peer.wait(10)
    return f"sum(range(10000)) {loop_us:.0f} µs; send waking an idle peer {statistics.median(sends) * 1e6:.0f} µs"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.monotonic()
    speed = machine_speed()
    log(f"machine: {speed}")
    rig = Rig(args)
    R: dict[str, Any] = {}
    # A starved VM looks like a slow gateway; steal per phase tells the two apart.
    steal: dict[str, float] = {}
    run_start = HostTicks.now()
    interrupted = False
    try:
        log(f"logs and databases in {rig.tmp}")
        rig.start()
        for n, t in rig.targets.items():
            if not t.ok:
                log(f"{n}: n/a — {t.error}")
        log(f"ready after {time.monotonic() - t0:.0f}s")
        phases = [("latency", phase_latency), ("stream", phase_stream_seq), ("max", phase_max), ("sustained", phase_sustained), ("streams", phase_streams), ("soak", phase_soak)]
        for name, fn in phases:
            if name in args.phases:
                rig.phase = name
                phase_start = HostTicks.now()
                fn(rig, R)
                steal[name] = HostTicks.now().steal_since(phase_start)
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: stopping every child process")
    finally:
        rig.stop()
    cpus = os.cpu_count()
    print()
    print(f"## responses-gateway benchmark ({'quick' if args.quick else 'full'} run, {time.strftime('%Y-%m-%d %H:%M')}, {time.monotonic() - t0:.0f}s{', INTERRUPTED' if interrupted else ''})")
    print(f"{cpus} cores shared by load generator, upstream and gateway; loopback; {versions()}")
    print(f"machine speed: {speed}")
    steal["run"] = HostTicks.now().steal_since(run_start)
    print("CPU steal (time the host gave to other guests): " + ", ".join(f"{k} {v:.0%}" for k, v in steal.items()))
    print(
        f"c=1: {args.rounds} interleaved rounds x ({args.warmup} warm-up + {args.n} requests), LiteLLM {max(100, args.n // args.litellm_divisor)} per round; "
        f"max/sustained: closed loop, {args.step_s:g}s steps; streams: {args.streams_s:g}s, token delay {args.token_delay_ms:g} ms"
    )
    print()
    print(build_table(rig, R))
    print()
    print(lat_detail(rig, R))
    print()
    print(sweep_detail(R))
    print()
    print(cpu_table(rig, R))
    for n, t in rig.targets.items():
        if not t.ok:
            print(f"\n{n}: n/a — {t.error}")
    if args.json:
        args.json.write_text(json.dumps({"machine": speed, "steal": steal, "args": {k: (sorted(v) if isinstance(v, set) else v) for k, v in vars(args).items() if k != "json"}, "results": R}, indent=1, default=str))
    if not interrupted:
        shutil.rmtree(rig.tmp / "logs", ignore_errors=True) if os.environ.get("BENCH_RM_LOGS") else None
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
