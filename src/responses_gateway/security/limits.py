"""Rate limits per key: requests and tokens per minute, as token buckets, in memory or in Redis.

A bucket holds up to its per-minute limit and refills at limit/60 per second,
so a key may burst to its limit and then runs at its rate; `remaining` and
`reset` (time until full again) are what OpenAI's `x-ratelimit-*` headers say.
A create reserves its tokens before the call (the exact input count plus the
output budget) and gives back what it did not use once the usage is known.

Several processes share buckets through Redis with one round trip per call:
one Lua script checks and takes both buckets atomically, and the refunds a
process owes a key ride along with that key's next call. If Redis cannot be
reached the gateway fails open (the call is admitted without limits and a
warning is logged): an outage of the limiter must not take the API down.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from responses_gateway.errors import RateLimited

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limits:
    """A key's per-minute limits; None is unlimited."""

    rpm: int | None = None
    tpm: int | None = None

    @property
    def unlimited(self) -> bool:
        return self.rpm is None and self.tpm is None


@dataclass(frozen=True, slots=True)
class LimitState:
    """Where a key's buckets stand after a call was admitted."""

    limits: Limits
    remaining_requests: int
    reset_requests: float
    remaining_tokens: int
    reset_tokens: float

    def headers(self) -> dict[str, str]:
        """OpenAI's `x-ratelimit-*` headers (only for the limits the key has)."""
        out: dict[str, str] = {}
        if self.limits.rpm is not None:
            out["x-ratelimit-limit-requests"] = str(self.limits.rpm)
            out["x-ratelimit-remaining-requests"] = str(self.remaining_requests)
            out["x-ratelimit-reset-requests"] = _duration(self.reset_requests)
        if self.limits.tpm is not None:
            out["x-ratelimit-limit-tokens"] = str(self.limits.tpm)
            out["x-ratelimit-remaining-tokens"] = str(self.remaining_tokens)
            out["x-ratelimit-reset-tokens"] = _duration(self.reset_tokens)
        return out


def _duration(seconds: float) -> str:
    """OpenAI's reset format: `1s`, `6m0s`, `120ms`."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    whole = math.ceil(seconds)
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A call's admission: the buckets' state (None when nothing was measured) and, if refused, why."""

    state: LimitState | None
    refusal: RateLimited | None = None


UNMEASURED = Verdict(None)


class RateLimiter(Protocol):
    """Admits calls of a key against its limits."""

    async def admit(self, key: str, limits: Limits, tokens: int) -> Verdict:
        """Take one request and `tokens` from the key's buckets, or say why not (a RateLimited with `retry_after`).

        Unmeasured (state None) when the key has no limits or the limiter cannot be reached.
        """
        ...

    def refund(self, key: str, limits: Limits, tokens: int) -> None:
        """Give back reserved tokens a call did not use (negative: it used more)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def _too_many(kind: str, limit: int, retry_after: float) -> RateLimited:
    return RateLimited(
        f"Rate limit reached for {kind} per minute (limit {limit}). Please try again in {_duration(retry_after)}.",
        limit="tokens" if kind == "tokens" else "requests",
        retry_after=retry_after,
    )


def _too_large(tokens: int, limit: int) -> RateLimited:
    return RateLimited(
        f"Request too large: it needs {tokens} tokens (input and output budget), above this key's limit of "
        f"{limit} tokens per minute. Lower max_output_tokens or the input.",
        limit="tokens",
    )


class _Bucket:
    __slots__ = ("level", "at")

    def __init__(self, level: float, at: float) -> None:
        self.level = level
        self.at = at

    def refill(self, capacity: int, now: float) -> None:
        self.level = min(capacity, self.level + (now - self.at) * capacity / 60.0)
        self.at = now


class MemoryRateLimiter:
    """Buckets in this process (one worker, one replica)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def _bucket(self, key: str, kind: str, capacity: int, now: float) -> _Bucket:
        bucket = self._buckets.get((key, kind))
        if bucket is None:
            bucket = self._buckets[(key, kind)] = _Bucket(capacity, now)
        else:
            bucket.refill(capacity, now)
        return bucket

    async def admit(self, key: str, limits: Limits, tokens: int) -> Verdict:
        if limits.unlimited:
            return UNMEASURED
        now = self._clock()
        rpm, tpm = limits.rpm, limits.tpm
        requests = self._bucket(key, "requests", rpm, now) if rpm is not None else None
        budget = self._bucket(key, "tokens", tpm, now) if tpm is not None else None
        refusal: RateLimited | None = None
        if requests is not None and rpm is not None and requests.level < 1:
            refusal = _too_many("requests", rpm, (1 - requests.level) * 60.0 / rpm)
        elif budget is not None and tpm is not None and tokens > tpm:
            refusal = _too_large(tokens, tpm)
        elif budget is not None and tpm is not None and budget.level < tokens:
            refusal = _too_many("tokens", tpm, (tokens - budget.level) * 60.0 / tpm)
        else:
            if budget is not None:
                budget.level -= tokens
            if requests is not None:
                requests.level -= 1
        return Verdict(_state(limits, requests.level if requests else 0, budget.level if budget else 0), refusal)

    def refund(self, key: str, limits: Limits, tokens: int) -> None:
        bucket = self._buckets.get((key, "tokens"))
        if bucket is not None and limits.tpm is not None and tokens:
            bucket.refill(limits.tpm, self._clock())
            bucket.level = min(limits.tpm, bucket.level + tokens)

    async def aclose(self) -> None:
        return None


