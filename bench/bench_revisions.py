"""Old code beside new code: bench_gateway.py's c=1 and max-throughput rows, interleaved.

    python bench/bench_revisions.py --quick                       # baseline 715aced vs this working tree; about 3.5 minutes
    python bench/bench_revisions.py --quick --new-rev 715aced     # A/A: the same code on both sides (the noise floor)
    python bench/bench_revisions.py --quick --baseline-rev HEAD   # any commit-ish as the old code
    python bench/bench_revisions.py                               # full sizes (1000 requests, c in 32,64,128, 8 s steps)

Targets, all in one rig (same fake upstreams, same load generator, same run):

  direct       the fake upstream itself (the limit, and a drift gauge per round)
  serve        `serve` from this working tree (uncommitted changes included)
  serve@base   `serve` from the baseline tree
  split        `serve grpc` + `serve bridge` from this working tree
  split@base   the same from the baseline tree

The baseline tree is `git worktree add --detach /tmp/rg-baseline-<sha12> REV`, made
once and reused. Every gateway process starts through bench/_rev_launch.py, which
puts TREE/src first on sys.path and refuses to run unless the package it imported
lies inside TREE/src; before measuring, this script reads each process's
`rg-launch:` line back from its log and stops if any process imported the wrong tree.
Both trees use this venv's dependencies.

Phases (bench_gateway.py's own functions), --rounds (default 4) interleaved rounds each:
  latency  bench_gateway.phase_latency: target order and store order alternate
           between rounds; added = target percentile - direct percentile of the
           same round.
  max      bench_gateway.phase_max once per round, target order alternating; per
           round the best req/s over the concurrencies (and the gateway CPU
           µs/request of that step).
The cells are medians over rounds; `new/old` is the median over rounds of each
round's new ÷ old, so drift of the machine between rounds cancels out; [lowest–highest]
per-round ratio beside it, and for latency the median of new − old.

Other options (--quick, --rounds, --n, --warmup, --pool-size, --workers, --json,
--pyspy) are bench_gateway.py's and mean the same.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_gateway as bg  # noqa: E402
from _procs import HostTicks  # noqa: E402

ROOT = bg.ROOT
LAUNCHER = bg.BENCH / "_rev_launch.py"
DEFAULT_BASELINE = "715aced"  # the commit the src/ refactor starts from
LAYOUTS = ("serve", "split")
BASE = "@base"
HEADERS = {"Authorization": "Bearer sk-test-fake", "Content-Type": "application/json"}  # what loadgen.py sends
log = bg.log


# --------------------------------------------------------------------------- trees


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


def _try_git(*args: str, cwd: Path = ROOT) -> str | None:
    try:
        return _git(*args, cwd=cwd)
    except (subprocess.CalledProcessError, OSError):
        return None


def checkout(rev: str, prefix: str = "rg-baseline") -> tuple[Path, str]:
    """A detached worktree of `rev` under /tmp (made once, then reused); returns (path, full sha)."""
    try:
        sha = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"not a commit: {rev} ({exc.stderr.strip()})") from exc
    path = Path(tempfile.gettempdir()) / f"{prefix}-{sha[:12]}"
    if path.exists():
        try:
            head = _git("rev-parse", "HEAD", cwd=path)
            dirty = _git("status", "--porcelain", "--untracked-files=no", cwd=path)
        except subprocess.CalledProcessError as exc:
            raise SystemExit(f"{path} exists but is not a git checkout ({exc.stderr.strip()}); move it away") from exc
        if head != sha or dirty:
            raise SystemExit(f"{path} is not a clean checkout of {sha[:12]} (HEAD {head[:12]}, changes: {dirty[:200]!r}); move it away")
        log(f"{prefix}: reusing {path}")
    else:
        log(f"{prefix}: git worktree add --detach {path} {sha[:12]}")
        # --force: the path may still be registered from a worktree whose directory was deleted.
        r = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--force", "--detach", str(path), sha], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"git worktree add failed: {r.stderr.strip()}")
    if not (path / "src" / "responses_gateway" / "__init__.py").exists():
        raise SystemExit(f"{path}/src/responses_gateway is missing")
    return path, sha


def describe_new(base_sha: str) -> str:
    """What the working tree's src/ is, relative to the baseline."""
    head = _git("rev-parse", "HEAD")
    diff_out = _try_git("diff", "--name-only", base_sha, "--", "src")
    if diff_out is None:
        return f"HEAD {head[:12]}; the baseline ({base_sha[:12]}) is not a commit of this repository"
    changed = [f for f in diff_out.splitlines() if f]
    untracked = [f for f in _git("ls-files", "--others", "--exclude-standard", "--", "src").splitlines() if f]
    dirty = len([f for f in _git("status", "--porcelain", "--untracked-files=all", "--", "src").splitlines() if f])
    diff = f"{len(changed)} tracked file(s) differ from the baseline, {len(untracked)} untracked"
    if not changed and not untracked:
        diff = "src/ IDENTICAL to the baseline: expect ratios of 1.0 within noise"
    return f"HEAD {head[:12]}{f' + {dirty} uncommitted change(s) in src/' if dirty else ''}; {diff}"


