"""Turn latency at conversation depth 1, 100 and 1000, on SQLite and PostgreSQL.

The gateway runs in this process (`serve`'s in-process wiring) in front of the
fake OpenAI upstream with no added latency, so what grows with depth is the
gateway's own work: loading the chain, fitting it to the window, serialising
it upstream and storing the turn. Chains are seeded through the repository
(as the service stores them) so seeding stays fast; every measured turn goes
through the HTTP bridge with `previous_response_id`.

    python bench/bench_depth.py [--samples 40] [--depths 1,100,1000] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
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
from responses_gateway.store import ItemRecord, ResponseRecord, ResponseRepository, Store  # noqa: E402
from tests.upstreams.openai_responses import FakeOpenAIResponses  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
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


async def seed_chain(store: Store, depth: int) -> str:
    """A conversation of `depth` turns (user + assistant message each); returns the last id."""
    counter = counter_for("o200k")
    previous: str | None = None
    async with store.session() as session, session.begin():
        repo = ResponseRepository(session)
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

            await repo.save_response(record, [rec(user)], [rec(answer)])
            previous = response.id
    assert previous is not None
    return previous


async def measure(http: aiohttp.ClientSession, url: str, previous: str, samples: int, store: bool) -> list[float]:
    """Latencies (ms) of `samples` turns forking from the same response (the depth stays fixed)."""
    out: list[float] = []
    body = {"model": "gpt-5.4", "input": "and then?", "previous_response_id": previous, "store": store}
    payload = orjson.dumps(body)
    for i in range(samples + 5):
        started = time.perf_counter()
        async with http.post(url, data=payload, headers={"Content-Type": "application/json"}) as resp:
            await resp.read()
            assert resp.status == 200, await resp.text()
        if i >= 5:  # warm-up
            out.append((time.perf_counter() - started) * 1000)
    return out


async def measure_direct(http: aiohttp.ClientSession, url: str, body: object, samples: int) -> list[float]:
    """Latencies (ms) of the gateway's own upstream request sent straight to the fake."""
    payload = orjson.dumps(body)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
    out: list[float] = []
    for i in range(samples + 5):
        started = time.perf_counter()
        async with http.post(url, data=payload, headers=headers) as resp:
            await resp.read()
            assert resp.status == 200, await resp.text()
        if i >= 5:
            out.append((time.perf_counter() - started) * 1000)
    return out


async def run_database(name: str, url: str, depths: list[int], samples: int) -> list[Row]:
    upstream = FakeOpenAIResponses(api_key="sk-bench")
    base_url = await upstream.start()
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
    rows: list[Row] = []
    try:
        async with run_all(settings) as (service, bridge):
            url_create = f"http://127.0.0.1:{bridge.http_port}/v1/responses"
            async with aiohttp.ClientSession() as http:
                for depth in depths:
                    last = await seed_chain(service.store, depth)
                    for store in (False, True):
                        times = await measure(http, url_create, last, samples, store)
                        # The same upstream request sent directly: what the fake itself costs at this depth.
                        body = upstream.requests[-1].body
                        direct = await measure_direct(http, f"{base_url}/responses", body, samples)
                        added = statistics.median(times) - statistics.median(direct)
                        q = statistics.quantiles(times, n=100)
                        rows.append((f"{name} store={'on' if store else 'off'}", depth, statistics.median(times), q[98], added))
    finally:
        await upstream.close()
    return rows


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
    print("added = gateway p50 − the same upstream request sent directly (the fake's own cost grows with depth too)")
    print(f"{'database':<24}{'depth':>7}{'p50':>9}{'p99':>9}{'p50 ratio':>11}{'added p50':>11}{'added ratio':>13}")
    base: dict[str, tuple[float, float]] = {}
    for name, depth, p50, p99, added in rows:
        base.setdefault(name, (p50, added))
        b50, badded = base[name]
        print(f"{name:<24}{depth:>7}{p50:>9.2f}{p99:>9.2f}{p50 / b50:>11.2f}{added:>11.2f}{added / badded:>13.2f}")


if __name__ == "__main__":
    asyncio.run(main())
