"""Crash safety and replicas with real processes (issue 5, "PostgreSQL" and "Crash safety").

Every gateway here is `python -m responses_gateway.cli serve` in its own
process, configured only through the environment, in front of the fake
OpenAI upstream running in the test's own event loop. Processes are killed
with SIGKILL mid-stream to show what a crash leaves behind:

* a response is written atomically at its end: a killed stream leaves its row
  `in_progress` with no output, and the restarted replica marks it `failed`;
* a live replica fails a dead replica's rows once their lease expires, and
  never touches the rows of a live one;
* two processes on one PostgreSQL database serve one conversation alternately;
* concurrent continuations fork, concurrent deletes are safe.

The PostgreSQL tests create a fresh database on 127.0.0.1:5432 (via the
`test` database, trust auth) and drop it afterwards; they are skipped only if
that server cannot be reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import socket
import sqlite3
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from sqlalchemy import Row, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.upstreams.openai_responses import FakeOpenAIResponses

UPSTREAM_KEY = "sk-proc-upstream-secret"
MODEL = "gpt-5.4"
# The server the store tests use too; a fresh database is created on it per test.
PG_ADMIN_URL = os.environ.get("RESPONSES_GATEWAY_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
INTERRUPTED_MESSAGE = "The response was interrupted before it finished."
# Only the OpenAI-routed model: the defaults would also warm up the embedded local
# model in a worker process per gateway, which costs start-up time and CPU.
MODELS_ENV = json.dumps(
    [
        {
            "id": MODEL,
            "provider": "openai",
            "owned_by": "openai",
            "context_window": 1_050_000,
            "max_output_tokens": 128_000,
            "tokenizer": "o200k",
        }
    ]
)

# Only the OpenAI provider (its URL and key still come from OPENAI_BASE_URL and OPENAI_API_KEY).
PROVIDERS_ENV = json.dumps(
    [
        {
            "name": "openai",
            "type": "openai_responses",
            "base_url": "https://api.openai.com/v1",
            "base_url_env": "OPENAI_BASE_URL",
            "api_key_env": "OPENAI_API_KEY",
        }
    ]
)

Json = dict[str, Any]


# --------------------------------------------------------------------------- processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class GatewayProcess:
    """One `serve` process: its URL, its log file, and how to stop or kill it."""

    name: str
    database_url: str
    upstream_url: str
    log_path: Path
    replica_id: str
    lease_seconds: float | None = None
    http_port: int = 0
    proc: asyncio.subprocess.Process | None = None
    _log: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.url}/v1", api_key="sk-anything", max_retries=0)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def start(self) -> None:
        self.http_port, grpc_port = _free_port(), _free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("RG_", "OPENAI_", "DEEPSEEK_"))
        }
        env.update(
            RG_HTTP_PORT=str(self.http_port),
            RG_GRPC_PORT=str(grpc_port),
            RG_DATABASE_URL=self.database_url,
            RG_REPLICA_ID=self.replica_id,
            RG_MODELS=MODELS_ENV,
            RG_PROVIDERS=PROVIDERS_ENV,
            OPENAI_BASE_URL=self.upstream_url,
            OPENAI_API_KEY=UPSTREAM_KEY,
        )
        if self.lease_seconds is not None:
            env["RG_LEASE_SECONDS"] = str(self.lease_seconds)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in _reap
        self._log.write(f"---- start {self.name} ({self.replica_id}) ----\n".encode())
        self._log.flush()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "responses_gateway.cli",
            "serve",
            env=env,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
        )
        # Wait for the HTTP port without blocking the loop (the fake upstream lives on it).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise AssertionError(f"{self.name} exited at start:\n{self.log_text()[-3000:]}")
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.http_port), 0.5)
            except (OSError, TimeoutError):
                await asyncio.sleep(0.05)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return
        raise AssertionError(f"{self.name} did not listen within 20 s:\n{self.log_text()[-3000:]}")

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
        await self._reap(5)

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 10 s."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        await self._reap(10)

    async def _reap(self, timeout: float) -> None:
        if self.proc is not None:
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await asyncio.wait_for(self.proc.wait(), 5)
        if self._log is not None:
            self._log.close()
            self._log = None


@contextlib.asynccontextmanager
async def gateway(
    tmp_path: Path,
    name: str,
    database_url: str,
    upstream_url: str,
    *,
    replica_id: str,
    lease_seconds: float | None = None,
) -> AsyncIterator[GatewayProcess]:
    gw = GatewayProcess(
        name, database_url, upstream_url, tmp_path / f"{name}.log", replica_id, lease_seconds=lease_seconds
    )
    try:
        await gw.start()
        yield gw
    finally:
        await gw.stop()


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAIResponses]:
    fake = FakeOpenAIResponses(api_key=UPSTREAM_KEY)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for this test; dropped (connections forced out) afterwards."""
    if importlib.util.find_spec("asyncpg") is None:
        pytest.skip("asyncpg is not installed")
    admin_url = make_url(PG_ADMIN_URL)
    # CREATE/DROP DATABASE refuse to run inside a transaction block.
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"timeout": 3})
    name = f"rg_proc_{uuid.uuid4().hex[:12]}"
    try:
        try:
            conn = await admin.connect()
        except (OSError, TimeoutError) as exc:
            pytest.skip(f"PostgreSQL at {admin_url.host}:{admin_url.port} is unreachable: {exc!r}")
        try:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.dispose()


