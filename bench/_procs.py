"""Child-process bookkeeping for the benchmark: start, wait for, measure, kill.

Every child is started in its own session (so a Ctrl-C in the terminal reaches
only the benchmark, which then stops them in order) and is remembered by PID;
at exit, on Ctrl-C and on SIGTERM/SIGHUP each remembered process group gets
SIGTERM, then SIGKILL after a grace period. Nothing is ever killed by name.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass
class Child:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    rusage_at_exit: object | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class Children:
    """All processes this benchmark started."""

    log_dir: Path
    children: list[Child] = field(default_factory=list)
    _installed: bool = False

    def install_handlers(self) -> None:
        if self._installed:
            return
        self._installed = True
        atexit.register(self.stop_all)

        def _on_signal(signum: int, _frame: object) -> None:
            # Turn SIGTERM/SIGHUP into the same path as Ctrl-C: unwind, then atexit.
            raise KeyboardInterrupt(f"signal {signum}")

        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _on_signal)
        # Ctrl-C even when started in the background of a script (which inherits SIGINT ignored).
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | Path | None = None,
        stdin: int | None = subprocess.DEVNULL,
        stdout: int | None = None,
    ) -> Child:
        self.install_handlers()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        logf = open(log, "ab")  # noqa: SIM115 - kept open for the child's life
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        popen = subprocess.Popen(
            list(argv),
            env=full_env,
            cwd=cwd,
            stdin=stdin,
            stdout=stdout if stdout is not None else logf,
            stderr=logf,
            start_new_session=True,
        )
        logf.close()
        child = Child(name, popen, log)
        self.children.append(child)
        return child

    def stop(self, child: Child, grace: float = 5.0) -> None:
        if child.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)  # its own session: pgid == pid
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if child.popen.poll() is not None:
                break
            time.sleep(0.05)
        if child.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.popen.wait(timeout=5)
        # Stray members of its group (workers it forked) go too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for child in reversed(self.children):
            try:
                self.stop(child)
            except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                print(f"[bench] could not stop {child.name} ({child.pid}): {exc}", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, child: Child, timeout: float = 60.0) -> None:
    """Poll until the URL answers with any HTTP status; fail if the child dies."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited with {child.popen.returncode}; see {child.log}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"{child.name} did not answer {url} within {timeout:.0f}s ({last}); see {child.log}")


def wait_tcp(port: int, child: Child, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited with {child.popen.returncode}; see {child.log}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{child.name} did not listen on {port} within {timeout:.0f}s; see {child.log}")


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        for c in parents.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def cpu_seconds(pid: int, *, tree: bool = False) -> float:
    """utime+stime of the process (all its threads), optionally plus live descendants."""
    total = 0
    for p in [pid, *(_descendants(pid) if tree else [])]:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLK_TCK


def rss_kb(pid: int, *, tree: bool = False) -> int:
    total = 0
    for p in [pid, *(_descendants(pid) if tree else [])]:
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_KB
        except OSError:
            continue
    return total


@dataclass(frozen=True)
class HostTicks:
    """The machine's CPU time from /proc/stat: all of it, and what the hypervisor took (steal)."""

    total: int
    steal: int

    @classmethod
    def now(cls) -> HostTicks:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
        return cls(total=sum(fields), steal=fields[7])

    def steal_since(self, earlier: HostTicks) -> float:
        """Share of the machine's CPU time the host gave to someone else between two readings."""
        total = self.total - earlier.total
        return (self.steal - earlier.steal) / total if total else 0.0
