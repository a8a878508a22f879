"""Who is calling, as every RPC of the service receives it."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

from responses_gateway.security.auth import Principal
from responses_gateway.security.limits import Limits


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who is calling: the tenant every stored row belongs to, the key that authenticated the call (if any)
    and its limits; `headers` collects what the call tells the caller besides its reply (rate-limit state)."""

    tenant_id: str
    key_id: str | None = None
    limits: Limits = Limits()
    monthly_tokens: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


# Set by the gRPC server's authentication interceptor for the RPC it admitted.
CALLER: ContextVar[CallContext] = ContextVar("responses_gateway_caller")


def caller_of(principal: Principal, headers: dict[str, str] | None = None) -> CallContext:
    """The call context of an authenticated principal; `headers`: where the call's own headers go."""
    return CallContext(
        tenant_id=principal.tenant_id,
        key_id=principal.key_id,
        limits=principal.limits,
        monthly_tokens=principal.monthly_tokens,
        headers={} if headers is None else headers,
    )
