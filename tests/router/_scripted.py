"""An in-memory upstream for router tests: each deployment answers from a script and every call is recorded.

A deployment is named as the router names it, `provider/upstream_model`. Its
script is a list of outcomes, one per attempt:

    Fail(make)        raise `make()` before the first event
    Complete(deltas)  `response.created`, `deltas` text deltas, `response.completed`
    Break(make, n)    `response.created` and `n - 1` deltas, then raise `make()`

A deployment whose script has run out completes.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.config import ProviderConfig
from responses_gateway.errors import GatewayError
from responses_gateway.providers import Provider, ProviderCall

FAKE = "fake"
"""The provider type name the fake is registered under."""

MakeError = Callable[[], GatewayError]


@dataclass(frozen=True)
class Fail:
    """Raise before the first event."""

    make: MakeError


@dataclass(frozen=True)
class Complete:
    """A whole response."""

    deltas: int = 2


@dataclass(frozen=True)
class Break:
    """`events` events, then raise."""

    make: MakeError
    events: int = 2


@dataclass(frozen=True)
class Silent:
    """The stream ends without a single event (the unary call answers nothing usable)."""


Outcome = Fail | Complete | Break | Silent


@dataclass(frozen=True)
class Call:
    """One upstream call as the provider saw it."""

    deployment: str
    provider: str
    upstream_model: str
    model: str  # the public model the router routed to (call.model.id)
    request_model: str  # what the request sent upstream names (call.request.model)
    request: pb.CreateResponseRequest


@dataclass
class Upstreams:
    """Every fake provider's scripts and the calls they received."""

    scripts: dict[str, deque[Outcome]] = field(default_factory=lambda: defaultdict(deque))
    calls: list[Call] = field(default_factory=list)
    providers: dict[str, ScriptedProvider] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    # Upstream streams opened and streams finished (closed, exhausted or raised).
    opened: int = 0
    finished: int = 0
    # Unary (non-streamed) calls made.
    unary: int = 0

    def script(self, deployment: str, *outcomes: Outcome) -> None:
        """Append outcomes to `deployment`'s script (`provider/upstream_model`)."""
        self.scripts[deployment].extend(outcomes)

    def factory(self, config: ProviderConfig, key: str) -> Provider:
        """The `ProviderFactory` to register under `FAKE`."""
        provider = ScriptedProvider(config.name, self)
        self.providers[config.name] = provider
        self.keys[config.name] = key
        return provider

    def deployments_called(self) -> list[str]:
        return [c.deployment for c in self.calls]


class ScriptedProvider:
    """A `Provider` answering from its `Upstreams`' scripts."""

    def __init__(self, name: str, upstreams: Upstreams) -> None:
        self.name = name
        self._upstreams = upstreams
        self.closed = False

    def _next(self, call: ProviderCall) -> Outcome:
        deployment = f"{self.name}/{call.upstream_model}"
        up = self._upstreams
        up.calls.append(
            Call(
                deployment=deployment,
                provider=self.name,
                upstream_model=call.upstream_model,
                model=call.model.id,
                request_model=call.request.model,
                request=call.request,
            )
        )
        script = up.scripts[deployment]
        return script.popleft() if script else Complete()

    async def complete(self, call: ProviderCall) -> pb.Response:
        """A unary call: the whole response, or the scripted failure (a `Break` fails the call as a whole)."""
        outcome = self._next(call)
        self._upstreams.unary += 1
        if isinstance(outcome, Complete):
            return response_events(call.request.model, outcome.deltas)[-1].completed.response
        if isinstance(outcome, Silent):
            return pb.Response()
        raise outcome.make()

    async def stream(self, call: ProviderCall) -> AsyncIterator[epb.ResponseStreamEvent]:
        outcome = self._next(call)
        up = self._upstreams
        up.opened += 1
        try:
            if isinstance(outcome, Fail):
                raise outcome.make()
            if isinstance(outcome, Complete):
                for event in response_events(call.request.model, outcome.deltas):
                    yield event
                return
            if isinstance(outcome, Silent):
                return
            for event in response_events(call.request.model, outcome.events)[: outcome.events]:
                yield event
            raise outcome.make()
        finally:
            up.finished += 1

    async def aclose(self) -> None:
        self.closed = True


def response_events(model: str, deltas: int) -> list[epb.ResponseStreamEvent]:
    """created, `deltas` text deltas, completed: a whole response's events."""
    created = epb.ResponseLifecycleEvent(response=pb.Response(model=model, status="in_progress"))
    completed = epb.ResponseLifecycleEvent(response=pb.Response(model=model, status="completed"))
    events = [epb.ResponseStreamEvent(created=created)]
    events += [epb.ResponseStreamEvent(output_text_delta=epb.TextDeltaEvent(delta=f"d{i}")) for i in range(deltas)]
    events.append(epb.ResponseStreamEvent(completed=completed))
    for number, event in enumerate(events):
        event.sequence_number = number
    return events


def kinds(events: list[epb.ResponseStreamEvent]) -> list[str]:
    """The event types, in order (`created`, `output_text_delta`, …)."""
    return [e.WhichOneof("event") or "" for e in events]
