"""Local model: the gateway (HTTP bridge, streaming) vs xllamacpp called directly.

    python bench/bench_local.py [--tokens 64] [--reps 3]

Two baselines, both "xllamacpp called directly":
- in-process: `xllamacpp.Server` in this process, `handle_chat_completions(body,
  callback)` in a thread, chunks bridged into asyncio (the fastest way to call
  it from Python);
- HTTP: the very llama.cpp server the gateway uses (its child process), sent the
  same Chat Completions request over loopback without the gateway: what the
  gateway itself adds, with everything else equal.
Gateway: `serve` (service + bridge, in this process) with the default-like local
provider, POST /v1/responses stream:true over HTTP, SSE parsed here. Same
prompts, temperature 0, same slots and threads, runs interleaved so machine load
hits all alike. Reports aggregate tokens/s and mean time to first token for 1
and 4 concurrent streams, medians over rounds. Bounded: < 3 min.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from responses_gateway.config import Capabilities, LocalModelOptions, ModelConfig, ProviderConfig, Settings  # noqa: E402
from responses_gateway.providers.local import weights  # noqa: E402
from responses_gateway.providers.local.engine import default_threads  # noqa: E402

PROMPTS = [f"Write a short story about a cat named Tom number {i}." for i in range(4)]
SLOTS = 4
THREADS = default_threads()
POLL: int | None = None

Result = tuple[float, float, int]  # (ttft s, total s, output tokens)


def direct_server() -> Any:
    import xllamacpp

    from responses_gateway.providers.local.worker import build_params

    path = weights.default_model_path()
    assert path is not None
    params = build_params(
        {"model_path": str(path), "slots": SLOTS, "context_size": 0, "threads": THREADS, "api_key": "bench", "alias": "bench", "poll": POLL}
    )
    return xllamacpp.Server(params)


def chat_body(prompt: str, tokens: int) -> dict[str, Any]:
    """The same streamed Chat Completions request for both baselines."""
    return {
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": tokens,
        "temperature": 0.0,
        "top_p": 1.0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


class ChunkTimes:
    """Time to the first content chunk and the output token count, from chat chunks."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first = 0.0
        self.output = 0

    def see(self, chunk: dict[str, Any]) -> None:
        choices = chunk.get("choices") or []
        if not self.first and choices and (choices[0].get("delta") or {}).get("content"):
            self.first = time.perf_counter() - self.started
        if chunk.get("usage"):
            self.output = chunk["usage"]["completion_tokens"]

    def result(self) -> Result:
        return self.first, time.perf_counter() - self.started, self.output


async def direct_stream(server: Any, prompt: str, tokens: int) -> Result:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    body = chat_body(prompt, tokens)

    def on_chunk(chunk: dict[str, Any]) -> bool:
        loop.call_soon_threadsafe(queue.put_nowait, chunk)
        return False

    times = ChunkTimes()
    done = loop.run_in_executor(None, server.handle_chat_completions, body, on_chunk)
    done.add_done_callback(lambda _: loop.call_soon_threadsafe(queue.put_nowait, None))
    while (chunk := await queue.get()) is not None:
        times.see(chunk)
    await done
    return times.result()


