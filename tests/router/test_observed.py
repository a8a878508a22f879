"""What an operator sees of the router's attempts: one model-call span each, retry/fallback/breaker events, metrics."""

from __future__ import annotations

import random

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from responses_gateway.config import BreakerPolicy, Settings
from responses_gateway.router import Router
from responses_gateway.telemetry import Metrics, Telemetry, Tracing
from tests.router._scripted import FAKE, Complete, Fail, Upstreams
from tests.router.test_router import PROVIDERS, RETRY, Gateway, fake_provider, request_for, server_error, single


def observed_gateway(*models: object, breaker: BreakerPolicy = BreakerPolicy(failure_threshold=100, cooldown=30.0)) -> tuple[
    Gateway, InMemorySpanExporter, Metrics, TracerProvider
]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    metrics = Metrics(process_collectors=False)
    upstreams = Upstreams()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    settings = Settings(providers=[fake_provider(p) for p in PROVIDERS], models=list(models), retry=RETRY, breaker=breaker)  # type: ignore[arg-type]
    telemetry = Telemetry(metrics, Tracing(provider, capture_content=False))
    router = Router(settings, factories={FAKE: upstreams.factory}, sleep=sleep, rng=random.Random(0), telemetry=telemetry)
    return Gateway(router, upstreams, sleeps), exporter, metrics, provider


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def spans(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


async def test_a_retry_is_two_model_call_spans_and_an_event_on_the_request_span() -> None:
    gw, exporter, metrics, provider = observed_gateway(single("m", "a"))
    gw.upstreams.script("a/m", Fail(server_error), Complete())
    with provider.get_tracer("test").start_as_current_span("request"):
        await gw.run("m")
    failed, answered = spans(exporter, "chat m")
    assert failed.status.status_code is StatusCode.ERROR and failed.attributes["error.type"] == "UpstreamServerError"
    assert answered.status.status_code is StatusCode.UNSET and answered.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert answered.attributes["gen_ai.provider.name"] == "a" and "server.address" in answered.attributes
    (request,) = spans(exporter, "request")
    assert {failed.parent.span_id, answered.parent.span_id} == {request.context.span_id}  # type: ignore[union-attr]
    (retry,) = [e for e in request.events if e.name == "gen_ai.retry"]
    assert retry.attributes == {"deployment": "a/m", "error.type": "UpstreamServerError", "delay_s": gw.sleeps[0]}

    assert sample(metrics, "responses_gateway_upstream_retries_total", deployment="a/m") == 1
    assert sample(metrics, "responses_gateway_upstream_errors_total", provider="a", error_type="UpstreamServerError") == 1
    labels = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "a", "gen_ai_request_model": "m"}
    assert sample(metrics, "gen_ai_client_operation_duration_seconds_count", **labels, error_type="") == 1
    assert sample(metrics, "gen_ai_client_operation_duration_seconds_count", **labels, error_type="UpstreamServerError") == 1
    assert sample(metrics, "gen_ai_client_token_usage_count", **labels, gen_ai_token_type="output") == 1


async def test_a_fallback_and_a_breaker_opening_are_events_and_metrics() -> None:
    gw, exporter, metrics, provider = observed_gateway(
        single("m", "a", fallbacks=["n"]), single("n", "b"), breaker=BreakerPolicy(failure_threshold=1, cooldown=30.0)
    )
    gw.upstreams.script("a/m", Fail(server_error))
    gw.upstreams.script("b/n", Complete())
    with provider.get_tracer("test").start_as_current_span("request"):
        await gw.run("m", request_for("m"))
    (request,) = spans(exporter, "request")
    events = {e.name: dict(e.attributes or {}) for e in request.events}
    assert events["gen_ai.breaker"] == {"deployment": "a/m", "state": "open"}
    assert events["gen_ai.fallback"] == {"from_model": "m", "to_model": "n"}
    assert [s.name for s in exporter.get_finished_spans() if s.name.startswith("chat")] == ["chat m", "chat n"]
    assert sample(metrics, "responses_gateway_upstream_fallbacks_total", from_model="m", to_model="n") == 1
    assert sample(metrics, "responses_gateway_breaker_transitions_total", deployment="a/m", state="open") == 1
    assert sample(metrics, "responses_gateway_breaker_state", deployment="a/m", state="open") == 1
    assert sample(metrics, "responses_gateway_breaker_state", deployment="b/n", state="closed") == 1


async def test_without_telemetry_the_router_records_nothing_and_still_answers() -> None:
    gw, exporter, metrics, _ = observed_gateway(single("m", "a"))
    bare = Router(
        Settings(providers=[fake_provider("a")], models=[single("m", "a")]), factories={FAKE: gw.upstreams.factory}
    )
    gw.upstreams.script("a/m", Complete())
    bare_gw = Gateway(bare, gw.upstreams)
    assert (await bare_gw.run("m"))[-1].WhichOneof("event") == "completed"
    assert exporter.get_finished_spans() == ()
