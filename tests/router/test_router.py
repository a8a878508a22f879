"""Router: retries, backoff, retry-after, failover, fallbacks, breakers and weights, over scripted in-memory upstreams.

Every test builds its own Settings; providers are of type `fake` (see
`tests/router/_scripted.py`), sleeps are recorded instead of slept, the
weighted pick uses a seeded `random.Random`, and breaker time is a hand-moved
clock where cooldowns matter.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest

import responses_gateway.router.router as router_module
from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.config import (
    BreakerPolicy,
    Capabilities,
    DeploymentConfig,
    ModelConfig,
    ProviderConfig,
    RetryPolicy,
    Settings,
)
from responses_gateway.errors import (
    BadUpstreamResponse,
    ContextOverflow,
    DeploymentsCoolingDown,
    GatewayError,
    InvalidRequest,
    ModelNotFound,
    ProviderNotConfigured,
    QueueFull,
    RateLimited,
    UpstreamAuthenticationFailed,
    UpstreamOverloaded,
    UpstreamQuotaExhausted,
    UpstreamRejected,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from responses_gateway.router import BreakerState, CircuitBreaker, Route, Router
from tests.router.test_breaker import Clock
from tests.router._scripted import FAKE, Break, Complete, Fail, MakeError, Silent, Upstreams, kinds, response_events

Event = epb.ResponseStreamEvent

PROVIDERS = ("a", "b", "c", "d")
RETRY = RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=0.15, max_retry_after=1.0)
# High enough that no test trips a breaker unless it means to.
NO_BREAKER = BreakerPolicy(failure_threshold=100, cooldown=30.0)
COOLDOWN = 10.0
COMPLETE_KINDS = ["created", "output_text_delta", "output_text_delta", "completed"]

TRANSIENT: list[tuple[str, MakeError]] = [
    ("UpstreamServerError", lambda: UpstreamServerError("upstream 500", status=500)),
    ("UpstreamTimeout", lambda: UpstreamTimeout("upstream went quiet")),
    ("UpstreamUnreachable", UpstreamUnreachable),
    ("UpstreamOverloaded", lambda: UpstreamOverloaded("upstream busy")),
    ("BadUpstreamResponse", BadUpstreamResponse),
]
TRANSIENT_IDS = [name for name, _ in TRANSIENT]
TRANSIENT_MAKERS = [make for _, make in TRANSIENT]

CLIENT_FAULTS: list[tuple[str, MakeError, int]] = [
    ("InvalidRequest", lambda: InvalidRequest("bad parameter", param="temperature"), 400),
    ("ContextOverflow", ContextOverflow, 400),
    ("UpstreamRejected", lambda: UpstreamRejected("unprocessable", status=422), 422),
]

MOVE_ON: list[tuple[str, MakeError]] = [
    ("UpstreamAuthenticationFailed", UpstreamAuthenticationFailed),
    ("UpstreamQuotaExhausted", UpstreamQuotaExhausted),
    ("ProviderNotConfigured", lambda: ProviderNotConfigured("the runtime is not installed")),
]


def server_error() -> GatewayError:
    return UpstreamServerError("upstream 502")


# --- building routers -------------------------------------------------------------------------


def fake_provider(name: str, **overrides: object) -> ProviderConfig:
    fields: dict[str, object] = {"name": name, "type": FAKE, "base_url": "fake:", "requires_key": False}
    fields.update(overrides)
    return ProviderConfig.model_validate(fields)


def single(model_id: str, provider: str, *, fallbacks: Sequence[str] = (), tools: bool = True) -> ModelConfig:
    """A model served by one deployment, `provider/model_id`."""
    return ModelConfig(
        id=model_id, provider=provider, fallbacks=list(fallbacks), capabilities=Capabilities(tools=tools)
    )


def weighted(model_id: str, *deployments: tuple[str, float], fallbacks: Sequence[str] = ()) -> ModelConfig:
    """A model served by `provider/model_id` deployments of the given weights."""
    return ModelConfig(
        id=model_id,
        deployments=[DeploymentConfig(provider=p, weight=w) for p, w in deployments],
        fallbacks=list(fallbacks),
    )


def request_for(model_id: str, *, tools: bool = False) -> pb.CreateResponseRequest:
    request = pb.CreateResponseRequest(model=model_id, input_text="hello")
    if tools:
        request.tools.append(pb.Tool(function=pb.FunctionTool(name="lookup")))
    return request


@dataclass
class Gateway:
    """A router over scripted upstreams, with its sleeps recorded."""

    router: Router
    upstreams: Upstreams
    sleeps: list[float] = field(default_factory=list)

    def route(self, model_id: str, request: pb.CreateResponseRequest | None = None) -> Route:
        return self.router.resolve(model_id, request or request_for(model_id))

    async def collect(
        self, route: Route, request: pb.CreateResponseRequest | None = None, into: list[Event] | None = None
    ) -> list[Event]:
        """Every event of the routed stream (appended to `into` as they arrive); raises what the stream raises."""
        events: list[Event] = [] if into is None else into
        async with contextlib.aclosing(self.router.stream(route, request or request_for(route.model.id))) as stream:
            async for event in stream:
                events.append(event)
        return events

    async def run(
        self, model_id: str, request: pb.CreateResponseRequest | None = None, into: list[Event] | None = None
    ) -> list[Event]:
        request = request or request_for(model_id)
        return await self.collect(self.route(model_id, request), request, into)

    def state(self, model_id: str, index: int = 0) -> BreakerState:
        return self.router.deployments(model_id)[index].breaker.state

    def called(self) -> list[str]:
        return self.upstreams.deployments_called()


def gateway(
    *models: ModelConfig,
    providers: Sequence[ProviderConfig] | None = None,
    retry: RetryPolicy = RETRY,
    breaker: BreakerPolicy = NO_BREAKER,
    seed: int = 0,
) -> Gateway:
    upstreams = Upstreams()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    settings = Settings(
        providers=list(providers) if providers is not None else [fake_provider(p) for p in PROVIDERS],
        models=list(models),
        retry=retry,
        breaker=breaker,
    )
    router = Router(settings, factories={FAKE: upstreams.factory}, sleep=sleep, rng=random.Random(seed))
    return Gateway(router, upstreams, sleeps)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Breakers the router builds from now on read this clock."""
    clock = Clock()

    def breaker(failure_threshold: int, cooldown: float, on_change: Callable[[BreakerState], None] | None = None) -> CircuitBreaker:
        return CircuitBreaker(failure_threshold, cooldown, clock=clock, on_change=on_change)

    monkeypatch.setattr(router_module, "CircuitBreaker", breaker)
    return clock