async def http_stream(session: aiohttp.ClientSession, address: str, api_key: str, prompt: str, tokens: int) -> Result:
    body = {"model": weights.PUBLIC_ID, **chat_body(prompt, tokens)}
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"}
    times = ChunkTimes()
    async with session.post(f"{address}/v1/chat/completions", data=orjson.dumps(body), headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        async for line in resp.content:
            if line.startswith(b"data: {"):
                times.see(orjson.loads(line[6:]))
    return times.result()


async def gateway_stream(session: aiohttp.ClientSession, url: str, prompt: str, tokens: int) -> Result:
    body = {"model": weights.PUBLIC_ID, "input": prompt, "max_output_tokens": tokens, "temperature": 0, "top_p": 1, "stream": True}
    started = time.perf_counter()
    first = 0.0
    output = 0
    async with session.post(f"{url}/v1/responses", data=orjson.dumps(body), headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 200, await resp.text()
        async for line in resp.content:
            if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
                continue
            event = orjson.loads(line[6:])
            if not first and event["type"] == "response.output_text.delta":
                first = time.perf_counter() - started
            if event["type"] in ("response.completed", "response.incomplete"):
                output = event["response"]["usage"]["output_tokens"]
    return first, time.perf_counter() - started, output


async def round_of(run: Callable[[str], Awaitable[Result]], streams: int) -> tuple[float, float]:
    """(aggregate tokens/s, mean ttft s) of `streams` concurrent streams."""
    started = time.perf_counter()
    results = await asyncio.gather(*(run(PROMPTS[i]) for i in range(streams)))
    wall = time.perf_counter() - started
    return sum(r[2] for r in results) / wall, statistics.mean(r[0] for r in results)


def settings(tmp: Path) -> Settings:
    path = weights.default_model_path()
    assert path is not None
    window = weights.context_length(path)
    return Settings(
        grpc_port=0,
        http_port=0,
        database_url=f"sqlite+aiosqlite:///{tmp / 'bench.db'}",
        providers=[
            ProviderConfig(name="local", type="local", base_url="local:", requires_key=False, local=LocalModelOptions(slots=SLOTS, threads=THREADS, poll=POLL))
        ],
        models=[
            ModelConfig(
                id=weights.PUBLIC_ID,
                provider="local",
                context_window=window,
                max_output_tokens=2048,
                capabilities=Capabilities(tools=False, reasoning=False, images=False),
            )
        ],
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="compute threads (0: one per core)")
    parser.add_argument("--poll", type=int, default=None, help="llama.cpp busy-wait level 0-100 (default: its own, 50)")
    args = parser.parse_args()
    global THREADS, POLL
    THREADS, POLL = args.threads or default_threads(), args.poll
    if weights.missing_parts():
        sys.exit(f"local model not installed: {weights.INSTALL_HINT}")
    from responses_gateway.runtime import run_all

    deadline = time.monotonic() + 160
    server = await asyncio.to_thread(direct_server)
    with tempfile.TemporaryDirectory() as tmp:
        async with run_all(settings(Path(tmp))) as (service, bridge), aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{bridge.http_port}"
            provider: Any = service.router.deployments(weights.PUBLIC_ID)[0].provider
            address = await provider._engine.address()  # the gateway's own llama.cpp child
            direct = lambda prompt: direct_stream(server, prompt, args.tokens)  # noqa: E731
            over_http = lambda prompt: http_stream(session, address, provider._engine.api_key, prompt, args.tokens)  # noqa: E731
            gateway = lambda prompt: gateway_stream(session, url, prompt, args.tokens)  # noqa: E731
            for run in (direct, over_http, gateway):  # warm up (model load, every prompt's cache)
                await round_of(run, 4)
            rows: list[tuple[int, list[list[tuple[float, float]]]]] = []
            for streams in (1, 4):
                measured: list[list[tuple[float, float]]] = [[], [], []]
                for _ in range(args.reps):
                    if time.monotonic() > deadline:
                        break
                    for runs, run in zip(measured, (direct, over_http, gateway), strict=True):
                        runs.append(await round_of(run, streams))
                rows.append((streams, measured))
    print(f"local model {weights.PUBLIC_ID}: {args.tokens} output tokens per stream, temperature 0, "
          f"{SLOTS} slots, {THREADS} threads, poll {POLL if POLL is not None else 'default'}; medians of {args.reps} interleaved rounds")
    print("tokens/s (aggregate) and mean time to first token; ratios are gateway ÷ baseline (tok/s) and baseline ÷ gateway (TTFT)")
    print(f"{'streams':>7} | {'in-process':>10} {'HTTP':>6} {'gateway':>7} tok/s | {'ratio':>5} {'ratio':>5} | "
          f"{'in-process':>10} {'HTTP':>6} {'gateway':>7} TTFT ms | {'ratio':>5} {'ratio':>5} | {'added ms':>8}")
    for streams, (d, h, g) in rows:
        dt, ht, gt = (statistics.median(x[0] for x in r) for r in (d, h, g))
        df, hf, gf = (statistics.median(x[1] for x in r) * 1000 for r in (d, h, g))
        print(f"{streams:>7} | {dt:>10.1f} {ht:>6.1f} {gt:>7.1f}       | {gt / dt:>5.3f} {gt / ht:>5.3f} | "
              f"{df:>10.1f} {hf:>6.1f} {gf:>7.1f}         | {df / gf:>5.3f} {hf / gf:>5.3f} | {gf - hf:>8.1f}")
    print("first ratio: against in-process xllamacpp; second: against the same llama.cpp server over HTTP; "
          "added ms: gateway TTFT − HTTP TTFT")


if __name__ == "__main__":
    asyncio.run(main())
