"""Turn latency at conversation depth 1, 100 and 1000, on SQLite and PostgreSQL.

The gateway runs in this process (`serve`'s in-process wiring, uvloop) in
front of the fake OpenAI upstream with no added latency, which runs in its own
process (bench/_upstream.py) so that its parsing of a long conversation costs
the gateway neither CPU time nor garbage-collection passes. What grows with
depth is then the gateway's own work: loading the chain, fitting it to the
window, serialising it upstream and storing the turn. Chains are seeded through the repository
(as the service stores them) so seeding stays fast; every measured turn goes
through the HTTP bridge with `previous_response_id`.

    python bench/bench_depth.py [--samples 40] [--depths 1,100,1000] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import os
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from responses_gateway.api.v1 import items_pb2 as ipb  # noqa: E402
from responses_gateway.api.v1 import responses_pb2 as pb  # noqa: E402
from responses_gateway.config import ModelConfig, ProviderConfig, Settings  # noqa: E402
from responses_gateway.context import counter_for  # noqa: E402
from responses_gateway.ids import new_id  # noqa: E402
from responses_gateway.runtime import run_all  # noqa: E402
from responses_gateway.store import ItemRecord, ResponseRecord, Store, writes  # noqa: E402
from responses_gateway.providers.openai_responses import STATELESS_ITEMS  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
WARM_UP = 10
Row = tuple[str, int, float, float, float]  # database, depth, p50, p99, added p50 (gateway − direct)


def _message(role: str, text: str) -> ipb.Item:
    item = ipb.Item()
    item.message.id = new_id("msg")
    item.message.role = role
    item.message.status = "completed"
    item.message.typed = True
    part = item.message.parts.parts.add()
    if role == "assistant":
        part.output_text.text = text
    else:
        part.input_text.text = text
    return item


async def seed_chain(store: Store, depth: int) -> tuple[str, list[object]]:
    """A conversation of `depth` turns (user + assistant message each): the last id, and its items as sent upstream."""
    counter = counter_for("o200k")
    previous: str | None = None
    sent: list[object] = []
    rows: list[tuple[ResponseRecord, list[ItemRecord], list[ItemRecord]]] = []
    for turn in range(depth):
        user = _message("user", f"Question {turn}: tell me something about the number {turn}.")
        answer = _message("assistant", f"You said: something about {turn}. Here is a fact about it, briefly.")
        response = pb.Response(id=new_id("resp"), object="response", status="completed", model="gpt-5.4")
        response.output.append(answer)
        if previous is not None:
            response.previous_response_id = previous
        record = ResponseRecord(
            id=response.id,
            tenant_id="default",
            previous_response_id=previous,
            model="gpt-5.4",
            status="completed",
            created_at=int(time.time()),
            data=response.SerializeToString(),
        )

        def rec(item: ipb.Item) -> ItemRecord:
            return ItemRecord(
                item.message.id, "message", item.SerializeToString(), counter.count_item(item), counter.name
            )

        rows.append((record, [rec(user)], [rec(answer)]))
        sent += [orjson.loads(STATELESS_ITEMS.encode(user) or b""), orjson.loads(STATELESS_ITEMS.encode(answer) or b"")]
        previous = response.id
    await store.write(lambda c: [writes.save_response(c, *row) for row in rows])
    assert previous is not None
    return previous, sent


async def start_upstream() -> tuple[asyncio.subprocess.Process, str]:
    """The fake OpenAI upstream in its own process; its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).with_name("_upstream.py")), "--port", str(port), "--api-key", "sk-bench",
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    if not line:
        raise RuntimeError("the fake upstream did not start")
    return proc, f"http://127.0.0.1:{port}/v1"


