"""Who is calling, as every RPC of the service receives it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who is calling; set by the transport (API keys arrive with the security layer)."""

    tenant_id: str