# --------------------------------------------------------------------------- rig


class RevRig(bg.Rig):
    """bench_gateway's rig with every gateway started from a given tree, plus the baseline's serve and split."""

    def __init__(self, args: argparse.Namespace, trees: dict[str, Path]) -> None:
        super().__init__(args)
        self.trees = trees  # target name -> tree (checkout with src/)
        self.order = ["direct", *(n for lay in LAYOUTS for n in (lay, lay + BASE))]
        self.imported: dict[str, list[str]] = {}

    def _gateway_cmd(self, name: str) -> list[str]:
        return [bg.PY, str(LAUNCHER), str(self.trees[name])]

    def start(self) -> None:
        super().start()  # upstreams, direct, serve, split (new tree), load generator; LiteLLM is off
        for lay in LAYOUTS:
            n = lay + BASE
            self.targets[n] = self._start_serve(n) if lay == "serve" else self._start_split(n)

    def live(self, names: tuple[str, ...] | None = None) -> list[bg.Target]:
        return super().live(tuple(names or self.order))

    def verify_trees(self) -> None:
        """Each gateway process must have logged `rg-launch: pid PID responses_gateway from TREE/src/...`."""
        bad = []
        for name in self.order[1:]:
            t = self.targets[name]
            src = (self.trees[name] / "src").resolve()
            if not t.ok:
                refused = [c.log for c in t.procs.values() if "rg-launch: REFUSED" in c.log.read_text(errors="replace")]
                if refused:
                    bad.append(f"{name}: the launcher refused to start it: see {refused[0]}")
                continue  # it did not start: the table shows n/a
            for role, child in t.procs.items():
                text = child.log.read_text(errors="replace")
                lines = re.findall(r"^rg-launch: pid (\d+) responses_gateway from (\S+)$", text, re.M)
                mine = [p for pid, p in lines if int(pid) == child.pid]
                if not mine or any(not Path(p).resolve().is_relative_to(src) for _, p in lines):
                    bad.append(f"{name}:{role} (pid {child.pid}) imported {[p for _, p in lines] or 'nothing logged'}, expected under {src}")
                self.imported[f"{name}:{role}"] = sorted({p for _, p in lines})
        if bad:
            raise SystemExit("refusing to measure, a gateway runs the wrong code:\n  " + "\n  ".join(bad))

    def preflight(self) -> None:
        """One request per gateway and store mode; a gateway that cannot answer is left out (n/a), not timed."""
        for name in self.order[1:]:
            t = self.targets[name]
            for store in (False, True):
                if not t.ok:
                    break
                req = urllib.request.Request(t.base["fast"], data=self.body(t, "fast", store=store).encode(), headers=HEADERS)
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        status, body = resp.status, resp.read()
                except urllib.error.HTTPError as exc:
                    status, body = exc.code, exc.read()
                except OSError as exc:
                    status, body = 0, str(exc).encode()
                if status != 200 or b'"completed"' not in body:
                    t.error = f"preflight store {'on' if store else 'off'}: HTTP {status} {body[:160].decode(errors='replace')}"
                    log(f"{name}: n/a — {t.error}; see {next(iter(t.procs.values())).log}")