def within(delay: float, ceiling: float) -> bool:
    """Exponential backoff with jitter: a delay in [ceiling/2, ceiling]."""
    return ceiling / 2 <= delay <= ceiling


# --- resolution -------------------------------------------------------------------------------


def test_unknown_model_is_model_not_found() -> None:
    gw = gateway(single("m", "a"))
    with pytest.raises(ModelNotFound) as caught:
        gw.route("no-such-model")
    assert caught.value.http_status == 400
    assert "no-such-model" in caught.value.message


def test_model_whose_only_provider_has_no_key_is_provider_not_configured_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RG_TEST_ROUTER_KEY", raising=False)
    keyed = fake_provider("a", requires_key=True, api_key_env="RG_TEST_ROUTER_KEY")
    gw = gateway(single("m", "a"), providers=[keyed])
    with pytest.raises(ProviderNotConfigured) as caught:
        gw.route("m")
    assert caught.value.http_status == 503
    assert "RG_TEST_ROUTER_KEY" in caught.value.message
    assert gw.upstreams.providers == {}  # no provider was built without its key
    assert gw.router.deployments("m")[0].provider is None


async def test_key_in_the_environment_makes_the_model_servable_and_reaches_the_factory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RG_TEST_ROUTER_KEY", "sk-test")
    keyed = fake_provider("a", requires_key=True, api_key_env="RG_TEST_ROUTER_KEY")
    gw = gateway(single("m", "a"), providers=[keyed])
    assert gw.upstreams.keys == {"a": "sk-test"}
    assert kinds(await gw.run("m")) == COMPLETE_KINDS
    assert gw.called() == ["a/m"]


def test_provider_type_this_build_cannot_serve_is_provider_not_configured() -> None:
    gw = gateway(single("m", "a"), providers=[fake_provider("a", type="carrier_pigeon")])
    with pytest.raises(ProviderNotConfigured) as caught:
        gw.route("m")
    assert "carrier_pigeon" in caught.value.message


def test_model_lacking_a_requested_capability_is_refused_at_resolve() -> None:
    gw = gateway(single("m", "a", tools=False))
    with pytest.raises(InvalidRequest) as caught:
        gw.route("m", request_for("m", tools=True))
    assert caught.value.http_status == 400
    assert caught.value.param == "tools"
    assert gw.route("m", request_for("m")).model.id == "m"  # the same model without tools resolves


@pytest.mark.parametrize(
    "models",
    [
        pytest.param([single("m", "nowhere")], id="unknown-provider"),
        pytest.param([single("m", "a", fallbacks=["ghost"])], id="unknown-fallback"),
    ],
)
def test_config_naming_what_does_not_exist_is_refused_at_start(models: list[ModelConfig]) -> None:
    with pytest.raises(ValueError):
        gateway(*models)


