"""The one small interface every upstream adapter implements."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.config import ModelConfig, ProviderConfig


@dataclass(frozen=True, slots=True)
class ProviderCall:
    """What an adapter sends upstream: a self-contained request.

    `request` already holds the whole conversation (history rebuilt from the
    store), carries no `previous_response_id`, and names the upstream model.
    """

    request: pb.CreateResponseRequest
    model: ModelConfig
    # The name this deployment's upstream knows the model by.
    upstream_model: str


class Provider(Protocol):
    """An upstream, speaking proto on our side and its own protocol on the other.

    Errors before the first event raise `GatewayError` subclasses; a failure
    after it may raise too, and the service turns it into a failed response.
    """

    def stream(self, call: ProviderCall) -> AsyncIterator[epb.ResponseStreamEvent]:
        """Yield Responses stream events as the upstream produces them."""
        ...

    async def complete(self, call: ProviderCall) -> pb.Response:
        """Return the finished response (no streaming)."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections."""
        ...


ProviderFactory = Callable[[ProviderConfig, str], Provider]
"""Builds a provider from its config and API key."""