async def pg_rows(database_url: str, sql: str, **params: object) -> list[Row[Any]]:
    """Rows of one query, read directly from the database (not through a gateway)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- HTTP helpers


async def get_json(http: aiohttp.ClientSession, url: str) -> tuple[int, Json]:
    async with http.get(url) as resp:
        return resp.status, await resp.json(content_type=None)


async def delete_json(http: aiohttp.ClientSession, url: str) -> tuple[int, Json]:
    async with http.delete(url) as resp:
        return resp.status, await resp.json(content_type=None)


async def post_json(http: aiohttp.ClientSession, url: str, body: Json) -> tuple[int, Json]:
    async with http.post(url, json=body) as resp:
        return resp.status, await resp.json(content_type=None)


class SSEStream:
    """A streaming create read event by event over raw HTTP (so a killed server shows as a broken stream)."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp
        self.events: list[Json] = []

    async def next_event(self) -> Json | None:
        """The next event, or None at a clean end of the body."""
        data: list[str] = []
        while True:
            raw = await self.resp.content.readline()
            if not raw:
                return None
            line = raw.decode().rstrip("\r\n")
            if line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line and data:
                payload = "\n".join(data)
                if payload == "[DONE]":
                    return None
                event: Json = json.loads(payload)
                self.events.append(event)
                return event

    async def until(self, predicate: Any, timeout: float = 10) -> Json:
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next_event()
                assert event is not None, f"stream ended early: {[e['type'] for e in self.events]}"
                if predicate(event):
                    return event

    async def rest(self, timeout: float = 15) -> None:
        async with asyncio.timeout(timeout):
            while await self.next_event() is not None:
                pass

    def text(self) -> str:
        return "".join(e["delta"] for e in self.events if e["type"] == "response.output_text.delta")

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


@contextlib.asynccontextmanager
async def open_stream(http: aiohttp.ClientSession, base_url: str, body: Json) -> AsyncIterator[SSEStream]:
    async with http.post(f"{base_url}/v1/responses", json={**body, "stream": True}) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.headers["content-type"].startswith("text/event-stream")
        yield SSEStream(resp)


def slow_input(words: int) -> str:
    """A user text the fake streams at 0.2 s per word (its reply echoes the text, ~words+4 deltas)."""
    return "[[slow]] " + " ".join(f"w{i}" for i in range(words))


def output_text(resp: Json) -> str:
    return "".join(
        part["text"]
        for item in resp["output"]
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    )


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


