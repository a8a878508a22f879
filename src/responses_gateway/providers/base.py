"""The one small interface every upstream adapter implements."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Protocol, runtime_checkable

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.config import ModelConfig, ProviderConfig
from responses_gateway.context.transcript import EMPTY, Transcript


@dataclass(frozen=True, slots=True)
class ProviderCall:
    """What an adapter sends upstream: a self-contained request.

    The conversation is `history.items[history_start:]` (rebuilt from the
    store, already truncated) followed by `request.input_items`; the request
    carries no `previous_response_id`.
    """

    request: pb.CreateResponseRequest
    model: ModelConfig
    # The name this deployment's upstream knows the model by.
    upstream_model: str
    history: Transcript = EMPTY
    history_start: int = 0

    def items(self) -> Iterator[ipb.Item]:
        """Every item the upstream is sent, oldest first."""
        yield from islice(self.history.items, self.history_start, None)
        yield from self.request.input_items.items


class Provider(Protocol):
    """An upstream, speaking proto on our side and its own protocol on the other.

    Errors before the first event (or the response) raise `GatewayError`
    subclasses; a failure after the first event may raise too, and the
    service turns it into a failed response. Retries, breakers and fallbacks
    are the router's, for both methods alike.
    """

    def stream(self, call: ProviderCall) -> AsyncIterator[epb.ResponseStreamEvent]:
        """Yield Responses stream events as the upstream produces them."""
        ...

    async def complete(self, call: ProviderCall) -> pb.Response:
        """Return the finished response: one non-streamed upstream call (a unary create)."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections."""
        ...


@runtime_checkable
class Queued(Protocol):
    """A provider that queues requests itself (the local model): its depth is a metric."""

    def queue_depth(self) -> tuple[int, int]:
        """Requests generating now and those waiting for a slot."""
        ...


ProviderFactory = Callable[[ProviderConfig, str], Provider]
"""Builds a provider from its config and API key."""
