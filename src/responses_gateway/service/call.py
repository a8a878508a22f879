"""Who is calling, as every RPC of the service receives it."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who is calling: the tenant every stored row belongs to, and the key that authenticated the call (if any)."""

    tenant_id: str
    key_id: str | None = None


# Set by the gRPC server's authentication interceptor for the RPC it admitted.
CALLER: ContextVar[CallContext] = ContextVar("responses_gateway_caller")