# --------------------------------------------------------------------------- 1. kill -9 mid-stream


async def test_kill_9_mid_stream_leaves_in_progress_then_restart_fails_it(
    tmp_path: Path, upstream: FakeOpenAIResponses, http: aiohttp.ClientSession
) -> None:
    db = tmp_path / "gateway.db"
    url = sqlite_url(db)

    gw = GatewayProcess("a-first-life", url, upstream.base_url, tmp_path / "a1.log", "replica-a")
    try:
        await gw.start()
        client = gw.client()
        try:
            done = await client.responses.create(model=MODEL, input="remember me")
        finally:
            await client.close()
        assert done.status == "completed"
        assert done.output_text.startswith("You said: remember me (turn 1)")
        status, before = await get_json(http, f"{gw.url}/v1/responses/{done.id}")
        assert status == 200 and before["status"] == "completed"

        async with open_stream(http, gw.url, {"model": MODEL, "input": slow_input(20)}) as stream:
            created = await stream.until(lambda e: e["type"] == "response.created")
            interrupted_id = created["response"]["id"]
            await stream.until(lambda e: e["type"] == "response.output_text.delta")
            await stream.until(lambda e: e["type"] == "response.output_text.delta")
            assert stream.text(), "some text had arrived before the kill"

            await gw.kill()
            assert gw.proc is not None and gw.proc.returncode == -signal.SIGKILL

            # The connection breaks (reset or EOF, depending on timing): no terminal event ever arrives.
            with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                await stream.rest(timeout=10)
        terminal = {"response.completed", "response.failed", "response.incomplete", "error"}
        assert not terminal & set(stream.types()), stream.types()
    finally:
        await gw.kill()

    # While no process runs: the row claims to be in progress, and nothing of its output was written.
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = {r[0]: r[1:] for r in conn.execute("select id, status, owner, lease_expires_at from responses")}
        assert rows[interrupted_id][0] == "in_progress", rows
        assert rows[interrupted_id][1] == "replica-a"
        assert rows[interrupted_id][2] is not None
        assert rows[done.id][0] == "completed"
        assert rows[done.id][1] is None  # a finished row releases its claim
        kinds = dict(
            conn.execute(
                "select kind, count(*) from response_items where response_id = ? group by kind", (interrupted_id,)
            ).fetchall()
        )
        assert kinds.get("output", 0) == 0, f"half-written: {kinds}"
        assert kinds.get("input") == 1  # the claim stores the request's input with the row

    # Same replica, same database: its start-up reclaims what its previous life left.
    async with gateway(tmp_path, "a-second-life", url, upstream.base_url, replica_id="replica-a") as gw2:
        status, failed = await get_json(http, f"{gw2.url}/v1/responses/{interrupted_id}")
        assert status == 200, failed
        assert failed["status"] == "failed"
        assert failed["error"] == {"code": "server_error", "message": INTERRUPTED_MESSAGE}
        assert failed["output"] == []

        status, after = await get_json(http, f"{gw2.url}/v1/responses/{done.id}")
        assert status == 200
        assert after == before, "a completed response must be untouched by the crash"

        client = gw2.client()
        try:
            again = await client.responses.create(model=MODEL, input="and now?", previous_response_id=done.id)
        finally:
            await client.close()
        assert again.status == "completed"
        assert again.output_text.startswith("You said: and now? (turn 2)")

        # Continuing the interrupted response: a continuation or a clean 4xx, never a 5xx.
        status, cont = await post_json(
            http,
            f"{gw2.url}/v1/responses",
            {"model": MODEL, "input": "still there?", "previous_response_id": interrupted_id},
        )
        assert status < 500, (status, cont)
        if status == 200:
            assert cont["status"] == "completed"
            # The interrupted turn's input is part of the rebuilt conversation, its lost output is not.
            assert output_text(cont).startswith("You said: still there? (turn 2)"), output_text(cont)
            sent = _conversation_texts(_upstream_body_for(upstream, "still there?"))
            assert sent == [slow_input(20), "still there?"], sent
        else:
            assert "error" in cont and cont["error"]["message"], cont

    with contextlib.closing(sqlite3.connect(db)) as conn:
        status_row = conn.execute(
            "select status, owner, lease_expires_at from responses where id = ?", (interrupted_id,)
        ).fetchone()
    assert status_row == ("failed", None, None)
    assert "marked 1 interrupted responses failed" in gw2.log_text()


