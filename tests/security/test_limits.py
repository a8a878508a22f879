"""Rate-limit buckets: in memory and in a real Redis, the same arithmetic."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from responses_gateway.errors import RateLimited
from responses_gateway.security.limits import Limits, MemoryRateLimiter, RateLimiter, RedisRateLimiter, _duration

REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    made: RateLimiter = MemoryRateLimiter() if request.param == "memory" else RedisRateLimiter(REDIS_URL)
    try:
        yield made
    finally:
        await made.aclose()


def _key() -> str:
    return f"key_test_{secrets.token_hex(8)}"


async def test_a_key_may_burst_to_its_requests_per_minute_then_is_told_when_to_retry(limiter: RateLimiter) -> None:
    key, limits = _key(), Limits(rpm=3)
    states = [await limiter.admit(key, limits, 0) for _ in range(3)]
    assert [v.refusal for v in states] == [None, None, None]
    assert [v.state.remaining_requests for v in states if v.state] == [2, 1, 0]
    refused = await limiter.admit(key, limits, 0)
    assert isinstance(refused.refusal, RateLimited)
    assert refused.refusal.type == "requests"
    assert 19 < refused.refusal.retry_after <= 20.5  # one request refills in 60/3 s
    assert refused.state is not None and refused.state.headers()["x-ratelimit-remaining-requests"] == "0"


async def test_tokens_are_reserved_and_what_a_call_did_not_use_comes_back(limiter: RateLimiter) -> None:
    key, limits = _key(), Limits(tpm=1000)
    first = await limiter.admit(key, limits, 800)
    assert first.refusal is None and first.state is not None and first.state.remaining_tokens == 200
    refused = await limiter.admit(key, limits, 500)
    assert isinstance(refused.refusal, RateLimited) and refused.refusal.type == "tokens"
    limiter.refund(key, limits, 700)  # the call used 100 of its 800
    again = await limiter.admit(key, limits, 500)
    assert again.refusal is None and again.state is not None and 399 <= again.state.remaining_tokens <= 401


async def test_a_request_larger_than_the_whole_budget_is_refused_without_a_retry_time(limiter: RateLimiter) -> None:
    verdict = await limiter.admit(_key(), Limits(tpm=100), 101)
    assert isinstance(verdict.refusal, RateLimited) and verdict.refusal.retry_after == 0
    assert "too large" in verdict.refusal.message


async def test_a_key_without_limits_is_not_measured(limiter: RateLimiter) -> None:
    verdict = await limiter.admit(_key(), Limits(), 10**9)
    assert verdict.state is None and verdict.refusal is None


async def test_buckets_refill_at_their_rate() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    key, limits = _key(), Limits(rpm=60)
    for _ in range(60):
        assert (await limiter.admit(key, limits, 0)).refusal is None
    assert (await limiter.admit(key, limits, 0)).refusal is not None
    clock.now += 1.0  # one request per second
    verdict = await limiter.admit(key, limits, 0)
    assert verdict.refusal is None and verdict.state is not None
    assert verdict.state.headers()["x-ratelimit-reset-requests"] == "1m0s"


async def test_an_unreachable_redis_admits_without_limits_and_never_raises() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:9/0")
    try:
        verdict = await limiter.admit(_key(), Limits(rpm=1), 0)
    finally:
        await limiter.aclose()
    assert verdict.state is None and verdict.refusal is None


def test_reset_times_read_as_openais() -> None:
    assert [_duration(s) for s in (0.12, 1.0, 6.2, 59.0, 60.0, 361.0)] == ["120ms", "1s", "7s", "59s", "1m0s", "6m1s"]
