"""The fault matrix: every upstream failure the router handles, end to end.

Each test is one row: a fault injected in a fake upstream (``fail_next`` or a
``[[...]]`` trigger in the user text), a request through the real gateway
(bridge + service) with the official ``openai`` SDK (``max_retries=0``, so
every retry seen is the gateway's) or raw SSE, and assertions on what the
upstream saw (``.attempts``), what the router did (``stats``, breakers) and
what the client got. Every stream must end with exactly one terminal event
followed by ``data: [DONE]``.

Settings are short on purpose (fast backoff, sub-second timeouts, short
cooldowns) so the whole matrix runs in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from responses_gateway.config import (
    BreakerPolicy,
    DeploymentConfig,
    ModelConfig,
    ProviderConfig,
    RetryPolicy,
    Settings,
    Timeouts,
)
from responses_gateway.router import BreakerState, Router
from tests.e2e.conftest import FAKE_KEY_ENV, Gateway, serve
from tests.upstreams.deepseek_chat import FakeDeepSeekChat
from tests.upstreams.openai_responses import FakeOpenAIResponses

Json = dict[str, Any]

MODEL = "deepseek-v4-pro"
FALLBACK = "gpt-5.4"
DS_DEPLOYMENT = "deepseek/deepseek-v4-pro"
OPENAI_DEPLOYMENT = "openai/gpt-5.4"
TERMINAL_TYPES = ("response.completed", "response.incomplete", "response.failed")

RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=2.0)
# Generous by default, so a loaded CI machine cannot turn a slow attempt into a
# timeout; the hang and trickle rows use SHORT, which they exist to exercise.
FAST = Timeouts(connect=2, first_token=5, idle=5, total=20)
SHORT = Timeouts(connect=1, first_token=0.5, idle=0.5, total=10)
OPENAI_TIMEOUTS = Timeouts(connect=1, first_token=5, idle=5, total=10)
INPROCESS = pytest.mark.parametrize("mode", ["inprocess"])
BOTH_MODES = pytest.mark.parametrize("mode", ["inprocess", "remote"])
STREAMING = pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])


# --------------------------------------------------------------------------- harness


@dataclass
class Matrix:
    """A running gateway, its fakes, and the live router."""

    gw: Gateway
    fakes: dict[str, FakeDeepSeekChat]  # provider name → fake

    @property
    def ds(self) -> FakeDeepSeekChat:
        return self.fakes["deepseek"]

    @property
    def openai_fake(self) -> FakeOpenAIResponses:
        return self.gw.upstream

    @property
    def router(self) -> Router:
        assert self.gw.service is not None
        return self.gw.service.router

    def breaker_state(self, model: str = MODEL, index: int = 0) -> BreakerState:
        return self.router.deployments(model)[index].breaker.state

    def openai_posts(self) -> int:
        return sum(1 for r in self.openai_fake.requests if r.method == "POST")

    def client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.gw.http_url}/v1", api_key="sk-anything", max_retries=0, timeout=20)


def default_models(fallback: bool) -> list[ModelConfig]:
    return [
        ModelConfig(id=MODEL, provider="deepseek", owned_by="deepseek", fallbacks=[FALLBACK] if fallback else []),
        ModelConfig(id=FALLBACK, provider="openai", owned_by="openai"),
    ]


@contextlib.asynccontextmanager
async def matrix(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    *,
    deepseeks: tuple[str, ...] = ("deepseek",),
    models: list[ModelConfig] | None = None,
    fallback: bool = True,
    retry: RetryPolicy = RETRY,
    breaker: BreakerPolicy | None = None,
    timeouts: Timeouts = FAST,
) -> AsyncIterator[Matrix]:
    """The gateway over one fake OpenAI and one fake DeepSeek per name in `deepseeks`."""
    openai_fake = FakeOpenAIResponses(api_key="sk-upstream-secret")
    fakes = {name: FakeDeepSeekChat(api_key=f"sk-{name}-secret") for name in deepseeks}
    started: list[Any] = []
    try:
        openai_url = await openai_fake.start()
        started.append(openai_fake)
        monkeypatch.setenv(FAKE_KEY_ENV, "sk-upstream-secret")
        providers = [
            ProviderConfig(
                name="openai", type="openai_responses", base_url=openai_url, api_key_env=FAKE_KEY_ENV, timeouts=OPENAI_TIMEOUTS
            )
        ]
        for index, (name, fake) in enumerate(fakes.items()):
            url = await fake.start()
            started.append(fake)
            env = f"FM_DEEPSEEK_KEY_{index}"
            monkeypatch.setenv(env, fake.api_key)
            providers.append(
                ProviderConfig(name=name, type="chat_completions", base_url=url, api_key_env=env, timeouts=timeouts)
            )
        settings = Settings(
            grpc_host="127.0.0.1",
            grpc_port=0,
            http_host="127.0.0.1",
            http_port=0,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
            providers=providers,
            models=models if models is not None else default_models(fallback),
            retry=retry,
            breaker=breaker or BreakerPolicy(),
        )
        async with serve(settings, mode) as (http_url, target, service):
            gw = Gateway(http_url, target, openai_fake, mode, service, fakes.get("deepseek"))
            yield Matrix(gw, fakes)
    finally:
        for fake in reversed(started):
            await fake.close()


# --------------------------------------------------------------------------- client helpers


@dataclass
class Sse:
    status: int
    frames: list[tuple[str | None, str]]
    body: str

    @property
    def events(self) -> list[Json]:
        """The events, after checking the framing: one terminal event, last, then [DONE]."""
        assert self.status == 200, self.body
        assert self.frames, "empty stream"
        assert self.frames[-1] == (None, "[DONE]"), f"the stream does not end with data: [DONE]: {self.frames[-3:]!r}"
        events = []
        for name, data in self.frames[:-1]:
            assert data != "[DONE]", "[DONE] before the end of the stream"
            event = json.loads(data)
            assert name == event["type"], f"event: {name!r} but data.type {event['type']!r}"
            events.append(event)
        assert [e["sequence_number"] for e in events] == list(range(len(events)))
        kinds = types_of(events)
        terminals = [k for k in kinds if k in TERMINAL_TYPES]
        assert len(terminals) == 1, f"expected exactly one terminal event, got {terminals} in {kinds}"
        assert kinds[-1] in TERMINAL_TYPES, f"the terminal event is not last: {kinds}"
        assert kinds[0] == "response.created", kinds
        return events


def parse_sse(text: str) -> list[tuple[str | None, str]]:
    frames = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name: str | None = None
        data_lines = []
        for line in block.split("\n"):
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data_lines.append(value)
            else:
                raise AssertionError(f"unexpected SSE line {line!r}")
        if data_lines:
            frames.append((name, "\n".join(data_lines)))
    return frames


def http_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(headers={"Authorization": "Bearer sk-anything"}, timeout=aiohttp.ClientTimeout(total=20))


async def raw_stream(m: Matrix, text: str, model: str = MODEL) -> Sse:
    """POST /v1/responses with stream:true; the whole body, read to its end."""
    async with http_session() as session:
        body = {"model": model, "input": text, "stream": True}
        async with session.post(f"{m.gw.http_url}/v1/responses", json=body) as resp:
            raw = await resp.text()
            if resp.status == 200:
                assert resp.headers["Content-Type"].startswith("text/event-stream")
            return Sse(resp.status, parse_sse(raw) if resp.status == 200 else [], raw)


async def raw_create(session: aiohttp.ClientSession, m: Matrix, text: str) -> Json:
    async with session.post(f"{m.gw.http_url}/v1/responses", json={"model": MODEL, "input": text}) as resp:
        body: Json = await resp.json()
        assert resp.status == 200, body
        return body


async def sdk_stream(m: Matrix, text: str, model: str = MODEL) -> list[Any]:
    """create(stream=True) through the SDK: every event, up to its end."""
    async with m.client() as client:
        stream = await client.responses.create(model=model, input=text, stream=True)
        async with stream:
            return [event async for event in stream]


async def answer(m: Matrix, text: str, *, stream: bool, model: str = MODEL) -> tuple[str, str]:
    """(status, output text) of a request that must succeed, streamed or not."""
    if stream:
        events = (await raw_stream(m, text, model)).events
        final = events[-1]["response"]
        assert events[-1]["type"] == "response.completed", types_of(events)
        streamed = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
        assert streamed == output_text(final)
        return final["status"], streamed
    async with m.client() as client:
        response = await client.responses.create(model=model, input=text)
    return response.status or "", response.output_text


def output_text(response: Json) -> str:
    return "".join(
        part["text"]
        for item in response["output"]
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    )


async def expect_status_error(m: Matrix, text: str, *, stream: bool) -> openai.APIStatusError:
    """The request fails before any event: a plain HTTP error, raised by the SDK."""
    async with m.client() as client:
        with pytest.raises(openai.APIStatusError) as info:
            if stream:
                events = await client.responses.create(model=MODEL, input=text, stream=True)
                async with events:
                    async for _ in events:
                        pass
            else:
                await client.responses.create(model=MODEL, input=text)
    return info.value


def types_of(events: list[Json]) -> list[str]:
    return [e["type"] for e in events]


def error_code(event: Json) -> str | None:
    code = event.get("code")
    return code if code is not None else (event.get("error") or {}).get("code")


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


def expected_text(text: str) -> str:
    return f"You said: {text} (turn 1)"


# --------------------------------------------------------------------------- 1-2: passing faults, retried


@INPROCESS
@STREAMING
async def test_429_retry_after_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, stream: bool) -> None:
    """Row 1: a 429 with retry-after 0.3 s → the gateway waits that long, then succeeds on attempt 2."""
    async with matrix(tmp_path, monkeypatch, mode) as m:
        m.ds.fail_next = [(429, 0.3)]
        started = time.monotonic()
        status, text = await answer(m, "hello", stream=stream)
        elapsed = time.monotonic() - started

        assert (status, text) == ("completed", expected_text("hello"))
        assert elapsed >= 0.3, f"retried after {elapsed:.3f}s, before the upstream's retry-after"
        assert elapsed < 2.0
        assert m.ds.attempts == 2
        assert (m.router.stats.attempts, m.router.stats.retries, m.router.stats.fallbacks) == (2, 1, 0)
        assert m.router.stats.last_deployment == DS_DEPLOYMENT
        assert m.openai_posts() == 0
        assert m.breaker_state() is BreakerState.CLOSED


@INPROCESS
@STREAMING
async def test_429_retry_after_beyond_the_cap_moves_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, stream: bool
) -> None:
    """Row 1b: a retry-after longer than max_retry_after (2 s) is not waited for: straight to the fallback."""
    async with matrix(tmp_path, monkeypatch, mode) as m:
        m.ds.fail_next = [(429, 5.0)]
        started = time.monotonic()
        assert await answer(m, "hello", stream=stream) == ("completed", expected_text("hello"))
        elapsed = time.monotonic() - started

        assert elapsed < 1.0, f"{elapsed:.2f}s: the gateway waited on a retry-after above its cap"
        assert m.ds.attempts == 1
        assert (m.router.stats.attempts, m.router.stats.retries, m.router.stats.fallbacks) == (2, 0, 1)
        assert m.router.stats.last_deployment == OPENAI_DEPLOYMENT
        assert m.breaker_state() is BreakerState.CLOSED


@INPROCESS
@STREAMING
@pytest.mark.parametrize("status_code", [500, 503])
async def test_5xx_then_success(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, stream: bool, status_code: int
) -> None:
    """Row 2: one 500 (or 503), then success → attempt 2 answers; the client sees a normal completion."""
    async with matrix(tmp_path, monkeypatch, mode) as m:
        m.ds.fail_next = [(status_code, None)]
        assert await answer(m, "hello", stream=stream) == ("completed", expected_text("hello"))
        assert m.ds.attempts == 2
        assert (m.router.stats.attempts, m.router.stats.retries, m.router.stats.fallbacks) == (2, 1, 0)
        assert m.router.stats.last_deployment == DS_DEPLOYMENT
        assert m.openai_posts() == 0
        assert m.breaker_state() is BreakerState.CLOSED  # a success ended the run of failures


# --------------------------------------------------------------------------- 3-5: exhausted retries, fallbacks, failover


@INPROCESS
@STREAMING
async def test_503_exhausts_attempts_without_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, stream: bool
) -> None:
    """Row 3: 503 ×3 with no fallback → the client gets 503 after max_attempts tries."""
    async with matrix(tmp_path, monkeypatch, mode, fallback=False) as m:
        m.ds.fail_next = [(503, None)] * 3
        err = await expect_status_error(m, "hello", stream=stream)

        assert type(err) is openai.InternalServerError
        assert err.status_code == 503
        assert err.code == "server_is_overloaded"
        assert m.ds.attempts == 3
        assert (m.router.stats.attempts, m.router.stats.retries, m.router.stats.fallbacks) == (3, 2, 0)
        assert m.openai_posts() == 0
        assert m.breaker_state() is BreakerState.CLOSED  # 3 failures < the default threshold of 5


@INPROCESS
@STREAMING
async def test_503_exhausts_attempts_then_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, stream: bool
) -> None:
    """Row 4: 503 ×3 with fallbacks ["gpt-5.4"] → the answer comes from the OpenAI upstream."""
    async with matrix(tmp_path, monkeypatch, mode) as m:
        m.ds.fail_next = [(503, None)] * 3
        assert await answer(m, "hello", stream=stream) == ("completed", expected_text("hello"))

        assert m.ds.attempts == 3
        assert m.openai_posts() == 1
        (posted,) = [r.body for r in m.openai_fake.requests if r.method == "POST"]
        assert posted is not None and posted["model"] == FALLBACK
        assert (m.router.stats.attempts, m.router.stats.retries, m.router.stats.fallbacks) == (4, 2, 1)
        assert m.router.stats.last_deployment == OPENAI_DEPLOYMENT


@INPROCESS
async def test_failing_deployment_fails_over_to_its_sibling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Row 5: two deployments of one model; the one that always answers 500 is passed over for the other."""
    models = [
        ModelConfig(
            id=MODEL,
            deployments=[
                DeploymentConfig(provider="ds-bad", upstream_model=MODEL, weight=1),
                DeploymentConfig(provider="ds-good", upstream_model=MODEL, weight=1),
            ],
            fallbacks=[FALLBACK],
        ),
        ModelConfig(id=FALLBACK, provider="openai"),
    ]
    async with matrix(tmp_path, monkeypatch, mode, deepseeks=("ds-bad", "ds-good"), models=models) as m:
        bad, good = m.fakes["ds-bad"], m.fakes["ds-good"]
        bad.fail_next = [(500, None)] * 100
        # The first deployment is drawn by weight (1:1): ask until the failing one was drawn
        # (twenty tries all drawing the good one: 1 in a million).
        for sent in range(1, 21):
            assert await answer(m, f"hello {sent}", stream=False) == ("completed", expected_text(f"hello {sent}"))
            assert m.router.stats.last_deployment == "ds-good/deepseek-v4-pro"
            if bad.attempts:
                break
        assert bad.attempts == 3, "the failing deployment gets max_attempts tries before the failover"
        assert good.attempts == sent
        assert m.router.stats.retries == 2
        assert m.router.stats.fallbacks == 0, "a sibling deployment is not a fallback model"
        assert m.openai_posts() == 0
        bad_breaker, good_breaker = (d.breaker.state for d in m.router.deployments(MODEL))
        assert (bad_breaker, good_breaker) == (BreakerState.CLOSED, BreakerState.CLOSED)  # 3 < threshold 5