# --------------------------------------------------------------------------- 2. leases across replicas


async def test_live_replica_fails_dead_replicas_rows_and_keeps_its_own(
    tmp_path: Path, upstream: FakeOpenAIResponses, http: aiohttp.ClientSession, pg_url: str
) -> None:
    lease = 2.0
    async with gateway(tmp_path, "a", pg_url, upstream.base_url, replica_id="replica-a", lease_seconds=lease) as a:
        b = GatewayProcess("b", pg_url, upstream.base_url, tmp_path / "b.log", "replica-b", lease_seconds=lease)
        try:
            await b.start()
            async with open_stream(http, a.url, {"model": MODEL, "input": slow_input(30)}) as a_stream:
                a_created = await a_stream.until(lambda e: e["type"] == "response.created")
                a_id = a_created["response"]["id"]
                a_started = time.monotonic()
                a_rest = asyncio.create_task(a_stream.rest(timeout=20))
                try:
                    async with open_stream(http, b.url, {"model": MODEL, "input": slow_input(20)}) as b_stream:
                        b_created = await b_stream.until(lambda e: e["type"] == "response.created")
                        b_id = b_created["response"]["id"]
                        await b_stream.until(lambda e: e["type"] == "response.output_text.delta")
                        await b.kill()
                        killed_at = time.monotonic()
                        with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                            await b_stream.rest(timeout=5)

                    # Poll through A (bounded): B's row fails only after its lease lapses;
                    # A's own row stays in progress all the while.
                    b_status, b_failed_after = "in_progress", None
                    seen_a: set[str] = set()
                    for _ in range(60):
                        await asyncio.sleep(0.1)
                        status, b_resp = await get_json(http, f"{a.url}/v1/responses/{b_id}")
                        assert status == 200, b_resp
                        b_status = b_resp["status"]
                        if not a_rest.done():
                            status, a_resp = await get_json(http, f"{a.url}/v1/responses/{a_id}")
                            assert status == 200, a_resp
                            seen_a.add(a_resp["status"])
                        if b_status != "in_progress":
                            b_failed_after = time.monotonic() - killed_at
                            break
                    assert b_status == "failed", f"B's response still {b_status} 6 s after B died"
                    assert b_failed_after is not None
                    # Lease 2 s (whole seconds, so up to 3 s) plus A's sweep period (lease/3).
                    assert 1.0 <= b_failed_after <= 4.5, b_failed_after
                    assert b_resp["error"] == {"code": "server_error", "message": INTERRUPTED_MESSAGE}
                    assert not a_rest.done(), "A's stream should still be running when B's row is swept"
                    assert seen_a == {"in_progress"}, seen_a

                    await a_rest
                finally:
                    if not a_rest.done():
                        a_rest.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await a_rest
            a_duration = time.monotonic() - a_started
        finally:
            await b.kill()

        # A's stream ran through more than two lease periods (renewal kept it) and ended normally.
        assert a_duration > 2 * lease, a_duration
        assert a_stream.types()[-1] == "response.completed", a_stream.types()[-5:]
        expected = "You said: " + slow_input(30) + " (turn 1)"
        assert a_stream.text() == expected
        status, a_final = await get_json(http, f"{a.url}/v1/responses/{a_id}")
        assert status == 200
        assert a_final["status"] == "completed"
        assert a_final.get("error") is None
        assert output_text(a_final) == expected
        assert "no longer in progress" not in a.log_text()

    rows = {
        r.id: tuple(r)[1:]
        for r in await pg_rows(
            pg_url, "select id, status, owner, lease_expires_at from responses where id in (:a, :b)", a=a_id, b=b_id
        )
    }
    assert rows[a_id] == ("completed", None, None)
    assert rows[b_id] == ("failed", None, None)
    outputs = await pg_rows(
        pg_url, "select count(*) from response_items where response_id = :id and kind = 'output'", id=b_id
    )
    assert outputs[0][0] == 0
    assert "marked 1 responses of dead replicas failed" in a.log_text()


