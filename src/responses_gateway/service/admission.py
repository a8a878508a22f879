"""Every call against its key's rate limits; the buckets' state goes back to the caller as OpenAI's headers."""

from __future__ import annotations

from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.errors import QuotaExceeded
from responses_gateway.security.limits import RateLimiter
from responses_gateway.service.call import CallContext
from responses_gateway.service.usage import UsageLedger


class Admission:
    """Admits calls (one request; a create also its reserved tokens) and settles what a create really used."""

    def __init__(self, limiter: RateLimiter, ledger: UsageLedger | None = None) -> None:
        self._limiter = limiter
        self._ledger = ledger

    async def admit(self, ctx: CallContext, tokens: int = 0, *, create: bool = False) -> None:
        """Take from the key's buckets, or raise RateLimited (QuotaExceeded for a create past the month's budget);
        either way `ctx.headers` say where the buckets stand."""
        if ctx.key_id is None:
            return
        if create and ctx.monthly_tokens is not None and self._ledger is not None:
            if await self._ledger.month_spent(ctx.key_id) >= ctx.monthly_tokens:
                raise QuotaExceeded()
        if ctx.limits.unlimited:
            return
        verdict = await self._limiter.admit(ctx.key_id, ctx.limits, tokens)
        if verdict.state is not None:
            ctx.headers.update(verdict.state.headers())
        if verdict.refusal is not None:
            raise verdict.refusal

    def settle(self, ctx: CallContext, model: str, reserved: int, usage: pb.Usage) -> None:
        """Record what a create used, and give back the reserved tokens it did not use (or take more)."""
        if self._ledger is not None:
            self._ledger.record(ctx, model, usage)
        if ctx.key_id is not None and ctx.limits.tpm is not None:
            self._limiter.refund(ctx.key_id, ctx.limits, reserved - usage.input_tokens - usage.output_tokens)