def _state(limits: Limits, requests_left: float, tokens_left: float) -> LimitState:
    return LimitState(
        limits=limits,
        remaining_requests=max(0, math.floor(requests_left)),
        reset_requests=((limits.rpm - requests_left) * 60.0 / limits.rpm) if limits.rpm else 0.0,
        remaining_tokens=max(0, math.floor(tokens_left)),
        reset_tokens=((limits.tpm - tokens_left) * 60.0 / limits.tpm) if limits.tpm else 0.0,
    )


# KEYS[1]: the key's hash. ARGV: rpm, tpm (0: none), tokens wanted, tokens refunded.
# Redis's own clock, so every process sees one time. Returns
# {admitted, requests left ×1000, tokens left ×1000, retry-after ms, which limit (1 requests, 2 tokens, 3 too large)}.
_ADMIT = """
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
local want, refund = tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local s = redis.call('HMGET', KEYS[1], 'rl', 'rt', 'tl', 'tt')
local rl = tonumber(s[1]) or rpm
local tl = tonumber(s[3]) or tpm
if rpm > 0 then rl = math.min(rpm, rl + (now - (tonumber(s[2]) or now)) * rpm / 60) end
if tpm > 0 then tl = math.min(tpm, tl + (now - (tonumber(s[4]) or now)) * tpm / 60 + refund) end
local admitted, retry, which = 1, 0, 0
if rpm > 0 and rl < 1 then
  admitted, retry, which = 0, (1 - rl) * 60000 / rpm, 1
elseif tpm > 0 and want > tpm then
  admitted, which = 0, 3
elseif tpm > 0 and tl < want then
  admitted, retry, which = 0, (want - tl) * 60000 / tpm, 2
end
if admitted == 1 then
  if rpm > 0 then rl = rl - 1 end
  if tpm > 0 then tl = tl - want end
end
redis.call('HSET', KEYS[1], 'rl', rl, 'rt', now, 'tl', tl, 'tt', now)
redis.call('PEXPIRE', KEYS[1], 120000)
return {admitted, math.floor(rl * 1000), math.floor(tl * 1000), math.ceil(retry), which}
"""


class RedisRateLimiter:
    """Buckets in Redis, shared by every worker and replica; one round trip per call."""

    def __init__(self, url: str, *, prefix: str = "rg:rl:") -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        self._script = self._redis.register_script(_ADMIT)
        self._prefix = prefix
        self._refunds: dict[str, int] = {}
        self._warned_at = 0.0

    async def admit(self, key: str, limits: Limits, tokens: int) -> Verdict:
        if limits.unlimited:
            return UNMEASURED
        refund = self._refunds.pop(key, 0)
        try:
            reply = await self._script(
                keys=[self._prefix + key], args=[limits.rpm or 0, limits.tpm or 0, tokens if limits.tpm else 0, refund]
            )
        except Exception as exc:  # redis.RedisError, OSError, timeouts: fail open
            self._refunds[key] = self._refunds.get(key, 0) + refund
            self._warn(exc)
            return UNMEASURED
        admitted, requests_left, tokens_left, retry_ms, which = (int(v) for v in reply)
        state = _state(limits, requests_left / 1000, tokens_left / 1000)
        if admitted:
            return Verdict(state)
        if which == 3:
            return Verdict(state, _too_large(tokens, limits.tpm or 0))
        if which == 1:
            return Verdict(state, _too_many("requests", limits.rpm or 0, retry_ms / 1000))
        return Verdict(state, _too_many("tokens", limits.tpm or 0, retry_ms / 1000))

    def refund(self, key: str, limits: Limits, tokens: int) -> None:
        if limits.tpm is not None and tokens:
            self._refunds[key] = self._refunds.get(key, 0) + tokens

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at > 10:
            self._warned_at = now
            log.warning("rate limiter unreachable (%s); admitting calls without limits", type(exc).__name__)

    async def aclose(self) -> None:
        await self._redis.aclose()