async def _timed_post(http: aiohttp.ClientSession, url: str, payload: bytes, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    async with http.post(url, data=payload, headers=headers) as resp:
        await resp.read()
        assert resp.status == 200, await resp.text()
    return (time.perf_counter() - started) * 1000


@dataclass
class Cell:
    """One (depth, store) combination: its turn request, the same request sent directly, what was measured."""

    depth: int
    store: bool
    turn: bytes
    direct: bytes
    times: list[float] = field(default_factory=list)
    added: list[float] = field(default_factory=list)


def cell(depth: int, store: bool, previous: str, history: list[object]) -> Cell:
    turn = orjson.dumps({"model": "gpt-5.4", "input": "and then?", "previous_response_id": previous, "store": store})
    direct = orjson.dumps(
        {
            "model": "gpt-5.4",
            "input": [*history, {"type": "message", "role": "user", "content": "and then?"}],
            "store": False,
            "include": ["reasoning.encrypted_content"],
        }
    )
    return Cell(depth, store, turn, direct)


async def measure(http: aiohttp.ClientSession, gateway_url: str, direct_url: str, cells: list[Cell], samples: int) -> None:
    """Fill every cell with `samples` turns, taking the cells in rotation.

    A turn forks from the same response each time, so the depth stays fixed.
    Each turn is paired with the same upstream request sent straight to the
    fake right after it, so the fake's own cost (which grows with depth)
    cancels out of the difference; rotating through the cells spreads any
    drift in machine load over all of them alike.
    """
    json_type = {"Content-Type": "application/json"}
    with_key = {**json_type, "Authorization": "Bearer sk-bench"}
    for i in range(samples + WARM_UP):
        for c in cells:
            gateway = await _timed_post(http, gateway_url, c.turn, json_type)
            alone = await _timed_post(http, direct_url, c.direct, with_key)
            if i >= WARM_UP:
                c.times.append(gateway)
                c.added.append(gateway - alone)


async def run_database(name: str, url: str, depths: list[int], samples: int) -> list[Row]:
    upstream, base_url = await start_upstream()
    os.environ["BENCH_FAKE_KEY"] = "sk-bench"
    settings = Settings(
        grpc_port=0,
        http_port=0,
        database_url=url,
        providers=[ProviderConfig(name="openai", type="openai_responses", base_url=base_url, api_key_env="BENCH_FAKE_KEY")],
        models=[
            ModelConfig(
                id="gpt-5.4", provider="openai", tokenizer="o200k", context_window=1_050_000, max_output_tokens=128_000
            )
        ],
    )
    try:
        async with run_all(settings) as (service, bridge):
            url_create = f"http://127.0.0.1:{bridge.http_port}/v1/responses"
            cells: list[Cell] = []
            for depth in depths:
                last, history = await seed_chain(service.store, depth)
                cells += [cell(depth, store, last, history) for store in (False, True)]
            async with aiohttp.ClientSession() as http:
                await measure(http, url_create, f"{base_url}/responses", cells, samples)
    finally:
        upstream.terminate()
        await upstream.wait()
    cells.sort(key=lambda c: (c.store, c.depth))
    return [
        (
            f"{name} store={'on' if c.store else 'off'}",
            c.depth,
            statistics.median(c.times),
            statistics.quantiles(c.times, n=100)[98],
            statistics.median(c.added),
        )
        for c in cells
    ]


async def make_pg_database() -> str | None:
    try:
        import asyncpg
    except ImportError:
        return None
    name = f"rg_bench_{secrets.token_hex(4)}"
    try:
        conn = await asyncpg.connect(PG_ADMIN, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN, timeout=3)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--depths", default="1,100,1000")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    depths = [int(d) for d in args.depths.split(",")]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += await run_database("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db", depths, args.samples)
    if not args.no_postgres:
        db = await make_pg_database()
        if db is None:
            print("postgresql: unreachable, skipped")
        else:
            try:
                rows += await run_database("postgresql", f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db}", depths, args.samples)
            finally:
                await drop_pg_database(db)
    print(f"\nturn latency through the bridge, fake upstream with no delay, {args.samples} turns per cell (ms)")
    print("added = median over turns of (turn − the same upstream request sent directly right after it)")
    print(f"{'database':<24}{'depth':>7}{'p50':>9}{'p99':>9}{'p50 ratio':>11}{'added p50':>11}{'added ratio':>13}")
    base: dict[str, tuple[float, float]] = {}
    for name, depth, p50, p99, added in rows:
        base.setdefault(name, (p50, added))
        b50, badded = base[name]
        print(f"{name:<24}{depth:>7}{p50:>9.2f}{p99:>9.2f}{p50 / b50:>11.2f}{added:>11.2f}{added / badded:>13.2f}")


if __name__ == "__main__":
    import uvloop  # as `serve` runs

    uvloop.run(main())