async def test_fallback_whose_provider_has_no_key_is_left_out_of_the_route(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RG_TEST_ROUTER_KEY", raising=False)
    providers = [fake_provider("a"), fake_provider("b", requires_key=True, api_key_env="RG_TEST_ROUTER_KEY")]
    gw = gateway(single("m", "a", fallbacks=["fb"]), single("fb", "b"), providers=providers)
    assert gw.route("m").fallbacks == []
    gw.upstreams.script("a/m", Fail(UpstreamAuthenticationFailed))
    with pytest.raises(UpstreamAuthenticationFailed):
        await gw.run("m")
    assert gw.called() == ["a/m"]


# --- the happy path ---------------------------------------------------------------------------


async def test_healthy_deployment_streams_the_upstream_events_through() -> None:
    gw = gateway(single("m", "a"))
    request = request_for("m")
    events = await gw.run("m", request)
    assert events == response_events("m", 2)
    assert [(c.deployment, c.upstream_model, c.model) for c in gw.upstreams.calls] == [("a/m", "m", "m")]
    assert gw.upstreams.calls[0].request is request  # the model's own request goes upstream as is
    assert (gw.router.stats.attempts, gw.router.stats.retries, gw.router.stats.fallbacks) == (1, 0, 0)
    assert gw.router.stats.last_deployment == "a/m"
    assert gw.upstreams.finished == gw.upstreams.opened == 1
    assert gw.sleeps == []


async def test_client_closing_the_stream_early_closes_the_upstream_stream() -> None:
    gw = gateway(single("m", "a"))
    gw.upstreams.script("a/m", Complete(deltas=50))
    request = request_for("m")
    async with contextlib.aclosing(gw.router.stream(gw.route("m", request), request)) as stream:
        first = await anext(stream)
        assert first.WhichOneof("event") == "created"
        assert gw.upstreams.finished == 0
    assert gw.upstreams.finished == 1
    assert gw.state("m") is BreakerState.CLOSED


async def test_router_aclose_closes_every_provider() -> None:
    gw = gateway(single("m", "a"), single("n", "b"))
    assert set(gw.upstreams.providers) == {"a", "b", "c", "d"}
    await gw.router.aclose()
    assert all(p.closed for p in gw.upstreams.providers.values())


# --- attempts on one deployment ---------------------------------------------------------------


@pytest.mark.parametrize("make", TRANSIENT_MAKERS, ids=TRANSIENT_IDS)
async def test_transient_failure_is_retried_on_the_same_deployment_then_reaches_the_caller(make: MakeError) -> None:
    gw = gateway(single("m", "a"))
    gw.upstreams.script("a/m", Fail(make), Fail(make), Fail(make), Complete())
    with pytest.raises(type(make())):
        await gw.run("m")
    assert gw.called() == ["a/m"] * RETRY.max_attempts
    # ceilings: base_delay, then 2 × base_delay capped at max_delay
    assert len(gw.sleeps) == 2
    assert within(gw.sleeps[0], 0.1), gw.sleeps
    assert within(gw.sleeps[1], 0.15), gw.sleeps
    assert (gw.router.stats.attempts, gw.router.stats.retries) == (3, 2)
    assert gw.upstreams.finished == gw.upstreams.opened == 3


@pytest.mark.parametrize("make", TRANSIENT_MAKERS, ids=TRANSIENT_IDS)
async def test_transient_failure_then_success_serves_the_response(make: MakeError) -> None:
    gw = gateway(single("m", "a"))
    gw.upstreams.script("a/m", Fail(make), Fail(make), Complete())
    events = await gw.run("m")
    assert kinds(events) == COMPLETE_KINDS
    assert gw.called() == ["a/m"] * 3
    assert (gw.router.stats.attempts, gw.router.stats.retries) == (3, 2)
    assert gw.state("m") is BreakerState.CLOSED


async def test_backoff_doubles_up_to_max_delay_with_jitter() -> None:
    gw = gateway(single("m", "a"), retry=RetryPolicy(max_attempts=6, base_delay=0.1, max_delay=0.5))
    gw.upstreams.script("a/m", *[Fail(server_error)] * 6)
    with pytest.raises(UpstreamServerError):
        await gw.run("m")
    ceilings = [0.1, 0.2, 0.4, 0.5, 0.5]
    assert len(gw.sleeps) == len(ceilings)
    assert all(within(d, c) for d, c in zip(gw.sleeps, ceilings, strict=True)), gw.sleeps
    assert gw.sleeps[3] != gw.sleeps[4]  # jitter: equal ceilings, different waits
    assert gw.router.stats.retries == 5


async def test_max_attempts_of_one_means_no_retry() -> None:
    gw = gateway(single("m", "a"), retry=RetryPolicy(max_attempts=1))
    gw.upstreams.script("a/m", Fail(server_error), Complete())
    with pytest.raises(UpstreamServerError):
        await gw.run("m")
    assert gw.called() == ["a/m"]
    assert gw.sleeps == []
    assert (gw.router.stats.attempts, gw.router.stats.retries) == (1, 0)


# --- retry-after ------------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", [0.3, RETRY.max_retry_after], ids=["below-cap", "at-cap"])
async def test_rate_limit_retry_after_is_waited_exactly_then_retried(retry_after: float) -> None:
    gw = gateway(single("m", "a", fallbacks=["fb"]), single("fb", "b"))
    gw.upstreams.script("a/m", Fail(lambda: RateLimited("slow down", retry_after=retry_after)), Complete())
    events = await gw.run("m")
    assert kinds(events) == COMPLETE_KINDS
    assert gw.sleeps == [retry_after]
    assert gw.called() == ["a/m", "a/m"]
    assert (gw.router.stats.retries, gw.router.stats.fallbacks) == (1, 0)


async def test_rate_limit_without_retry_after_backs_off_exponentially() -> None:
    gw = gateway(single("m", "a"))
    gw.upstreams.script("a/m", Fail(lambda: RateLimited("slow down")), Complete())
    await gw.run("m")
    assert len(gw.sleeps) == 1 and within(gw.sleeps[0], RETRY.base_delay), gw.sleeps
    assert gw.called() == ["a/m", "a/m"]


async def test_rate_limit_retry_after_above_the_cap_moves_on_to_the_fallback_at_once() -> None:
    gw = gateway(single("m", "a", fallbacks=["fb"]), single("fb", "b"))
    gw.upstreams.script("a/m", Fail(lambda: RateLimited("slow down", retry_after=RETRY.max_retry_after + 0.5)))
    events = await gw.run("m")
    assert kinds(events) == COMPLETE_KINDS
    assert gw.sleeps == []
    assert gw.called() == ["a/m", "b/fb"]
    assert (gw.router.stats.retries, gw.router.stats.fallbacks) == (0, 1)


async def test_rate_limit_retry_after_above_the_cap_moves_on_to_the_sibling_at_once() -> None:
    gw = gateway(weighted("m", ("a", 3), ("b", 1)))
    route = gw.route("m")
    first, second = (d.name for d in route.deployments)
    gw.upstreams.script(first, Fail(lambda: RateLimited("slow down", retry_after=60.0)))
    await gw.collect(route)
    assert gw.sleeps == []
    assert gw.called() == [first, second]


async def test_rate_limit_retry_after_above_the_cap_reaches_the_caller_when_nothing_is_left() -> None:
    gw = gateway(single("m", "a"))
    gw.upstreams.script("a/m", Fail(lambda: RateLimited("slow down", retry_after=60.0)))
    with pytest.raises(RateLimited) as caught:
        await gw.run("m")
    assert caught.value.http_status == 429
    assert caught.value.retry_after == 60.0  # the caller learns when to come back
    assert gw.sleeps == []
    assert gw.called() == ["a/m"]


async def test_queue_full_is_not_retried_on_the_same_deployment_but_fails_over() -> None:
    gw = gateway(single("m", "a", fallbacks=["fb"]), single("fb", "b"), breaker=BreakerPolicy(failure_threshold=1))
    gw.upstreams.script("a/m", Fail(lambda: QueueFull("queue full", retry_after=0.1)))
    events = await gw.run("m")
    assert kinds(events) == COMPLETE_KINDS
    assert gw.called() == ["a/m", "b/fb"]
    assert gw.sleeps == []
    assert gw.router.stats.retries == 0
    assert gw.state("m") is BreakerState.CLOSED  # load, not a fault


async def test_queue_full_on_the_only_deployment_reaches_the_caller_after_one_attempt() -> None:
    gw = gateway(single("m", "a"))
    gw.upstreams.script("a/m", Fail(lambda: QueueFull("queue full", retry_after=0.1)), Complete())
    with pytest.raises(QueueFull):
        await gw.run("m")
    assert gw.called() == ["a/m"]
    assert gw.sleeps == []


# --- client faults: neither retried nor failed over -------------------------------------------


@pytest.mark.parametrize(
    ("make", "status"), [(m, s) for _, m, s in CLIENT_FAULTS], ids=[n for n, _, _ in CLIENT_FAULTS]
)
async def test_client_fault_raises_at_once_without_retry_failover_or_breaker_charge(
    make: MakeError, status: int
) -> None:
    gw = gateway(
        weighted("m", ("a", 1), ("b", 1), fallbacks=["fb"]),
        single("fb", "c"),
        breaker=BreakerPolicy(failure_threshold=1),
    )
    route = gw.route("m")
    first = route.deployments[0].name
    for deployment in ("a/m", "b/m", "c/fb"):
        gw.upstreams.script(deployment, Fail(make))
    with pytest.raises(type(make())) as caught:
        await gw.collect(route)
    assert caught.value.http_status == status  # the upstream's own status passes through
    assert gw.called() == [first]
    assert gw.sleeps == []
    assert (gw.router.stats.attempts, gw.router.stats.retries, gw.router.stats.fallbacks) == (1, 0, 0)
    assert [gw.state("m", i) for i in range(2)] == [BreakerState.CLOSED] * 2


async def test_client_fault_on_a_half_open_probe_frees_the_probe_slot(clock: Clock) -> None:
    gw = gateway(single("m", "a"), breaker=BreakerPolicy(failure_threshold=1, cooldown=COOLDOWN))
    gw.upstreams.script("a/m", Fail(UpstreamAuthenticationFailed), Fail(lambda: InvalidRequest("bad")), Complete())
    with pytest.raises(UpstreamAuthenticationFailed):
        await gw.run("m")
    clock.advance(COOLDOWN)
    with pytest.raises(InvalidRequest):
        await gw.run("m")  # the probe: no verdict on the deployment
    assert gw.state("m") is BreakerState.HALF_OPEN
    assert kinds(await gw.run("m")) == COMPLETE_KINDS  # the next probe is let through
    assert gw.state("m") is BreakerState.CLOSED


# --- failover: siblings, then fallbacks -------------------------------------------------------


@pytest.mark.parametrize("make", [m for _, m in MOVE_ON], ids=[n for n, _ in MOVE_ON])
async def test_account_or_configuration_error_moves_to_the_sibling_without_retry(make: MakeError) -> None:
    gw = gateway(weighted("m", ("a", 3), ("b", 1)))
    route = gw.route("m")
    first, second = (d.name for d in route.deployments)
    gw.upstreams.script(first, Fail(make), Complete())
    events = await gw.collect(route)
    assert kinds(events) == COMPLETE_KINDS
    assert gw.called() == [first, second]
    assert gw.sleeps == []
    assert (gw.router.stats.attempts, gw.router.stats.retries, gw.router.stats.fallbacks) == (2, 0, 0)
    assert gw.router.stats.last_deployment == second


@pytest.mark.parametrize("make", [m for _, m in MOVE_ON], ids=[n for n, _ in MOVE_ON])
async def test_account_or_configuration_error_on_the_last_candidate_reaches_the_caller(make: MakeError) -> None:
    gw = gateway(single("m", "a"))
    gw.upstreams.script("a/m", Fail(make), Complete())
    with pytest.raises(type(make())):
        await gw.run("m")
    assert gw.called() == ["a/m"]


async def test_transient_failure_exhausts_its_attempts_then_fails_over_to_the_sibling() -> None:
    gw = gateway(weighted("m", ("a", 3), ("b", 1)))
    route = gw.route("m")
    first, second = (d.name for d in route.deployments)
    gw.upstreams.script(first, *[Fail(server_error)] * 3)
    events = await gw.collect(route)
    assert kinds(events) == COMPLETE_KINDS
    assert gw.called() == [first] * 3 + [second]
    assert len(gw.sleeps) == 2
    assert (gw.router.stats.attempts, gw.router.stats.retries, gw.router.stats.fallbacks) == (4, 2, 0)


async def test_fallback_models_are_tried_in_order_after_every_own_deployment_failed() -> None:
    gw = gateway(
        weighted("m", ("a", 3), ("b", 1), fallbacks=["fb1", "fb2"]),
        single("fb1", "c"),
        single("fb2", "d"),
    )
    gw.upstreams.script("a/m", Fail(UpstreamAuthenticationFailed))
    gw.upstreams.script("b/m", Fail(UpstreamQuotaExhausted))
    gw.upstreams.script("c/fb1", Fail(UpstreamAuthenticationFailed))
    request = request_for("m")
    events = await gw.run("m", request)

    calls = gw.upstreams.calls
    assert sorted(c.deployment for c in calls[:2]) == ["a/m", "b/m"]
    assert [c.deployment for c in calls[2:]] == ["c/fb1", "d/fb2"]
    # Each upstream is asked for the model it serves, by the public id of that model.
    assert [(c.model, c.request_model) for c in calls] == [("m", "m"), ("m", "m"), ("fb1", "fb1"), ("fb2", "fb2")]
    assert [c.upstream_model for c in calls[2:]] == ["fb1", "fb2"]
    assert calls[3].request.input_text == "hello"  # the rest of the request is kept
    assert request.model == "m"  # the caller's request is not rewritten
    assert kinds(events) == COMPLETE_KINDS
    assert events[-1].completed.response.model == "fb2"
    assert gw.router.stats.fallbacks == 2
    assert gw.router.stats.last_deployment == "d/fb2"


async def test_fallback_is_not_tried_while_an_own_deployment_can_serve() -> None:
    gw = gateway(weighted("m", ("a", 1), ("b", 1), fallbacks=["fb"]), single("fb", "c"))
    route = gw.route("m")
    gw.upstreams.script(route.deployments[0].name, Fail(UpstreamAuthenticationFailed))
    await gw.collect(route)
    assert "c/fb" not in gw.called()
    assert gw.router.stats.fallbacks == 0


async def test_fallback_that_cannot_serve_the_request_is_skipped() -> None:
    gw = gateway(
        single("m", "a", fallbacks=["no-tools", "with-tools"]),
        single("no-tools", "b", tools=False),
        single("with-tools", "c"),
    )
    request = request_for("m", tools=True)
    route = gw.route("m", request)
    assert [f.model.id for f in route.fallbacks] == ["with-tools"]
    gw.upstreams.script("a/m", Fail(UpstreamAuthenticationFailed))
    events = await gw.collect(route, request)
    assert kinds(events) == COMPLETE_KINDS
    assert gw.called() == ["a/m", "c/with-tools"]
    assert gw.upstreams.calls[1].request.tools[0].function.name == "lookup"
    assert gw.router.stats.fallbacks == 1


def test_fallback_without_tools_still_serves_a_request_without_tools() -> None:
    gw = gateway(single("m", "a", fallbacks=["no-tools"]), single("no-tools", "b", tools=False))
    assert [f.model.id for f in gw.route("m").fallbacks] == ["no-tools"]


async def test_error_of_the_last_candidate_reaches_the_caller_when_every_fallback_failed() -> None:
    gw = gateway(single("m", "a", fallbacks=["fb"]), single("fb", "b"))
    gw.upstreams.script("a/m", Fail(UpstreamAuthenticationFailed))
    gw.upstreams.script("b/fb", *[Fail(lambda: UpstreamTimeout("slow"))] * 3)
    with pytest.raises(UpstreamTimeout):
        await gw.run("m")
    assert gw.called() == ["a/m"] + ["b/fb"] * 3
    assert (gw.router.stats.attempts, gw.router.stats.retries, gw.router.stats.fallbacks) == (4, 2, 1)


async def test_fallback_deployments_fail_over_by_weight_too() -> None:
    gw = gateway(single("m", "a", fallbacks=["fb"]), weighted("fb", ("b", 1), ("c", 1)))
    gw.upstreams.script("a/m", Fail(UpstreamAuthenticationFailed))
    gw.upstreams.script("b/fb", Fail(UpstreamQuotaExhausted))
    gw.upstreams.script("c/fb", Fail(UpstreamQuotaExhausted))
    with pytest.raises(UpstreamQuotaExhausted):
        await gw.run("m")
    assert gw.called()[0] == "a/m"
    assert sorted(gw.called()[1:]) == ["b/fb", "c/fb"]
    assert gw.router.stats.fallbacks == 1


# --- after the first event --------------------------------------------------------------------


@pytest.mark.parametrize("make", TRANSIENT_MAKERS, ids=TRANSIENT_IDS)
async def test_failure_after_the_first_event_is_not_retried_and_follows_the_events(make: MakeError) -> None:
    gw = gateway(
        weighted("m", ("a", 1), ("b", 1), fallbacks=["fb"]),
        single("fb", "c"),
        breaker=BreakerPolicy(failure_threshold=1),
    )
    route = gw.route("m")
    first = route.deployments[0]
    gw.upstreams.script(first.name, Break(make, events=2))
    seen: list[Event] = []
    with pytest.raises(type(make())):
        await gw.collect(route, into=seen)
    assert kinds(seen) == ["created", "output_text_delta"]
    assert gw.called() == [first.name]  # no retry, no sibling, no fallback
    assert gw.sleeps == []
    assert (gw.router.stats.attempts, gw.router.stats.retries, gw.router.stats.fallbacks) == (1, 0, 0)
    assert first.breaker.state is BreakerState.OPEN  # charged
    assert gw.upstreams.finished == 1


async def test_rate_limit_after_the_first_event_does_not_charge_the_breaker() -> None:
    gw = gateway(single("m", "a"), breaker=BreakerPolicy(failure_threshold=1))
    gw.upstreams.script("a/m", Break(lambda: RateLimited("tokens per minute", limit="tokens"), events=3))
    seen: list[Event] = []
    with pytest.raises(RateLimited):
        await gw.run("m", into=seen)
    assert len(seen) == 3
    assert gw.called() == ["a/m"]
    assert gw.state("m") is BreakerState.CLOSED


async def test_client_fault_after_the_first_event_does_not_charge_the_breaker() -> None:
    gw = gateway(single("m", "a"), breaker=BreakerPolicy(failure_threshold=1))
    gw.upstreams.script("a/m", Break(ContextOverflow, events=1))
    seen: list[Event] = []
    with pytest.raises(ContextOverflow):
        await gw.run("m", into=seen)
    assert kinds(seen) == ["created"]
    assert gw.state("m") is BreakerState.CLOSED


async def test_deployment_that_keeps_failing_mid_stream_opens_its_breaker() -> None:
    gw = gateway(single("m", "a"), breaker=BreakerPolicy(failure_threshold=2, cooldown=COOLDOWN))
    gw.upstreams.script("a/m", Break(server_error), Break(server_error))
    for _ in range(2):
        with pytest.raises(UpstreamServerError):
            await gw.run("m")
    assert gw.state("m") is BreakerState.OPEN


# --- circuit breaker --------------------------------------------------------------------------


async def test_breaker_opens_after_threshold_consecutive_failures_and_the_deployment_is_skipped() -> None:
    gw = gateway(
        single("m", "a", fallbacks=["fb"]),
        single("fb", "b"),
        retry=RetryPolicy(max_attempts=1),
        breaker=BreakerPolicy(failure_threshold=3, cooldown=COOLDOWN),
    )
    gw.upstreams.script("a/m", *[Fail(server_error)] * 3)
    for _ in range(2):
        await gw.run("m")
    assert gw.state("m") is BreakerState.CLOSED
    await gw.run("m")
    assert gw.state("m") is BreakerState.OPEN
    assert gw.called() == ["a/m", "b/fb"] * 3
    events = await gw.run("m")  # a/m would complete now, but is not asked
    assert kinds(events) == COMPLETE_KINDS
    assert gw.called()[6:] == ["b/fb"]
    assert gw.router.stats.last_deployment == "b/fb"


async def test_retries_count_towards_the_breaker_threshold() -> None:
    gw = gateway(single("m", "a"), breaker=BreakerPolicy(failure_threshold=3, cooldown=COOLDOWN))
    gw.upstreams.script("a/m", *[Fail(server_error)] * 3)
    with pytest.raises(UpstreamServerError):
        await gw.run("m")
    assert gw.state("m") is BreakerState.OPEN


async def test_a_success_resets_the_consecutive_failure_count() -> None:
    gw = gateway(single("m", "a"), retry=RetryPolicy(max_attempts=1), breaker=BreakerPolicy(failure_threshold=2))
    gw.upstreams.script("a/m", Fail(server_error), Complete(), Fail(server_error))
    for expect_error in (True, False, True):
        if expect_error:
            with pytest.raises(UpstreamServerError):
                await gw.run("m")
        else:
            await gw.run("m")
    assert gw.state("m") is BreakerState.CLOSED


async def test_every_deployment_open_raises_deployments_cooling_down_without_calling_the_provider() -> None:
    gw = gateway(
        weighted("m", ("a", 1), ("b", 1), fallbacks=["fb"]),
        single("fb", "c"),
        breaker=BreakerPolicy(failure_threshold=1, cooldown=COOLDOWN),
    )
    for deployment in ("a/m", "b/m", "c/fb"):
        gw.upstreams.script(deployment, Fail(UpstreamAuthenticationFailed))
    with pytest.raises(UpstreamAuthenticationFailed):
        await gw.run("m")
    assert len(gw.called()) == 3
    assert [gw.state("m", 0), gw.state("m", 1), gw.state("fb")] == [BreakerState.OPEN] * 3

    with pytest.raises(DeploymentsCoolingDown) as caught:
        await gw.run("m")
    assert caught.value.http_status == 503
    assert "'m'" in caught.value.message
    assert len(gw.called()) == 3  # nobody was asked


async def test_after_the_cooldown_a_probe_is_let_through_and_its_success_closes_the_breaker(clock: Clock) -> None:
    gw = gateway(
        single("m", "a"),
        retry=RetryPolicy(max_attempts=1),
        breaker=BreakerPolicy(failure_threshold=1, cooldown=COOLDOWN),
    )
    gw.upstreams.script("a/m", Fail(server_error))
    with pytest.raises(UpstreamServerError):
        await gw.run("m")
    assert gw.state("m") is BreakerState.OPEN

    clock.advance(COOLDOWN - 0.01)
    with pytest.raises(DeploymentsCoolingDown):
        await gw.run("m")
    assert gw.called() == ["a/m"]

    clock.advance(0.01)
    assert gw.state("m") is BreakerState.HALF_OPEN
    events = await gw.run("m")
    assert kinds(events) == COMPLETE_KINDS
    assert gw.called() == ["a/m", "a/m"]
    assert gw.state("m") is BreakerState.CLOSED


async def test_a_failed_probe_reopens_the_breaker_for_another_cooldown(clock: Clock) -> None:
    gw = gateway(
        single("m", "a"),
        retry=RetryPolicy(max_attempts=1),
        breaker=BreakerPolicy(failure_threshold=1, cooldown=COOLDOWN),
    )
    gw.upstreams.script("a/m", Fail(server_error), Fail(lambda: UpstreamTimeout("slow")))
    with pytest.raises(UpstreamServerError):
        await gw.run("m")
    clock.advance(COOLDOWN)
    with pytest.raises(UpstreamTimeout):  # the probe's own error, not DeploymentsCoolingDown
        await gw.run("m")
    assert gw.state("m") is BreakerState.OPEN
    with pytest.raises(DeploymentsCoolingDown):
        await gw.run("m")
    assert gw.called() == ["a/m", "a/m"]


async def test_an_open_breaker_moves_the_request_to_the_sibling(clock: Clock) -> None:
    """(On the hand-moved clock, so the cooldown cannot run out mid-test.)"""
    gw = gateway(weighted("m", ("a", 3), ("b", 1)), breaker=BreakerPolicy(failure_threshold=1, cooldown=COOLDOWN))
    gw.router.deployments("m")[0].breaker.record_failure()  # a/m opens
    for _ in range(20):
        await gw.run("m")
    assert set(gw.called()) == {"b/m"}
    assert gw.router.stats.attempts == 20


async def test_rate_limits_never_open_the_breaker() -> None:
    gw = gateway(single("m", "a"), breaker=BreakerPolicy(failure_threshold=1, cooldown=COOLDOWN))
    gw.upstreams.script("a/m", *[Fail(lambda: RateLimited("slow down", retry_after=0.2))] * 3)
    with pytest.raises(RateLimited):
        await gw.run("m")
    assert gw.called() == ["a/m"] * 3
    assert gw.sleeps == [0.2, 0.2]
    assert gw.state("m") is BreakerState.CLOSED
    assert kinds(await gw.run("m")) == COMPLETE_KINDS  # still asked
    assert gw.called() == ["a/m"] * 4


async def test_no_backoff_is_slept_for_a_deployment_whose_breaker_just_opened() -> None:
    gw = gateway(single("m", "a"), breaker=BreakerPolicy(failure_threshold=2, cooldown=COOLDOWN))
    gw.upstreams.script("a/m", *[Fail(server_error)] * 3)
    with pytest.raises(UpstreamServerError):
        await gw.run("m")
    assert gw.called() == ["a/m"] * 2  # the second failure opened the breaker
    assert len(gw.sleeps) == 1
    assert gw.router.stats.retries == 1


# --- weights ----------------------------------------------------------------------------------


def test_first_tried_deployment_is_picked_by_weight() -> None:
    gw = gateway(weighted("m", ("a", 3), ("b", 1)), seed=1234)
    firsts = [gw.route("m").deployments[0].name for _ in range(400)]
    share = firsts.count("a/m") / len(firsts)
    assert 0.70 <= share <= 0.80, share
    assert set(firsts) == {"a/m", "b/m"}


def test_failover_order_after_the_first_pick_is_by_weight() -> None:
    # Config order differs from weight order, so a router that kept config order fails.
    gw = gateway(weighted("m", ("a", 1), ("b", 5), ("c", 3)), seed=99)
    weight = {"a/m": 1, "b/m": 5, "c/m": 3}
    firsts: set[str] = set()
    for _ in range(300):
        order = [d.name for d in gw.route("m").deployments]
        assert sorted(order) == ["a/m", "b/m", "c/m"]
        firsts.add(order[0])
        rest = [weight[name] for name in order[1:]]
        assert rest == sorted(rest, reverse=True), order
    assert firsts == {"a/m", "b/m", "c/m"}


async def test_failover_follows_the_weight_order() -> None:
    gw = gateway(weighted("m", ("a", 1), ("b", 5), ("c", 3)), seed=5)
    route = gw.route("m")
    first = route.deployments[0].name
    for deployment in ("a/m", "b/m", "c/m"):
        gw.upstreams.script(deployment, Fail(UpstreamQuotaExhausted))
    with pytest.raises(UpstreamQuotaExhausted):
        await gw.collect(route)
    weight = {"a/m": 1, "b/m": 5, "c/m": 3}
    rest = sorted((n for n in weight if n != first), key=lambda n: -weight[n])
    assert gw.called() == [first, *rest]


def test_the_same_seed_gives_the_same_picks() -> None:
    def picks(seed: int) -> list[str]:
        gw = gateway(weighted("m", ("a", 3), ("b", 1)), seed=seed)
        return [gw.route("m").deployments[0].name for _ in range(60)]

    assert picks(7) == picks(7)
    assert picks(7) != picks(8)  # the injected rng decides, not a global one


# --- unary creates: the same loop, the provider's one-call answer ------------------------------


async def unary(gw: Gateway, model_id: str) -> pb.Response:
    request = request_for(model_id)
    return await gw.router.complete(gw.route(model_id, request), request)


async def test_a_unary_create_is_one_call_through_the_same_loop() -> None:
    gw = gateway(single("m", "a"))
    response = await unary(gw, "m")
    assert (response.model, response.status) == ("m", "completed")
    assert (gw.upstreams.unary, gw.upstreams.opened) == (1, 0)  # no upstream stream was opened
    assert gw.router.stats.last_deployment == "a/m"


@pytest.mark.parametrize("make", TRANSIENT_MAKERS, ids=TRANSIENT_IDS)
async def test_a_unary_create_is_retried_like_a_stream(make: MakeError) -> None:
    gw = gateway(single("m", "a"))
    gw.upstreams.script("a/m", Fail(make), Fail(make))
    assert (await unary(gw, "m")).status == "completed"
    assert gw.called() == ["a/m"] * 3
    assert len(gw.sleeps) == gw.router.stats.retries == 2


async def test_a_unary_create_fails_over_to_the_fallback_after_an_account_error() -> None:
    gw = gateway(single("m", "a", fallbacks=["fb"]), single("fb", "b"))
    gw.upstreams.script("a/m", Fail(UpstreamQuotaExhausted))
    assert (await unary(gw, "m")).model == "fb"
    assert gw.called() == ["a/m", "b/fb"]
    assert gw.router.stats.fallbacks == 1


async def test_unary_failures_open_the_breaker_like_streamed_ones() -> None:
    gw = gateway(single("m", "a"), breaker=BreakerPolicy(failure_threshold=2, cooldown=COOLDOWN))
    gw.upstreams.script("a/m", *[Fail(server_error)] * 2)
    with pytest.raises(UpstreamServerError):
        await unary(gw, "m")
    assert gw.state("m") is BreakerState.OPEN
    with pytest.raises(DeploymentsCoolingDown):
        await unary(gw, "m")


async def test_a_model_whose_own_provider_has_no_key_is_served_by_its_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RG_TEST_ROUTER_KEY", raising=False)
    providers = [fake_provider("a", requires_key=True, api_key_env="RG_TEST_ROUTER_KEY"), fake_provider("b")]
    gw = gateway(single("m", "a", fallbacks=["fb"]), single("fb", "b"), providers=providers)
    assert kinds(await gw.run("m")) == COMPLETE_KINDS
    assert gw.called() == ["b/fb"]


async def test_an_upstream_stream_that_ends_before_any_event_is_retried_as_a_server_error() -> None:
    gw = gateway(single("m", "a"))
    gw.upstreams.script("a/m", Silent(), Silent(), Silent())
    with pytest.raises(UpstreamServerError):
        await gw.run("m")
    assert gw.called() == ["a/m"] * 3
