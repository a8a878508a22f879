"""Rate limits per key, end to end: OpenAI's headers on every answer, 429 with retry-after past the limit,
in both layouts; and two worker processes sharing Redis let exactly the limit through."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict

from responses_gateway.config import AuthConfig
from responses_gateway.security import key_admin
from tests.e2e.conftest import FAKE_KEY_ENV, gateway_settings, serve
from tests.upstreams.openai_responses import FakeOpenAIResponses

HEADERS = (
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
)


@pytest.fixture(params=["inprocess", "remote"])
async def limited(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, str]]:
    """(bridge URL, a key allowed 3 requests and 20,000 tokens a minute)."""
    upstream = FakeOpenAIResponses(api_key="sk-upstream-secret")
    base_url = await upstream.start()
    monkeypatch.setenv(FAKE_KEY_ENV, "sk-upstream-secret")
    settings = gateway_settings(tmp_path, base_url, auth=AuthConfig(mode="required"))
    try:
        async with serve(settings, request.param) as (http_url, _, service):
            _, key = await key_admin.create_key(service.store, "acme", rpm=3, tpm=20_000)
            yield http_url, key
    finally:
        await upstream.close()


async def _post(
    session: aiohttp.ClientSession, url: str, key: str, body: dict[str, Any]
) -> tuple[int, CIMultiDict[str], str]:
    async with session.post(f"{url}/v1/responses", json=body, headers={"Authorization": f"Bearer {key}"}) as resp:
        return resp.status, CIMultiDict(resp.headers), await resp.text()


async def test_every_answer_carries_the_limits_and_the_fourth_request_a_minute_is_429(limited: tuple[str, str]) -> None:
    url, key = limited
    async with aiohttp.ClientSession() as session:
        answers = [
            await _post(session, url, key, {"model": "gpt-5.4", "input": "hi", "max_output_tokens": 1000}),
            await _post(session, url, key, {"model": "gpt-5.4", "input": "hi", "max_output_tokens": 1000, "stream": True}),
            await _post(session, url, key, {"model": "gpt-5.4", "input": "hi", "max_output_tokens": 1000}),
        ]
        for status, headers, body in answers:
            assert status == 200, body
            assert all(name in headers for name in HEADERS), headers
            assert headers["x-ratelimit-limit-requests"] == "3"
            assert headers["x-ratelimit-limit-tokens"] == "20000"
        assert [h["x-ratelimit-remaining-requests"] for _, h, _ in answers] == ["2", "1", "0"]
        # Reserved before the call (input + the 1000-token output budget), given back after.
        assert int(answers[0][1]["x-ratelimit-remaining-tokens"]) < 19_000

        status, headers, body = await _post(session, url, key, {"model": "gpt-5.4", "input": "hi"})
        assert status == 429, body
        error = json.loads(body)["error"]
        assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
        assert 1 <= int(headers["retry-after"]) <= 21
        assert headers["x-ratelimit-remaining-requests"] == "0"


async def test_a_request_whose_tokens_exceed_the_minute_budget_is_429_naming_tokens(limited: tuple[str, str]) -> None:
    url, key = limited
    async with aiohttp.ClientSession() as session:
        status, _, body = await _post(session, url, key, {"model": "gpt-5.4", "input": "hi", "max_output_tokens": 25_000})
    assert status == 429
    assert json.loads(body)["error"]["type"] == "tokens"


# --------------------------------------------------------------------------- two workers, one Redis


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_two_workers_sharing_redis_let_exactly_the_limit_through(tmp_path: Path) -> None:
    limit = 10
    upstream = FakeOpenAIResponses(api_key="sk-workers")
    base_url = await upstream.start()
    http_port, grpc_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RG_", "OPENAI_", "DEEPSEEK_"))}
    env.update(
        RG_HTTP_PORT=str(http_port),
        RG_GRPC_PORT=str(grpc_port),
        RG_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'workers.db'}",
        RG_AUTH__MODE="required",
        RG_REDIS_URL="redis://127.0.0.1:6379/0",
        OPENAI_BASE_URL=base_url,
        OPENAI_API_KEY="sk-workers",
        RG_PROVIDERS='[{"name": "openai", "type": "openai_responses", "base_url": "http://unused", '
        '"base_url_env": "OPENAI_BASE_URL", "api_key_env": "OPENAI_API_KEY"}]',
        RG_MODELS='[{"id": "gpt-5.4", "provider": "openai", "tokenizer": "o200k"}]',
    )
    made = subprocess.run(
        [sys.executable, "-m", "responses_gateway.cli", "keys", "create", "--tenant", "acme", "--rpm", str(limit), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["key"]
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

        async def one(n: int) -> int:
            # A connection of its own: the kernel spreads them over both workers.
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
                status, _, _ = await _post(session, f"http://127.0.0.1:{http_port}", key, {"model": "gpt-5.4", "input": f"n{n}"})
                return status

        statuses = await asyncio.gather(*(one(n) for n in range(2 * limit)))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        await upstream.close()
    assert sorted(statuses) == [200] * limit + [429] * limit, statuses
    text = log.read_text()
    assert " w0 " in text and " w1 " in text
    assert "auth: required" in text
    assert key not in text  # a key never reaches the logs


# --------------------------------------------------------------------------- usage and monthly quotas


@pytest.fixture(params=["inprocess", "remote"])
async def budgeted(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, str, Any]]:
    """(bridge URL, a key with a 15-token monthly budget, the service runtime)."""
    upstream = FakeOpenAIResponses(api_key="sk-upstream-secret")
    base_url = await upstream.start()
    monkeypatch.setenv(FAKE_KEY_ENV, "sk-upstream-secret")
    settings = gateway_settings(tmp_path, base_url, auth=AuthConfig(mode="required"))
    try:
        async with serve(settings, request.param) as (http_url, _, service):
            _, key = await key_admin.create_key(service.store, "acme", monthly_tokens=15)
            yield http_url, key, service
    finally:
        await upstream.close()


async def test_usage_is_recorded_per_key_and_model_and_a_spent_monthly_budget_is_429_insufficient_quota(
    budgeted: tuple[str, str, Any],
) -> None:
    url, key, service = budgeted
    async with aiohttp.ClientSession() as session:
        status, _, body = await _post(session, url, key, {"model": "gpt-5.4", "input": "hi"})
        assert status == 200, body
        used = json.loads(body)["usage"]
        status, _, body = await _post(session, url, key, {"model": "gpt-5.4-mini", "input": "again", "stream": True})
        assert status == 200, body
        await service.service.flush_usage()
        status, _, body = await _post(session, url, key, {"model": "gpt-5.4", "input": "and again"})
    assert status == 429, body
    assert json.loads(body)["error"]["code"] == "insufficient_quota"
    rows = await key_admin.usage_since(service.store, "2000-01-01")
    by_model = {r.model: r for r in rows}
    assert set(by_model) == {"gpt-5.4", "gpt-5.4-mini"}
    assert all(r.tenant_id == "acme" and r.key_id.startswith("key_") for r in rows)
    first = by_model["gpt-5.4"]
    assert (first.requests, first.input_tokens, first.output_tokens) == (1, used["input_tokens"], used["output_tokens"])
    assert by_model["gpt-5.4-mini"].requests == 1 and by_model["gpt-5.4-mini"].output_tokens > 0
