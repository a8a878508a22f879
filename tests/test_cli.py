"""The console script as a user runs it: `serve` with no keys still starts and explains."""

from __future__ import annotations

import gc
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from responses_gateway.cli import YOUNG_THRESHOLD, settle_after_start


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def keyless_serve(tmp_path: Path) -> Iterator[str]:
    http_port, grpc_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "DEEPSEEK_API_KEY")}
    env.update(
        RG_HTTP_PORT=str(http_port),
        RG_GRPC_PORT=str(grpc_port),
        RG_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "responses_gateway.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", http_port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(proc.stdout.read().decode() if proc.stdout else "serve exited") from None
                time.sleep(0.1)
        else:
            raise AssertionError("serve did not start listening in 20 s")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=15)[0].decode()
        assert proc.returncode == 0, output
        assert "shut down" in output


async def test_serve_without_keys_lists_models_and_explains(keyless_serve: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{keyless_serve}/v1/models") as resp:
            assert resp.status == 200
            ids = [m["id"] for m in (await resp.json())["data"]]
        # The embedded local model follows when the `local` extra is installed.
        assert ids[:3] == ["gpt-5.4", "gpt-5.4-mini", "deepseek-v4-pro"]
        async with http.post(f"{keyless_serve}/v1/responses", json={"model": "gpt-5.4", "input": "hi"}) as resp:
            assert resp.status == 503
            assert resp.headers["x-should-retry"] == "false"
            error = (await resp.json())["error"]
        assert error["code"] == "provider_not_configured"
        assert "OPENAI_API_KEY" in error["message"]
        async with http.get(f"{keyless_serve}/readyz") as resp:
            assert resp.status == 200


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "migrated.db"
    env = dict(os.environ, RG_DATABASE_URL=f"sqlite+aiosqlite:///{db}")
    result = subprocess.run([sys.executable, "-m", "responses_gateway.cli", "migrate"], env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    import sqlite3

    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("select name from sqlite_master where type='table'")}
    assert {"responses", "response_items", "alembic_version"} <= tables


async def test_serve_with_two_workers_shares_the_ports(tmp_path: Path) -> None:
    """Two worker processes on one port pair; a conversation continues whichever worker answers."""
    from tests.upstreams.openai_responses import FakeOpenAIResponses

    upstream = FakeOpenAIResponses(api_key="sk-workers")
    base_url = await upstream.start()
    http_port, grpc_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RG_", "OPENAI_", "DEEPSEEK_"))}
    env.update(
        RG_HTTP_PORT=str(http_port),
        RG_GRPC_PORT=str(grpc_port),
        RG_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'workers.db'}",
        OPENAI_BASE_URL=base_url,
        OPENAI_API_KEY="sk-workers",
        # Only the OpenAI route: keeps the embedded model (one per worker) out of this test.
        RG_PROVIDERS='[{"name": "openai", "type": "openai_responses", "base_url": "http://unused", '
        '"base_url_env": "OPENAI_BASE_URL", "api_key_env": "OPENAI_API_KEY"}]',
        RG_MODELS='[{"id": "gpt-5.4", "provider": "openai", "tokenizer": "o200k"}]',
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "responses_gateway.cli", "serve", "--workers", "2"], env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and log.read_text().count("serving: HTTP") < 2:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        assert log.read_text().count("serving: HTTP") == 2, log.read_text()
        previous = None
        for turn in range(1, 7):
            # A new connection per turn: the kernel picks the worker each time.
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
                body = {"model": "gpt-5.4", "input": f"turn {turn}", "previous_response_id": previous}
                async with http.post(f"http://127.0.0.1:{http_port}/v1/responses", json=body) as resp:
                    assert resp.status == 200, await resp.text()
                    answer = await resp.json()
            previous = answer["id"]
            assert answer["output"][-1]["content"][0]["text"] == f"You said: turn {turn} (turn {turn})"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        await upstream.close()
    assert proc.returncode == 0, log.read_text()
    assert " w0 " in log.read_text() and " w1 " in log.read_text()


# A serving process freezes its start-up heap and collects young objects less often.
def test_start_up_objects_leave_the_collectors_sight_and_requests_garbage_still_goes() -> None:
    thresholds = gc.get_threshold()
    try:
        built_at_start = [object() for _ in range(10)]
        settle_after_start()
        assert gc.get_freeze_count() >= len(built_at_start)
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD

        cycle: list[object] = []
        cycle.append(cycle)  # garbage only the collector can free
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


# `keys`: create prints the key once, list never shows it, revoke ends it.


def _keys(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"}
    return subprocess.run(
        [sys.executable, "-m", "responses_gateway.cli", "keys", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_keys_create_json_prints_the_key_once_and_nothing_else(tmp_path: Path) -> None:
    import json

    made = _keys(tmp_path, "create", "--tenant", "acme", "--name", "ci bot", "--rpm", "60", "--json")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)  # the whole of stdout is one JSON object
    assert set(created) == {"id", "key", "tenant", "name"}
    assert (created["tenant"], created["name"]) == ("acme", "ci bot")
    assert created["key"].startswith("rg-") and len(created["key"]) > 40

    listed = _keys(tmp_path, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["id"], row["tenant"], row["rpm"], row["revoked_at"]) == (created["id"], "acme", 60, None)
    assert created["key"] not in listed.stdout + listed.stderr + made.stderr
    # Stored as a hash only: the key is nowhere in the database file.
    assert created["key"].encode() not in (tmp_path / "keys.db").read_bytes()

    assert _keys(tmp_path, "revoke", created["id"]).returncode == 0
    assert json.loads(_keys(tmp_path, "list", "--json").stdout)[0]["revoked_at"] is not None
    again = _keys(tmp_path, "revoke", created["id"])
    assert again.returncode == 1 and "no active key" in again.stderr
    assert _keys(tmp_path, "list", "--tenant", "other", "--json").stdout.strip() == "[]"


def test_keys_usage_reports_json_and_refuses_a_malformed_date(tmp_path: Path) -> None:
    import json

    report = _keys(tmp_path, "usage", "--since", "2026-01-01", "--json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout) == []
    bad = _keys(tmp_path, "usage", "--since", "January")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
