"""Write-behind: the answer goes out before its write commits, and nothing reads around it.

The store is made slow for real: the test holds SQLite's write lock on the
gateway's database file, so the gateway's commit waits in SQLite's busy
handler until the test lets go. Reads (WAL) are not blocked by that lock, so
a read that did not wait for the pending write would find nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import openai
import pytest

from responses_gateway.config import Settings
from responses_gateway.runtime import writes_behind
from responses_gateway.store import Store
from tests.e2e.conftest import FAKE_KEY_ENV, Gateway, gateway_settings, serve
from tests.upstreams.openai_responses import FakeOpenAIResponses

HOLD = 0.5  # how long the test keeps the database locked


@contextlib.asynccontextmanager
async def gateway_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, **overrides: object) -> AsyncIterator[Gateway]:
    upstream = FakeOpenAIResponses(api_key="sk-upstream-secret")
    base_url = await upstream.start()
    monkeypatch.setenv(FAKE_KEY_ENV, "sk-upstream-secret")
    try:
        async with serve(gateway_settings(tmp_path, base_url, **overrides), mode) as (http_url, target, service):
            yield Gateway(http_url, target, upstream, mode, service)
    finally:
        await upstream.close()


@contextlib.contextmanager
def write_lock(db: Path) -> Iterator[sqlite3.Connection]:
    """Hold SQLite's write lock on `db` (readers still read) until the block ends."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        conn.close()


def release_later(conn: sqlite3.Connection, seconds: float) -> asyncio.TimerHandle:
    return asyncio.get_running_loop().call_later(seconds, conn.execute, "ROLLBACK")


def stored_status(db: Path, response_id: str) -> str | None:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        row = conn.execute("select status from responses where id = ?", (response_id,)).fetchone()
    return row[0] if row else None


async def streamed(client: openai.AsyncOpenAI, **kwargs: object) -> tuple[str, list[str]]:
    """Stream a response to its end: (response id, event types)."""
    types: list[str] = []
    response_id = ""
    stream = await client.responses.create(model="gpt-5.4", stream=True, **kwargs)  # type: ignore[call-overload]
    async for event in stream:
        types.append(event.type)
        if event.type == "response.completed":
            response_id = event.response.id
    return response_id, types


@pytest.mark.parametrize("mode", ["inprocess", "remote"])
async def test_a_stream_completes_while_its_write_waits_and_a_get_right_after_sees_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    async with gateway_with(tmp_path, monkeypatch, mode) as gw:
        client = gw.client()
        db = tmp_path / "gateway.db"
        await client.responses.create(model="gpt-5.4", input="warm up")  # schema and pools ready
        await gw.writes_settled()
        with write_lock(db) as lock:
            started = time.monotonic()
            response_id, types = await streamed(client, input="hello")
            answered = time.monotonic() - started
            assert types[-1] == "response.completed"
            assert answered < HOLD, f"the answer waited {answered:.2f} s for the locked store"
            assert stored_status(db, response_id) is None  # not committed yet: the lock still holds
            release_later(lock, HOLD)
            got = await client.responses.retrieve(response_id)
            waited = time.monotonic() - started
        assert got.status == "completed"
        assert got.output_text.startswith("You said: hello")
        assert waited >= HOLD * 0.9  # the read waited for the write rather than reading around it
        await client.close()


async def test_a_follow_up_with_previous_response_id_right_after_completion_sees_the_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with gateway_with(tmp_path, monkeypatch, "inprocess") as gw:
        client = gw.client()
        await client.responses.create(model="gpt-5.4", input="warm up")
        await gw.writes_settled()
        with write_lock(tmp_path / "gateway.db") as lock:
            first = await client.responses.create(model="gpt-5.4", input="my name is Ada")
            release_later(lock, 0.2)
            second = await client.responses.create(model="gpt-5.4", input="what is my name?", previous_response_id=first.id)
        assert second.status == "completed"
        sent = gw.upstream_bodies()[-1]["input"]
        assert [m["content"][0]["text"] if isinstance(m["content"], list) else m["content"] for m in sent if m.get("role") == "user"] == [
            "my name is Ada",
            "what is my name?",
        ]
        listed = await client.responses.input_items.list(second.id)
        assert listed.data
        deleted = await client.responses.delete(first.id)
        assert deleted is None or getattr(deleted, "deleted", True)
        await client.close()


async def test_with_write_behind_off_the_answer_waits_for_its_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with gateway_with(tmp_path, monkeypatch, "inprocess", write_behind="off") as gw:
        client = gw.client()
        db = tmp_path / "gateway.db"
        await client.responses.create(model="gpt-5.4", input="warm up")
        with write_lock(db) as lock:
            release_later(lock, HOLD)
            started = time.monotonic()
            response_id, types = await streamed(client, input="hello")
            answered = time.monotonic() - started
        assert types[-1] == "response.completed"
        assert answered >= HOLD * 0.9
        assert stored_status(db, response_id) == "completed"
        await client.close()


async def test_past_max_pending_writes_answers_wait_for_their_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with gateway_with(tmp_path, monkeypatch, "inprocess", max_pending_writes=1) as gw:
        client = gw.client()
        await client.responses.create(model="gpt-5.4", input="warm up")
        await gw.writes_settled()
        with write_lock(tmp_path / "gateway.db") as lock:
            started = time.monotonic()
            await client.responses.create(model="gpt-5.4", input="one")  # behind its answer: the one slot
            first = time.monotonic() - started
            release_later(lock, HOLD)
            await client.responses.create(model="gpt-5.4", input="two")  # no slot left: waits for its commit
            second = time.monotonic() - started
        assert first < HOLD
        assert second >= HOLD * 0.9
        await client.close()


async def test_stopping_the_gateway_finishes_the_writes_behind_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "gateway.db"
    with contextlib.ExitStack() as stack:
        async with gateway_with(tmp_path, monkeypatch, "inprocess") as gw:
            client = gw.client()
            await client.responses.create(model="gpt-5.4", input="warm up")
            await gw.writes_settled()
            lock = stack.enter_context(write_lock(db))
            answer = await client.responses.create(model="gpt-5.4", input="keep me")
            await client.close()
            release_later(lock, 0.3)
        # The gateway has stopped, and its write ran before its store closed.
        assert stored_status(db, answer.id) == "completed"


async def test_auto_writes_behind_only_where_no_other_process_reads_the_database(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        assert writes_behind(Settings(), store)
        assert not writes_behind(Settings(workers=2), store)
        assert not writes_behind(Settings(write_behind="off"), store)
    finally:
        await store.close()
    pg = await Store.open("postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    try:
        assert not writes_behind(Settings(), pg)
        assert writes_behind(Settings(write_behind="on"), pg)
    finally:
        await pg.close()