# --------------------------------------------------------------------------- 6-9: transport faults


@INPROCESS
@pytest.mark.parametrize("fallback", [True, False], ids=["fallback", "no-fallback"])
async def test_connection_reset_before_the_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, fallback: bool
) -> None:
    """Row 6: the upstream closes the connection before answering → retried, then fallback or 502."""
    # Two requests × 3 failed attempts would open a breaker of the default threshold (5) mid-way.
    policy = BreakerPolicy(failure_threshold=100)
    async with matrix(tmp_path, monkeypatch, mode, fallback=fallback, breaker=policy) as m:
        if fallback:
            status, text = await answer(m, "hello [[reset]]", stream=True)
            assert (status, text) == ("completed", expected_text("hello [[reset]]"))
            assert m.router.stats.fallbacks == 1
            assert m.router.stats.last_deployment == OPENAI_DEPLOYMENT
            assert m.openai_posts() == 1
        else:
            sse = await raw_stream(m, "hello [[reset]]")
            assert sse.status == 502, sse.body
            assert json.loads(sse.body)["error"]["code"] == "upstream_unavailable"
            err = await expect_status_error(m, "hello [[reset]]", stream=False)
            assert type(err) is openai.InternalServerError
            assert (err.status_code, err.code) == (502, "upstream_unavailable")
        requests = 1 if fallback else 2
        assert m.ds.attempts == 3 * requests
        assert m.router.stats.retries == 2 * requests


