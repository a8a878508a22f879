"""The routing table built from config, and resilient calls through it.

A request for a model tries its deployments (the first picked by weight),
retrying retryable failures with exponential backoff and jitter (honouring
`retry-after`), skipping deployments whose circuit breaker is open, then the
model's fallbacks in order. All of this happens before the first event
reaches the client; after it, a failure is the stream's to report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.config import BreakerPolicy, ModelConfig, ProviderConfig, RetryPolicy, Settings
from responses_gateway.context.transcript import EMPTY, Transcript
from responses_gateway.errors import (
    DeploymentsCoolingDown,
    GatewayError,
    LocalModelUnavailable,
    ModelNotFound,
    ProviderNotConfigured,
    QueueFull,
    RateLimited,
    TransientUpstreamError,
    UpstreamAccountError,
    UpstreamServerError,
)
from responses_gateway.providers import OPENAI_API_TYPES, PROVIDER_TYPES, Provider, ProviderCall, ProviderFactory
from responses_gateway.providers.base import Queued
from responses_gateway.router.breaker import BreakerState, CircuitBreaker
from responses_gateway.router.capabilities import check_capabilities
from responses_gateway.router.observed import ModelCallObserver, ObservedCall
from responses_gateway.telemetry import Telemetry
from responses_gateway.telemetry.genai import Upstream

log = logging.getLogger(__name__)
T = TypeVar("T")

def is_retryable(exc: GatewayError) -> bool:
    """A passing fault worth trying again on the same deployment (not a refusal of the gateway's own)."""
    return isinstance(exc, (TransientUpstreamError, RateLimited)) and not isinstance(exc, QueueFull)


def is_failover(exc: GatewayError) -> bool:
    """A fault another deployment may not have."""
    return isinstance(
        exc, (TransientUpstreamError, RateLimited, UpstreamAccountError, ProviderNotConfigured, LocalModelUnavailable)
    )


@dataclass
class Deployment:
    """One provider serving one model, with its breaker."""

    name: str
    provider: Provider | None
    upstream_model: str
    weight: float
    breaker: CircuitBreaker
    upstream: Upstream
    unavailable_reason: str = ""


@dataclass
class Route:
    """A model and everywhere it may be served, in the order to try."""

    model: ModelConfig
    deployments: list[Deployment]
    fallbacks: list[Route] = field(default_factory=list)


@dataclass
class RouterStats:
    """Counters tests and metrics read."""

    attempts: int = 0
    retries: int = 0
    fallbacks: int = 0
    last_deployment: str = ""


class Router:
    """Resolves public model ids; owns one provider instance per configured upstream."""

    def __init__(
        self,
        settings: Settings,
        factories: Mapping[str, ProviderFactory] = PROVIDER_TYPES,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._observer = ModelCallObserver(telemetry)
        self._models = {m.id: m for m in settings.models}
        self._retry: RetryPolicy = settings.retry
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.stats = RouterStats()
        self._providers: dict[str, Provider] = {}
        unavailable: dict[str, str] = {}
        for config in settings.providers:
            factory = factories.get(config.type)
            key = config.api_key() if config.requires_key else (config.api_key() or "")
            if factory is None:
                unavailable[config.name] = f"its provider '{config.name}' has type '{config.type}', which this build cannot serve"
            elif key is None:
                unavailable[config.name] = f"its provider '{config.name}' has no API key: {config.key_hint()}"
            else:
                self._providers[config.name] = factory(config, key)
        known = {p.name for p in settings.providers}
        self._upstreams = {p.name: _upstream(p) for p in settings.providers}
        self._deployments: dict[str, list[Deployment]] = {}
        for model in settings.models:
            self._deployments[model.id] = [
                self._deployment(model, d.provider, d.upstream_model or model.id, d.weight, settings.breaker, known, unavailable)
                for d in model.all_deployments()
            ]
            for fallback in model.fallbacks:
                if fallback not in self._models:
                    raise ValueError(f"model '{model.id}' falls back to unknown model '{fallback}'")
        self._observer.watch(self._breaker_states, self._queue_depths)

    def _breaker_states(self) -> Iterator[tuple[str, BreakerState]]:
        for deployments in self._deployments.values():
            for deployment in deployments:
                yield deployment.name, deployment.breaker.state

    def _queue_depths(self) -> Iterator[tuple[str, int, int]]:
        for name, provider in self._providers.items():
            if isinstance(provider, Queued):
                yield (name, *provider.queue_depth())

    def _deployment(
        self,
        model: ModelConfig,
        provider: str,
        upstream_model: str,
        weight: float,
        breaker: BreakerPolicy,
        known: set[str],
        unavailable: dict[str, str],
    ) -> Deployment:
        if provider not in known:
            raise ValueError(f"model '{model.id}' names unknown provider '{provider}'")
        if provider in unavailable:
            log.warning("model %s via %s is not servable: %s", model.id, provider, unavailable[provider])
        name = f"{provider}/{upstream_model}"
        return Deployment(
            name=name,
            provider=self._providers.get(provider),
            upstream_model=upstream_model,
            weight=weight,
            breaker=CircuitBreaker(breaker.failure_threshold, breaker.cooldown, on_change=self._observer.breaker_changed(name)),
            upstream=self._upstreams[provider],
            unavailable_reason=unavailable.get(provider, ""),
        )

    def models(self) -> list[ModelConfig]:
        """Every configured model, in config order."""
        return list(self._models.values())

    def model(self, model_id: str) -> ModelConfig:
        """The config of a public model id, or ModelNotFound."""
        model = self._models.get(model_id)
        if model is None:
            raise ModelNotFound(model_id)
        return model

    def deployments(self, model_id: str) -> list[Deployment]:
        """The deployments of a model (tests and metrics read their breakers)."""
        return self._deployments[model_id]

    def resolve(self, model_id: str, request: pb.CreateResponseRequest, history: Transcript = EMPTY) -> Route:
        """The route for a request (continuing `history`), or a clear error saying why there is none."""
        model = self.model(model_id)
        check_capabilities(model, request, history)
        servable = [d for d in self._deployments[model.id] if d.provider is not None]
        fallbacks: list[Route] = []
        for fallback_id in model.fallbacks:
            fallback = self._models[fallback_id]
            try:
                check_capabilities(fallback, request, history)
            except GatewayError:
                continue  # a fallback that cannot serve this request is no fallback
            deployments = [d for d in self._deployments[fallback_id] if d.provider is not None]
            if deployments:
                fallbacks.append(Route(fallback, deployments))
        if not servable and not fallbacks:
            reason = self._deployments[model.id][0].unavailable_reason
            raise ProviderNotConfigured(f"The model '{model_id}' is configured, but {reason}.")
        # A model none of whose deployments can be served goes straight to its fallbacks.
        return Route(model, self._order(servable), fallbacks)

    def _order(self, deployments: list[Deployment]) -> list[Deployment]:
        """First pick by weight; the rest follow by weight, as failover order."""
        if len(deployments) <= 1:
            return deployments
        first = self._rng.choices(deployments, weights=[d.weight for d in deployments])[0]
        rest = sorted((d for d in deployments if d is not first), key=lambda d: -d.weight)
        return [first, *rest]

    def _candidates(self, route: Route) -> list[tuple[Route, Deployment]]:
        plan = [(route, d) for d in route.deployments]
        for fallback in route.fallbacks:
            plan.extend((fallback, d) for d in self._order(fallback.deployments))
        return plan

    def _delay(self, attempt: int, exc: GatewayError) -> float | None:
        """Seconds to wait before retrying the same deployment; None to move on."""
        if attempt >= self._retry.max_attempts or not is_retryable(exc):
            return None
        if exc.retry_after > 0:
            return exc.retry_after if exc.retry_after <= self._retry.max_retry_after else None
        ceiling = min(self._retry.max_delay, self._retry.base_delay * 2 ** (attempt - 1))
        return self._rng.uniform(ceiling / 2, ceiling)

    def _after_failure(self, deployment: Deployment, attempt: int, exc: GatewayError) -> float | None:
        """Record a failed attempt; the delay before retrying here, None to move on; re-raise what no retry helps."""
        if not is_failover(exc):
            deployment.breaker.release()
            raise exc
        if isinstance(exc, RateLimited):
            deployment.breaker.release()  # a rate limit is load, not a fault of the deployment
        else:
            deployment.breaker.record_failure()
        # A failure that just opened the breaker (or failed its probe) leaves nothing to wait for here.
        delay = self._delay(attempt, exc) if deployment.breaker.state is BreakerState.CLOSED else None
        log.info("deployment %s failed (%s); %s", deployment.name, type(exc).__name__, "moving on" if delay is None else "retrying")
        if delay is not None:
            self.stats.retries += 1
            self._observer.retrying(deployment.name, exc, delay)
        return delay

    async def stream(
        self, route: Route, request: pb.CreateResponseRequest, history: Transcript = EMPTY, history_start: int = 0
    ) -> AsyncGenerator[epb.ResponseStreamEvent, None]:
        """Events from the first deployment that starts answering; see the module docstring.

        The conversation is `history.items[history_start:]` then `request.input_items`.
        """
        deployment, (first, events), call = await self._first_answer(route, request, history, history_start, _first_event)
        # Closed with this generator, so the upstream stops and the breaker hears at once.
        async with contextlib.aclosing(_relayed(deployment, first, events, call)) as relayed:
            async for event in relayed:
                yield event

    async def complete(
        self, route: Route, request: pb.CreateResponseRequest, history: Transcript = EMPTY, history_start: int = 0
    ) -> pb.Response:
        """The finished response, from one non-streamed call to the first deployment that answers (a unary create)."""
        deployment, response, call = await self._first_answer(route, request, history, history_start, _complete)
        deployment.breaker.record_success()
        call.answered(response)
        return response

    async def _first_answer(
        self,
        route: Route,
        request: pb.CreateResponseRequest,
        history: Transcript,
        history_start: int,
        attempt_call: Callable[[Provider, ProviderCall], Awaitable[T]],
    ) -> tuple[Deployment, T, ObservedCall]:
        """The one retry loop, for streamed and unary calls: deployments in order, retries, breakers, fallbacks.

        Each attempt is observed (a model-call span, the GenAI metrics); the
        answering one is returned still open, for its caller to end.
        """
        last_error: GatewayError | None = None
        previous = route
        for target, deployment in self._candidates(route):
            attempt = 0
            while deployment.breaker.allow():
                if target is not previous:
                    self.stats.fallbacks += 1
                    self._observer.falling_back(previous.model.id, target.model.id)
                    previous = target
                attempt += 1
                self.stats.attempts += 1
                assert deployment.provider is not None
                call = _call(request, target, deployment, history, history_start)
                observed = self._observer.start(deployment.upstream, call.request, deployment.upstream_model)
                try:
                    with observed.current():
                        answer = await attempt_call(deployment.provider, call)
                except GatewayError as exc:
                    observed.failed(exc)
                    last_error = exc
                    delay = self._after_failure(deployment, attempt, exc)
                    if delay is None:
                        break
                    await self._sleep(delay)
                    continue
                except BaseException as exc:
                    observed.failed(exc)
                    deployment.breaker.release()
                    raise
                self.stats.last_deployment = deployment.name
                return deployment, answer, observed
        raise last_error or DeploymentsCoolingDown(route.model.id)

    async def aclose(self) -> None:
        """Close every provider's connection pool."""
        for provider in self._providers.values():
            await provider.aclose()


def _upstream(config: ProviderConfig) -> Upstream:
    name = config.telemetry_name or config.name
    api_type = OPENAI_API_TYPES.get(config.type) if name == "openai" else None
    return Upstream.at(name, config.resolved_base_url(), api_type)


def _call(
    request: pb.CreateResponseRequest, target: Route, deployment: Deployment, history: Transcript, history_start: int
) -> ProviderCall:
    return ProviderCall(
        request=_for_model(request, target),
        model=target.model,
        upstream_model=deployment.upstream_model,
        history=history,
        history_start=history_start,
    )


def _for_model(request: pb.CreateResponseRequest, route: Route) -> pb.CreateResponseRequest:
    if request.model == route.model.id:
        return request
    copy = pb.CreateResponseRequest()
    copy.CopyFrom(request)
    copy.model = route.model.id
    return copy


async def _relayed(
    deployment: Deployment,
    first: epb.ResponseStreamEvent,
    events: AsyncIterator[epb.ResponseStreamEvent],
    call: ObservedCall,
) -> AsyncGenerator[epb.ResponseStreamEvent, None]:
    """A deployment's events after its first; the breaker hears the outcome when the stream ends.

    Ended by its consumer (at the terminal event, or a client that left), it
    answered: a success. A failure mid-stream is not retried (the client saw
    events) but counts against the deployment like one before the first event.
    """
    try:
        call.saw(first)
        yield first
        async for event in events:
            call.saw(event)
            yield event
    except GatewayError as exc:
        call.failed(exc)
        if is_failover(exc) and not isinstance(exc, RateLimited):
            deployment.breaker.record_failure()
        else:
            deployment.breaker.release()
        raise
    except BaseException:
        call.left()
        deployment.breaker.record_success()
        raise
    else:
        call.left()
        deployment.breaker.record_success()
    finally:
        await _aclose(events)


async def _first_event(
    provider: Provider, call: ProviderCall
) -> tuple[epb.ResponseStreamEvent, AsyncIterator[epb.ResponseStreamEvent]]:
    """Open the provider's stream and read its first event; an empty stream is a server error worth a retry."""
    events = aiter(provider.stream(call))
    try:
        return await anext(events), events
    except StopAsyncIteration:
        raise UpstreamServerError("The upstream provider ended the stream before any output.") from None
    except BaseException:
        await _aclose(events)
        raise


def _complete(provider: Provider, call: ProviderCall) -> Awaitable[pb.Response]:
    return provider.complete(call)


async def _aclose(iterator: AsyncIterator[object]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