# --------------------------------------------------------------------------- 3. one conversation, two processes


@contextlib.asynccontextmanager
async def pg_pair(
    tmp_path: Path, pg_url: str, upstream_url: str
) -> AsyncIterator[tuple[GatewayProcess, GatewayProcess]]:
    # One after the other: each migrates the (shared) database on start.
    async with gateway(tmp_path, "a", pg_url, upstream_url, replica_id="replica-a") as a:
        async with gateway(tmp_path, "b", pg_url, upstream_url, replica_id="replica-b") as b:
            yield a, b


async def test_two_processes_serve_one_conversation_alternately(
    tmp_path: Path, upstream: FakeOpenAIResponses, http: aiohttp.ClientSession, pg_url: str
) -> None:
    async with pg_pair(tmp_path, pg_url, upstream.base_url) as (a, b):
        clients = [a.client(), b.client()]
        try:
            previous: str | None = None
            ids: list[str] = []
            for turn in range(1, 7):
                client = clients[(turn - 1) % 2]
                resp = await client.responses.create(
                    model=MODEL, input=f"message {turn}", previous_response_id=previous or openai.omit
                )
                assert resp.status == "completed"
                assert resp.output_text == f"You said: message {turn} (turn {turn})"
                previous = resp.id
                ids.append(resp.id)
            assert resp.output_text.endswith("(turn 6)")

            # The last upstream request carried the whole conversation, rebuilt by B from rows A wrote too.
            last_body = [r.body for r in upstream.requests if r.method == "POST" and r.body][-1]
            users = [i for i in last_body["input"] if i.get("role") == "user"]
            assert len(users) == 6

            for owner in clients:
                for turn, rid in enumerate(ids, start=1):
                    got = await owner.responses.retrieve(rid)
                    assert got.status == "completed"
                    assert got.output_text == f"You said: message {turn} (turn {turn})"
                    assert got.previous_response_id == (ids[turn - 2] if turn > 1 else None)
                    items = (await owner.responses.input_items.list(rid)).model_dump()["data"]
                    texts = [part["text"] for item in items for part in item["content"]]
                    assert texts == [f"message {turn}"]
            a_items = await get_json(http, f"{a.url}/v1/responses/{ids[-1]}/input_items")
            b_items = await get_json(http, f"{b.url}/v1/responses/{ids[-1]}/input_items")
            assert a_items == b_items and a_items[0] == 200
            assert await get_json(http, f"{a.url}/v1/responses/{ids[3]}") == await get_json(
                http, f"{b.url}/v1/responses/{ids[3]}"
            )
        finally:
            for c in clients:
                await c.close()


# --------------------------------------------------------------------------- 4. forks and deletes


def _upstream_body_for(upstream: FakeOpenAIResponses, last_text: str) -> Json:
    """The one request the gateway sent upstream whose last input item is the user text `last_text`."""
    bodies = [
        r.body
        for r in upstream.requests
        if r.method == "POST" and r.body and _conversation_texts(r.body)[-1:] == [last_text]
    ]
    assert len(bodies) == 1, f"{len(bodies)} upstream requests end with {last_text!r}"
    return bodies[0]


def _conversation_texts(body: Json) -> list[str]:
    texts = []
    for item in body["input"]:
        content = item.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return texts