# --------------------------------------------------------------------------- phases


def phase_max_rounds(rig: RevRig, R: dict[str, Any]) -> None:
    """bench_gateway.phase_max, --max-rounds times, target order alternating; median over rounds."""
    a = rig.args
    order = list(rig.order)
    rounds: list[dict[str, Any]] = []
    try:
        for rnd in range(a.max_rounds):
            rig.order = order if rnd % 2 == 0 else order[::-1]
            log(f"max round {rnd + 1}/{a.max_rounds}: {', '.join(rig.order)}")
            Rr: dict[str, Any] = {}
            bg.phase_max(rig, Rr)
            rounds.append(Rr)
    finally:
        rig.order = order
    for name in order:
        for store in ("off", "on"):
            per = [bg._get(Rr, name, f"max_{store}") for Rr in rounds]
            per = [p for p in per if p]
            if not per:
                continue
            R.setdefault(name, {})[f"max_{store}"] = {
                "rps": bg.median([p["rps"] for p in per]),
                "gw_cpu_us": bg.median([p["gw_cpu_us"] for p in per]) if name != "direct" else None,
                "rounds": per,
            }


# --------------------------------------------------------------------------- tables


def _paired(new: list[float], old: list[float]) -> tuple[list[float], float | None]:
    """Each round's new/old (the pair measured side by side), and the median over rounds of new - old."""
    pairs = [(a, b) for a, b in zip(new, old) if a is not None and b is not None]
    return [a / b for a, b in pairs if b], bg.median([a - b for a, b in pairs])


