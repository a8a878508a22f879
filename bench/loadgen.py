"""Load generator for bench_gateway.py: its own process, aiohttp client on uvloop.

It reads one JSON command per line on stdin and answers one JSON line on stdout,
so the benchmark can read every server's CPU counters right before and after
each measurement without paying a process start per measurement. Every command
is bounded by a request count and by time (per-request timeout, plus a hard
``wait_for`` on the whole command). Loopback only: it refuses other hosts.

Commands (``op``):

* ``lat``       sequential requests (c=1): latency of each, in µs.
* ``closed``    closed loop: ``c`` workers each send the next request as soon as
                the previous one finished, for ``duration`` s after ``warmup_s``;
                bodies cycle through ``bodies`` (streaming ones are read to the end).
* ``stream_seq`` sequential streams: time to first event, to first text delta,
                span first→last event, event count.
* ``stream_conc`` ``c`` concurrent streams for ``duration`` s: per stream the
                largest gap between two events, and whether it ended properly.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

HEADERS = {"Authorization": "Bearer sk-test-fake", "Content-Type": "application/json"}
now = time.perf_counter


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _check_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"loopback only: {url}")


def _session(limit: int, timeout: float) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit, ttl_dns_cache=None, enable_cleanup_closed=False)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout, sock_connect=timeout),
        headers=HEADERS,
        skip_auto_headers=("User-Agent",),
        json_serialize=lambda o: orjson.dumps(o).decode(),
    )


def _ok_json(status: int, body: bytes) -> bool:
    return status == 200 and b'"completed"' in body


def _ok_stream(status: int, tail: bytes) -> bool:
    return status == 200 and b"response.completed" in tail


class _SSE:
    """Splits an SSE byte stream into events and timestamps each on arrival."""

    __slots__ = ("buf", "events", "first", "first_delta", "last", "max_gap", "prev", "tail")

    def __init__(self) -> None:
        self.buf = b""
        self.events = 0
        self.first = 0.0
        self.first_delta = 0.0
        self.last = 0.0
        self.prev = 0.0
        self.max_gap = 0.0
        self.tail = b""

    def feed(self, chunk: bytes, t: float) -> None:
        self.buf += chunk
        parts = self.buf.split(b"\n\n")
        self.buf = parts.pop()
        for ev in parts:
            if b"data:" not in ev:
                continue
            self.events += 1
            if not self.first:
                self.first = t
            elif t - self.prev > self.max_gap:
                self.max_gap = t - self.prev
            self.prev = t
            self.last = t
            if not self.first_delta and b"output_text.delta" in ev:
                self.first_delta = t
            if b"response.completed" in ev:
                self.tail = ev  # a [DONE] sentinel may follow (the gateway sends one)


async def _one_stream(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[bool, float, _SSE]:
    t0 = now()
    sse = _SSE()
    async with session.post(url, data=body) as resp:
        if resp.status != 200:
            await resp.read()
            return False, t0, sse
        async for chunk in resp.content.iter_any():
            sse.feed(chunk, now())
    if sse.buf.strip():
        sse.feed(b"\n\n", now())
    return _ok_stream(resp.status, sse.tail), t0, sse


async def op_lat(cmd: dict[str, Any]) -> dict[str, Any]:
    url, body = cmd["url"], cmd["body"].encode()
    lat: list[float] = []
    errors = 0
    async with _session(1, cmd.get("timeout", 30)) as session:
        for i in range(cmd["warmup"] + cmd["n"]):
            t0 = now()
            try:
                async with session.post(url, data=body) as resp:
                    data = await resp.read()
                    ok = _ok_json(resp.status, data)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok = False
            dt = now() - t0
            if i >= cmd["warmup"]:
                if ok:
                    lat.append(dt * 1e6)
                else:
                    errors += 1
    return {"lat_us": lat, "errors": errors}


async def op_closed(cmd: dict[str, Any]) -> dict[str, Any]:
    url = cmd["url"]
    bodies = [(b.encode(), b'"stream":true' in b.encode()) for b in cmd["bodies"]]
    c, duration, warmup_s = cmd["c"], cmd["duration"], cmd.get("warmup_s", 1.0)
    max_n = cmd.get("max_n", 10_000_000)
    lat: list[float] = []
    errors = 0
    done = 0
    counter = 0
    err_samples: list[str] = []
    t_start = now()
    t_measure = t_start + warmup_s
    t_end = t_measure + duration
    ramp = cmd.get("ramp_s", 0.0)

    async def worker(idx: int) -> None:
        nonlocal errors, done, counter
        if ramp:
            await asyncio.sleep(ramp * idx / c)
        while True:
            t0 = now()
            if t0 >= t_end or done >= max_n:
                return
            body, streaming = bodies[counter % len(bodies)]
            counter += 1
            try:
                if streaming:
                    ok, _, _ = await _one_stream(session, url, body)
                else:
                    async with session.post(url, data=body) as resp:
                        data = await resp.read()
                        ok = _ok_json(resp.status, data)
                        if not ok and len(err_samples) < 3:
                            err_samples.append(f"{resp.status} {data[:200]!r}")
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                ok = False
                if len(err_samples) < 3:
                    err_samples.append(repr(exc)[:200])
            t1 = now()
            if t0 >= t_measure and t1 <= t_end + 60:
                done += 1
                if ok:
                    lat.append((t1 - t0) * 1e6)
                else:
                    errors += 1

    async with _session(c, cmd.get("timeout", 30)) as session:
        cpu0 = _cpu()
        await asyncio.gather(*(worker(i) for i in range(c)))
        wall = now() - t_measure
        cpu1 = _cpu()
    lat.sort()
    return {
        "n": done,
        "ok": len(lat),
        "errors": errors,
        "wall_s": wall,
        "rps": len(lat) / wall if wall > 0 else 0.0,
        "p50_us": _pct(lat, 50),
        "p99_us": _pct(lat, 99),
        "max_us": lat[-1] if lat else None,
        "err_samples": err_samples,
        "lg_cpu_s": cpu1 - cpu0,
    }


async def op_stream_seq(cmd: dict[str, Any]) -> dict[str, Any]:
    url, body = cmd["url"], cmd["body"].encode()
    rows: list[list[float]] = []
    errors = 0
    async with _session(1, cmd.get("timeout", 30)) as session:
        for i in range(cmd["warmup"] + cmd["n"]):
            try:
                ok, t0, sse = await _one_stream(session, url, body)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok = False
            if i < cmd["warmup"]:
                continue
            if not ok or not sse.first_delta:
                errors += 1
                continue
            # first event, first text delta, span first→last event (µs), events
            rows.append([(sse.first - t0) * 1e6, (sse.first_delta - t0) * 1e6, (sse.last - sse.first) * 1e6, sse.events])
    return {"rows": rows, "errors": errors}


async def op_stream_conc(cmd: dict[str, Any]) -> dict[str, Any]:
    url, body = cmd["url"], cmd["body"].encode()
    c, duration, ramp = cmd["c"], cmd["duration"], cmd.get("ramp_s", 1.0)
    stall_s = cmd["stall_ms"] / 1000
    t_end = now() + ramp + duration
    gaps: list[float] = []
    ttft: list[float] = []
    errors = 0
    stalled = 0
    late = 0
    late_first = 0  # of those, a worker's first stream: it opened a new connection
    events = 0
    err_samples: list[str] = []

    async def worker(idx: int) -> None:
        nonlocal errors, stalled, events, late, late_first
        await asyncio.sleep(ramp * idx / c)
        first = True
        while now() < t_end:
            was_first, first = first, False
            try:
                ok, t0, sse = await _one_stream(session, url, body)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                ok, sse, t0 = False, None, 0.0
                if len(err_samples) < 3:
                    err_samples.append(repr(exc)[:200])
            if not ok or sse is None:
                errors += 1
                continue
            events += sse.events
            gaps.append(sse.max_gap * 1e3)
            ttft.append((sse.first_delta - t0) * 1e3)
            if sse.max_gap > stall_s:
                stalled += 1
            if sse.first - t0 > stall_s:
                late += 1  # waited longer than a stall for its first event
                late_first += was_first

    cpu0 = _cpu()
    t0 = now()
    async with _session(c, cmd.get("timeout", 30)) as session:
        await asyncio.gather(*(worker(i) for i in range(c)))
    wall = now() - t0
    gaps.sort()
    ttft.sort()
    return {
        "streams": len(gaps),
        "errors": errors,
        "stalled": stalled,
        "late_start": late,
        "late_first_stream": late_first,
        "max_gap_ms": gaps[-1] if gaps else None,
        "p99_gap_ms": _pct(gaps, 99),
        "ttft_p50_ms": _pct(ttft, 50),
        "ttft_p99_ms": _pct(ttft, 99),
        "events": events,
        "events_per_s": events / wall,
        "err_samples": err_samples,
        "lg_cpu_s": _cpu() - cpu0,
    }


def _pct(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


OPS = {"lat": op_lat, "closed": op_closed, "stream_seq": op_stream_seq, "stream_conc": op_stream_conc}


async def serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        cmd = json.loads(line)
        if cmd.get("op") == "quit":
            return
        _check_loopback(cmd["url"])
        cpu0 = _cpu()
        try:
            result = await asyncio.wait_for(OPS[cmd["op"]](cmd), timeout=cmd.get("hard_timeout", 900))
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            result = {"fatal": repr(exc)}
        result["lg_cpu_total_s"] = _cpu() - cpu0
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


def main() -> None:
    import uvloop

    uvloop.run(serve())


if __name__ == "__main__":
    main()