async def _check_forks(
    upstream: FakeOpenAIResponses, first: openai.AsyncOpenAI, second: openai.AsyncOpenAI, tag: str
) -> None:
    """Two concurrent continuations of one response both succeed, and each fork keeps its own chain."""
    root = await first.responses.create(model=MODEL, input=f"{tag} root")
    assert root.output_text == f"You said: {tag} root (turn 1)"
    fork_1, fork_2 = await asyncio.gather(
        first.responses.create(model=MODEL, input=f"{tag} fork one", previous_response_id=root.id),
        second.responses.create(model=MODEL, input=f"{tag} fork two", previous_response_id=root.id),
    )
    assert fork_1.id != fork_2.id
    assert fork_1.output_text == f"You said: {tag} fork one (turn 2)"
    assert fork_2.output_text == f"You said: {tag} fork two (turn 2)"
    assert fork_1.previous_response_id == fork_2.previous_response_id == root.id

    # Continue each fork from the other process (or the same, on one process), concurrently too.
    next_1, next_2 = await asyncio.gather(
        second.responses.create(model=MODEL, input=f"{tag} after one", previous_response_id=fork_1.id),
        first.responses.create(model=MODEL, input=f"{tag} after two", previous_response_id=fork_2.id),
    )
    assert next_1.output_text == f"You said: {tag} after one (turn 3)"
    assert next_2.output_text == f"You said: {tag} after two (turn 3)"
    texts_1 = _conversation_texts(_upstream_body_for(upstream, f"{tag} after one"))
    texts_2 = _conversation_texts(_upstream_body_for(upstream, f"{tag} after two"))
    assert texts_1 == [
        f"{tag} root",
        f"You said: {tag} root (turn 1)",
        f"{tag} fork one",
        f"You said: {tag} fork one (turn 2)",
        f"{tag} after one",
    ], texts_1
    assert texts_2 == [
        f"{tag} root",
        f"You said: {tag} root (turn 1)",
        f"{tag} fork two",
        f"You said: {tag} fork two (turn 2)",
        f"{tag} after two",
    ], texts_2


async def _check_concurrent_deletes(http: aiohttp.ClientSession, create: openai.AsyncOpenAI, urls: list[str]) -> None:
    """The same response deleted from two places at once: one 200, one 404, then gone everywhere."""
    for round_ in range(5):
        resp = await create.responses.create(model=MODEL, input=f"delete me {round_}")
        results = await asyncio.gather(*(delete_json(http, f"{u}/v1/responses/{resp.id}") for u in urls))
        statuses = sorted(status for status, _ in results)
        assert statuses == [200, 404], results
        ok = next(body for status, body in results if status == 200)
        assert ok == {"id": resp.id, "object": "response", "deleted": True}
        missing = next(body for status, body in results if status == 404)
        assert missing["error"]["message"] == f"Response with id '{resp.id}' not found."
        for u in urls:
            status, body = await get_json(http, f"{u}/v1/responses/{resp.id}")
            assert status == 404, body


async def test_concurrent_forks_and_deletes_on_one_sqlite_process(
    tmp_path: Path, upstream: FakeOpenAIResponses, http: aiohttp.ClientSession
) -> None:
    async with gateway(tmp_path, "solo", sqlite_url(tmp_path / "solo.db"), upstream.base_url, replica_id="solo") as gw:
        client = gw.client()
        try:
            await _check_forks(upstream, client, client, "sqlite")
            await _check_concurrent_deletes(http, client, [gw.url, gw.url])
        finally:
            await client.close()
        assert "Traceback" not in gw.log_text()


async def test_concurrent_forks_and_deletes_across_pg_processes(
    tmp_path: Path, upstream: FakeOpenAIResponses, http: aiohttp.ClientSession, pg_url: str
) -> None:
    async with pg_pair(tmp_path, pg_url, upstream.base_url) as (a, b):
        ca, cb = a.client(), b.client()
        try:
            await _check_forks(upstream, ca, cb, "pg")
            await _check_concurrent_deletes(http, ca, [a.url, b.url])
        finally:
            await ca.close()
            await cb.close()
        assert "Traceback" not in a.log_text() + b.log_text()
