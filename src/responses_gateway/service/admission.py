"""Every call against its key's rate limits; the buckets' state goes back to the caller as OpenAI's headers."""

from __future__ import annotations

from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.security.limits import RateLimiter
from responses_gateway.service.call import CallContext


class Admission:
    """Admits calls (one request; a create also its reserved tokens) and settles what a create really used."""

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter

    async def admit(self, ctx: CallContext, tokens: int = 0) -> None:
        """Take from the key's buckets, or raise RateLimited; either way `ctx.headers` say where they stand."""
        if ctx.key_id is None or ctx.limits.unlimited:
            return
        verdict = await self._limiter.admit(ctx.key_id, ctx.limits, tokens)
        if verdict.state is not None:
            ctx.headers.update(verdict.state.headers())
        if verdict.refusal is not None:
            raise verdict.refusal

    def settle(self, ctx: CallContext, reserved: int, usage: pb.Usage) -> None:
        """Give back the reserved tokens a create did not use (or take what it used beyond them)."""
        if ctx.key_id is not None and ctx.limits.tpm is not None:
            self._limiter.refund(ctx.key_id, ctx.limits, reserved - usage.input_tokens - usage.output_tokens)