@BOTH_MODES
async def test_connection_drop_mid_stream_is_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Row 7: the socket closes mid-stream → no retry, no fallback: error, response.failed, [DONE]."""
    async with matrix(tmp_path, monkeypatch, mode) as m:
        events = (await raw_stream(m, "hello [[stream:drop]]")).events
        kinds = types_of(events)
        assert kinds[:2] == ["response.created", "response.in_progress"]
        assert len(kinds) > 4, "the upstream's first events reached the client before the drop"
        assert kinds[-2:] == ["error", "response.failed"]
        failed = events[-1]["response"]
        assert failed["status"] == "failed"
        assert failed["id"] == events[0]["response"]["id"]
        assert m.ds.attempts == 1
        assert (m.router.stats.retries, m.router.stats.fallbacks) == (0, 0)

        seen: list[str] = []
        async with m.client() as client:
            with pytest.raises(openai.APIError) as info:
                stream = await client.responses.create(model=MODEL, input="hello [[stream:drop]]", stream=True)
                async with stream:
                    async for event in stream:
                        seen.append(event.type)
            assert not isinstance(info.value, openai.APIStatusError)
        assert seen[:2] == ["response.created", "response.in_progress"]
        assert "error" not in seen  # the SDK raises on it instead of yielding it
        assert m.ds.attempts == 2  # one per request
        assert (m.router.stats.attempts, m.router.stats.retries, m.router.stats.fallbacks) == (2, 0, 0)
        assert m.openai_posts() == 0
        async with m.client() as client:
            stored = await client.responses.retrieve(failed["id"])
        assert stored.status == "failed"


# A hung upstream is timed out at first_token (0.5 s) per attempt. `total` is set above
# that, so a first-token timeout that does not fire shows as attempts of `total` each.
HANG_TIMEOUTS = Timeouts(connect=1, first_token=0.5, idle=0.5, total=2)
HANG_BOUND = RETRY.max_attempts * HANG_TIMEOUTS.first_token + 1.2  # 3 × 0.5 s + backoff + slack


@INPROCESS
@STREAMING
@pytest.mark.parametrize("fallback", [True, False], ids=["fallback", "no-fallback"])
async def test_hang_past_first_token_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, stream: bool, fallback: bool
) -> None:
    """Row 8: the upstream never answers → first-token timeout, retried, then fallback or 504."""
    async with matrix(tmp_path, monkeypatch, mode, fallback=fallback, timeouts=HANG_TIMEOUTS) as m:
        started = time.monotonic()
        if fallback:
            status, text = await answer(m, "hello [[hang]]", stream=stream)
            assert (status, text) == ("completed", expected_text("hello [[hang]]"))
        else:
            err = await expect_status_error(m, "hello [[hang]]", stream=stream)
            assert type(err) is openai.InternalServerError
            assert (err.status_code, err.code) == (504, "upstream_timeout")
        elapsed = time.monotonic() - started

        assert m.ds.attempts == 3
        assert m.router.stats.retries == 2
        assert m.router.stats.fallbacks == (1 if fallback else 0)
        assert m.openai_posts() == (1 if fallback else 0)
        if fallback:
            assert m.router.stats.last_deployment == OPENAI_DEPLOYMENT
        # Every abandoned attempt was hung up on, so the upstream stopped working on it.
        await wait_until(lambda: m.ds.cancelled_streams == 3, 2.0, "the 3 hung upstream requests to be cancelled")
        assert elapsed < HANG_BOUND, (
            f"{elapsed:.2f}s for {RETRY.max_attempts} attempts with first_token={HANG_TIMEOUTS.first_token}s "
            f"(total={HANG_TIMEOUTS.total}s): the first-token timeout did not cut the hung attempts"
        )


@INPROCESS
async def test_trickle_past_idle_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """Row 9: the stream starts, then stalls past the idle timeout → error upstream_timeout, response.failed."""
    async with matrix(tmp_path, monkeypatch, mode, timeouts=SHORT) as m:
        started = time.monotonic()
        events = (await raw_stream(m, "hello [[trickle]]")).events
        elapsed = time.monotonic() - started
        kinds = types_of(events)

        assert len(kinds) > 4, f"the stream had started before the stall: {kinds}"
        assert kinds[-2:] == ["error", "response.failed"]
        assert error_code(events[-2]) == "upstream_timeout"
        failed = events[-1]["response"]
        assert failed["status"] == "failed"
        assert failed["error"]["code"] == "upstream_timeout"
        assert elapsed < 3.0, f"{elapsed:.2f}s: the idle timeout (0.5 s) did not cut the 5 s stall"
        assert m.ds.attempts == 1
        assert (m.router.stats.retries, m.router.stats.fallbacks) == (0, 0)
        assert m.openai_posts() == 0

        async with m.client() as client:
            stored = await client.responses.retrieve(failed["id"])
        assert stored.status == "failed"
        assert stored.error is not None
        assert str(stored.error.code) == "upstream_timeout"  # not in the SDK's Literal, kept as sent
        await wait_until(lambda: m.ds.cancelled_streams == 1, 2.0, "the stalled upstream stream to be cancelled")


# --------------------------------------------------------------------------- 10-11: circuit breaker


@BOTH_MODES
async def test_breaker_opens_then_recovers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """Row 10: two failures open the breaker; it refuses without calling upstream; after the cooldown a probe closes it."""
    policy = BreakerPolicy(failure_threshold=2, cooldown=0.5)
    retry = RETRY.model_copy(update={"max_attempts": 1})
    async with matrix(tmp_path, monkeypatch, mode, fallback=False, retry=retry, breaker=policy) as m:
        for n in (1, 2):
            err = await expect_status_error(m, "hello [[http:500]]", stream=False)
            assert type(err) is openai.InternalServerError
            assert err.status_code == 500
            assert m.ds.attempts == n
        assert m.breaker_state() is BreakerState.OPEN
        assert m.router.stats.retries == 0

        for stream in (False, True):
            err = await expect_status_error(m, "hello", stream=stream)
            assert type(err) is openai.InternalServerError
            assert err.status_code == 503
            assert "cooling down" in str(err.body), err.body
            assert m.ds.attempts == 2, "an open breaker must not let requests reach the upstream"
        assert m.router.stats.attempts == 2
        assert m.breaker_state() is BreakerState.OPEN

        await asyncio.sleep(0.6)
        assert m.breaker_state() is BreakerState.HALF_OPEN
        assert await answer(m, "hello", stream=False) == ("completed", expected_text("hello"))
        assert m.ds.attempts == 3  # the probe
        assert m.breaker_state() is BreakerState.CLOSED
        assert await answer(m, "again", stream=True) == ("completed", expected_text("again"))
        assert m.ds.attempts == 4
        assert m.breaker_state() is BreakerState.CLOSED


@INPROCESS
async def test_rate_limits_do_not_open_the_breaker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """Row 11: 429s are retried and reported, but are not failures: the breaker stays closed."""
    policy = BreakerPolicy(failure_threshold=2, cooldown=30)
    async with matrix(tmp_path, monkeypatch, mode, fallback=False, breaker=policy) as m:
        m.ds.fail_next = [(429, 0.01)] * 6
        for stream in (False, True):
            err = await expect_status_error(m, "hello", stream=stream)
            assert type(err) is openai.RateLimitError
            assert err.status_code == 429
            assert m.breaker_state() is BreakerState.CLOSED
        assert m.ds.attempts == 6  # 2 requests × max_attempts, each a 429
        assert m.router.stats.retries == 4

        # Far past the threshold of 2, and yet the next request goes straight through.
        assert await answer(m, "hello", stream=False) == ("completed", expected_text("hello"))
        assert m.ds.attempts == 7
        assert m.breaker_state() is BreakerState.CLOSED


# --------------------------------------------------------------------------- 12: client faults


@INPROCESS
@STREAMING
async def test_client_fault_is_neither_retried_nor_failed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, stream: bool
) -> None:
    """Row 12: an upstream 400 is about the request itself: one attempt, no fallback, BadRequestError."""
    async with matrix(tmp_path, monkeypatch, mode) as m:
        err = await expect_status_error(m, "hello [[http:400]]", stream=stream)
        assert type(err) is openai.BadRequestError
        assert err.status_code == 400
        assert err.code == "context_length_exceeded"
        assert m.ds.attempts == 1
        assert (m.router.stats.attempts, m.router.stats.retries, m.router.stats.fallbacks) == (1, 0, 0)
        assert m.openai_posts() == 0
        assert m.breaker_state() is BreakerState.CLOSED


# --------------------------------------------------------------------------- 13: weighted routing


@INPROCESS
async def test_weighted_routing_share(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """Row 13: weights 3 and 1 → about three requests in four go to the heavy deployment."""
    models = [
        ModelConfig(
            id=MODEL,
            deployments=[
                DeploymentConfig(provider="ds-heavy", upstream_model=MODEL, weight=3),
                DeploymentConfig(provider="ds-light", upstream_model=MODEL, weight=1),
            ],
        )
    ]
    total = 400
    async with matrix(tmp_path, monkeypatch, mode, deepseeks=("ds-heavy", "ds-light"), models=models) as m:
        heavy, light = m.fakes["ds-heavy"], m.fakes["ds-light"]
        async with http_session() as session:
            for n in range(total):
                body = await raw_create(session, m, f"hello {n}")
                assert body["status"] == "completed"
        assert heavy.attempts + light.attempts == total
        share = heavy.attempts / total
        # Binomial sd = sqrt(0.75 × 0.25 / 400) ≈ 0.022: ±0.08 is more than 3.5 sd.
        assert abs(share - 0.75) <= 0.08, f"heavy deployment served {heavy.attempts}/{total} = {share:.3f}"
        assert (m.router.stats.retries, m.router.stats.fallbacks) == (0, 0)