def build_table(rig: RevRig, R: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The comparison table, and its new/old figures for the JSON."""
    header = ["figure", "direct"]
    for lay in LAYOUTS:
        header += [f"{lay} (new)", f"{lay}{BASE} (old)", f"{lay} new/old"]
    rows: list[list[str]] = []
    compare: dict[str, Any] = {}

    def row(label: str, direct: str, per_round: Any, fmt: Any, errs: Any, diff: Any = None) -> None:
        """per_round(target) -> that figure in each round; the cells give the median over rounds."""
        r = [label, direct]
        for lay in LAYOUTS:
            for n in (lay, lay + BASE):
                e = errs(n)
                r.append(f"n/a ({(rig.targets[n].error or '')[:40]})" if not rig.targets[n].ok else fmt(bg.median(per_round(n))) + (f" ({e} ERRORS)" if e else ""))
            ratios, delta = _paired(per_round(lay), per_round(lay + BASE))
            ratio = bg.median(ratios)
            r.append(
                "—"
                if ratio is None
                else f"{ratio:.2f} [{min(ratios):.2f}–{max(ratios):.2f}]" + (f" {diff(delta)}" if diff and delta is not None else "")
            )
            compare.setdefault(label, {})[lay] = {"new_over_old": ratio, "per_round": ratios, "new_minus_old": delta}
        rows.append(r)

    def lat_errs(n: str, s: str) -> int:
        return int(bg._get(R, n, f"lat_{s}", "errors") or 0)

    def max_rounds(n: str, s: str, key: str) -> list[float]:
        return [r[key] for r in bg._get(R, n, f"max_{s}", "rounds") or []]

    def max_errs(n: str, s: str) -> int:
        return int(sum(max_rounds(n, s, "errors")))

    for store in ("off", "on"):
        for p in ("p50", "p99"):
            row(
                f"added latency c=1 {p}, store {store}",
                bg._ms(bg._get(R, "direct", f"lat_{store}", f"{p}_us")),
                lambda n, s=store, p=p: bg._get(R, n, f"lat_{s}", f"added_{p}_rounds") or [],
                lambda v: bg._ms(v, sign=True),
                lambda n, s=store: lat_errs(n, s),
                lambda d: f"{d / 1000:+.2f} ms",
            )
    for store in ("off", "on"):
        row(
            f"max proxy throughput, store {store}",
            bg._num(bg._get(R, "direct", f"max_{store}", "rps"), " req/s"),
            lambda n, s=store: max_rounds(n, s, "rps"),
            lambda v: bg._num(v, " req/s"),
            lambda n, s=store: max_errs(n, s),
        )
    for store in ("off", "on"):
        row(
            f"gateway CPU per request at max, store {store}",
            "—",
            lambda n, s=store: max_rounds(n, s, "gw_cpu_us"),
            lambda v: bg._num(v, " µs"),
            lambda n, s=store: max_errs(n, s),
        )
    rows = [r for r in rows if any(c != "—" and not c.startswith("n/a") for c in r[2:])]
    return bg._markdown(header, rows), compare


def detail_table(rig: RevRig, R: dict[str, Any]) -> str:
    rows = []
    for store in ("off", "on"):
        for n in rig.order:
            s = bg._get(R, n, f"lat_{store}")
            if s:
                rows.append([f"c=1 store {store}", n, " ".join(f"{r['p50'] / 1000:.2f}/{r['p99'] / 1000:.2f}" for r in s["rounds"] if r["p50"]),
                             " ".join(f"{x / 1000:+.2f}/{y / 1000:+.2f}" for x, y in zip(s.get("added_p50_rounds", []), s.get("added_p99_rounds", []))) or "—",
                             bg._num(s.get("cpu_us_per_req_c1"), " µs"), str(s["errors"])])
    for store in ("off", "on"):
        for n in rig.order:
            s = bg._get(R, n, f"max_{store}")
            if s:
                rows.append([f"max store {store}", n, " ".join(f"{r['rps']:.0f}/s (c={r['c']}, p99 {r['p99_ms']:.0f} ms)" for r in s["rounds"]),
                             " ".join(f"{r['gw_cpu_us']:.0f} µs" for r in s["rounds"]) if n != "direct" else "—", "—", str(sum(r["errors"] for r in s["rounds"]))])
    return bg._markdown(["run", "target", "per round: p50/p99 ms, or best req/s", "per round: added p50/p99 ms, or gw CPU/req", "gw CPU/req c=1", "errors"], rows)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False, epilog="Any other option goes to bench_gateway.py's parser.")
    p.add_argument("--baseline-rev", default=DEFAULT_BASELINE, help=f"the old code: a commit-ish (default {DEFAULT_BASELINE}, where the refactor starts)")
    p.add_argument("--baseline-tree", type=Path, default=None, help="use this checkout (with src/) as the old code instead of a worktree of --baseline-rev")
    p.add_argument("--new-rev", default=None, help="the new code from a worktree of this commit-ish instead of the working tree (--new-rev 715aced with the default baseline is an A/A check)")
    p.add_argument("--new-tree", type=Path, default=None, help="the new code from this checkout (default: this working tree, uncommitted changes included)")
    p.add_argument("--only", default="latency,max", help="phases: latency,max (default both)")
    p.add_argument("--rounds", type=int, default=4, help="interleaved rounds of the c=1 phase (default 4, with --quick too)")
    p.add_argument("--max-rounds", type=int, default=None, help="interleaved rounds of the max-throughput phase (default: --rounds)")
    p.add_argument("--max-c", default=None, help="closed-loop concurrencies of the max phase, comma list (default: quick 64, full 32,64,128)")
    own, rest = p.parse_known_args(argv)
    args = bg.parse_args([*rest, "--rounds", str(own.rounds), "--no-litellm"])
    args.baseline_rev, args.baseline_tree, args.new_rev, args.new_tree = own.baseline_rev, own.baseline_tree, own.new_rev, own.new_tree
    args.phases = set(own.only.split(","))
    if args.phases - {"latency", "max"}:
        p.error(f"--only: unknown phase(s) {sorted(args.phases - {'latency', 'max'})}; bench_gateway.py runs the others")
    args.only = own.only
    args.max_rounds = own.max_rounds or args.rounds
    if own.max_c:
        args.max_c = [int(c) for c in own.max_c.split(",")]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.monotonic()
    if args.baseline_tree:
        base_path = args.baseline_tree.resolve()
        base_sha = _try_git("rev-parse", "HEAD", cwd=base_path) or "(not a git checkout)"
    else:
        base_path, base_sha = checkout(args.baseline_rev)
    if args.new_rev:
        new_path, new_sha = checkout(args.new_rev, "rg-rev")
    else:
        new_path = (args.new_tree or ROOT).resolve()
        new_sha = _try_git("rev-parse", "HEAD", cwd=new_path) or "(not a git checkout)"
    if new_path == base_path:
        raise SystemExit(f"the new and the old code are the same directory ({new_path}): nothing would tell them apart")
    if new_path == ROOT:
        new_desc = describe_new(base_sha)
    else:
        same = _try_git("diff", "--name-only", base_sha, new_sha, "--", "src")
        new_desc = f"commit {new_sha[:12]} ({(_try_git('log', '-1', '--format=%s', new_sha) or '?')[:60]}); src/ " + (
            "IDENTICAL to the baseline: expect ratios of 1.0 within noise" if same == "" else "differs from the baseline" if same else "(no diff against the baseline)"
        )
    trees = {**{lay: new_path for lay in LAYOUTS}, **{lay + BASE: base_path for lay in LAYOUTS}}
    load_before = os.getloadavg()
    speed = bg.machine_speed()
    log(f"machine: {speed}")
    rig = RevRig(args, trees)
    R: dict[str, Any] = {}
    steal: dict[str, float] = {}
    run_start = HostTicks.now()
    interrupted = False
    try:
        log(f"logs and databases in {rig.tmp}")
        rig.start()
        rig.verify_trees()
        rig.preflight()
        log(f"ready after {time.monotonic() - t0:.0f}s; every gateway process imports the tree it should")
        for name, fn in (("latency", bg.phase_latency), ("max", phase_max_rounds)):
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
    print()
    print(f"## responses-gateway: old vs new code ({'quick' if args.quick else 'full'} sizes, {time.strftime('%Y-%m-%d %H:%M')}, {time.monotonic() - t0:.0f}s{', INTERRUPTED' if interrupted else ''})")
    print(f"new: {new_path}/src, {new_desc}")
    print(f"old: {base_path}/src, commit {base_sha[:12]} ({(_try_git('log', '-1', '--format=%s', base_sha, cwd=base_path) or '?')[:70]})")
    print(f"{os.cpu_count()} cores shared by load generator, upstream and gateways; loopback; {bg.versions()}")
    print(f"machine speed: {speed}; load average {load_before[0]:.2f} before the run (other work on the machine is noise)")
    steal["run"] = HostTicks.now().steal_since(run_start)
    print("CPU steal (time the host gave to other guests): " + ", ".join(f"{k} {v:.0%}" for k, v in steal.items()))
    print(
        f"c=1: {args.rounds} interleaved rounds x ({args.warmup} warm-up + {args.n} requests); "
        f"max: {args.max_rounds} interleaved rounds, closed loop c in {args.max_c}, {args.step_s:g}s steps; figures are medians over rounds"
    )
    print()
    table, compare = build_table(rig, R)
    print(table)
    print()
    print(detail_table(rig, R))
    print()
    for k, paths in rig.imported.items():
        print(f"- {k}: {', '.join(paths)}")
    for n in rig.order:
        if not rig.targets[n].ok:
            print(f"\n{n}: n/a — {rig.targets[n].error}")
    if args.json:
        args.json.write_text(json.dumps({"machine": speed, "steal": steal, "new": str(new_path), "new_desc": new_desc, "old": str(base_path), "old_sha": base_sha,
                                         "imported": rig.imported, "compare": compare, "args": {k: (sorted(v) if isinstance(v, set) else v) for k, v in vars(args).items() if k != "json"},
                                         "results": R}, indent=1, default=str))
    return 130 if interrupted else (1 if any(not rig.targets[n].ok for n in rig.order) else 0)


if __name__ == "__main__":
    sys.exit(main())
