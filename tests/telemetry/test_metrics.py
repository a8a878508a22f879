"""`/metrics`: what a scraper reads, on the bridge's port or on one of its own."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import openai
import pytest

from responses_gateway.bridge.server import run_remote_bridge
from responses_gateway.config import AuthConfig, Settings
from responses_gateway.runtime import run_all, run_service
from responses_gateway.telemetry.metrics import Metrics
from tests.e2e.conftest import Gateway, gateway  # noqa: F401 - the fixture, both layouts


def test_the_exposition_follows_what_the_scraper_accepts() -> None:
    metrics = Metrics(process_collectors=False)
    metrics.observe_http("/v1/responses", "POST", 200, 0.02)
    text, content_type = metrics.exposition(None)
    assert content_type.startswith("text/plain; version=0.0.4")
    assert b'responses_gateway_http_requests_total{method="POST",route="/v1/responses",status="200"} 1.0' in text
    assert b'responses_gateway_http_request_duration_seconds_bucket{le="0.025",method="POST",route="/v1/responses"} 1.0' in text
    open_metrics, content_type = metrics.exposition("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert open_metrics.endswith(b"# EOF\n")


def test_two_processes_worth_of_metrics_do_not_share_counters() -> None:
    first, second = Metrics(process_collectors=False), Metrics(process_collectors=False)
    first.observe_http("/healthz", "GET", 200, 0.001)
    assert b"/healthz" in first.exposition(None)[0]
    assert b"/healthz" not in second.exposition(None)[0]


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}",
        grpc_port=0,
        http_port=0,
        auth=AuthConfig(mode="required"),
        **overrides,
    )


async def _status(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as resp:
        return resp.status, await resp.text()


async def test_serve_moves_metrics_to_their_own_port_when_one_is_set(tmp_path: Path) -> None:
    async with run_all(_settings(tmp_path, metrics_port=0)) as (_, bridge), aiohttp.ClientSession() as session:
        assert bridge.metrics_port is not None and bridge.metrics_port != bridge.http_port
        await _status(session, f"http://127.0.0.1:{bridge.http_port}/healthz")
        status, _ = await _status(session, f"http://127.0.0.1:{bridge.http_port}/metrics")
        assert status == 404
        status, text = await _status(session, f"http://127.0.0.1:{bridge.metrics_port}/metrics")
        assert status == 200
        assert 'route="/healthz"' in text and "process_cpu_seconds_total" in text


@pytest.mark.parametrize("metrics_port", [None, 0])
async def test_the_service_alone_serves_metrics_only_on_a_port_it_is_given(tmp_path: Path, metrics_port: int | None) -> None:
    settings = _settings(tmp_path, metrics_port=metrics_port)
    async with run_service(settings) as service:
        if metrics_port is None:
            assert service.metrics_port is None
            return
        assert service.metrics_port is not None
        bridge_settings = settings.model_copy(update={"backend_target": f"127.0.0.1:{service.grpc_port}"})
        async with run_remote_bridge(bridge_settings) as bridge, aiohttp.ClientSession() as session:
            # Two processes' worth of metrics on two ports: each its own.
            assert bridge.metrics_port not in (None, service.metrics_port)
            await _status(session, f"http://127.0.0.1:{bridge.http_port}/readyz")
            status, text = await _status(session, f"http://127.0.0.1:{service.metrics_port}/metrics")
            assert status == 200 and "process_cpu_seconds_total" in text and 'route="/readyz"' not in text
            status, text = await _status(session, f"http://127.0.0.1:{bridge.metrics_port}/metrics")
            assert status == 200 and 'route="/readyz"' in text


async def test_a_streamed_create_fills_the_genai_server_metrics_and_the_token_counts(gateway: Gateway) -> None:
    """In both layouts the service's own metrics hold the create; the bridge's hold the HTTP request."""
    assert gateway.service is not None
    async with gateway.client() as client:
        stream = await client.responses.create(model="gpt-5.4", input="Count to five", stream=True)
        completed = None
        async for event in stream:
            if event.type == "response.completed":
                completed = event.response
    assert completed is not None and completed.usage is not None
    registry = gateway.service.telemetry.metrics.registry

    def value(name: str, **labels: str) -> float:
        found = registry.get_sample_value(name, labels)
        return 0.0 if found is None else found

    model = {"gen_ai_operation_name": "chat", "gen_ai_request_model": "gpt-5.4"}
    assert value("gen_ai_server_request_duration_seconds_count", **model, error_type="") == 1
    assert value("gen_ai_server_time_to_first_token_seconds_count", **model) == 1
    assert value("gen_ai_server_time_per_output_token_seconds_count", **model) == 1
    assert value("responses_gateway_responses_total", model="gpt-5.4", tenant="default", status="completed") == 1
    assert value("responses_gateway_tokens_total", model="gpt-5.4", tenant="default", type="output") == completed.usage.output_tokens
    assert value("responses_gateway_tokens_total", model="gpt-5.4", tenant="default", type="input") == completed.usage.input_tokens
    assert value("responses_gateway_streams_in_flight") == 0
    upstream = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "openai", "gen_ai_request_model": "gpt-5.4"}
    assert value("gen_ai_client_token_usage_sum", **upstream, gen_ai_token_type="output") == completed.usage.output_tokens
    async with aiohttp.ClientSession() as session, session.get(f"{gateway.http_url}/metrics") as resp:
        text = await resp.text()
    assert 'responses_gateway_http_requests_total{method="POST",route="/v1/responses",status="200"} 1.0' in text


async def test_an_unknown_model_is_no_metric_label(gateway: Gateway) -> None:
    assert gateway.service is not None
    async with gateway.client() as client:
        with pytest.raises(openai.BadRequestError):
            await client.responses.create(model="no-such-model-anyone-typed", input="hi")
    text = gateway.service.telemetry.metrics.exposition(None)[0].decode()
    assert "no-such-model-anyone-typed" not in text
    assert 'gen_ai_server_request_duration_seconds_count{error_type="ModelNotFound",gen_ai_operation_name="chat",gen_ai_request_model=""} 1.0' in text


def test_latency_carries_the_trace_as_an_exemplar_in_openmetrics_when_tracing_is_on() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    traced, untraced = Metrics(process_collectors=False, exemplars=True), Metrics(process_collectors=False)
    with TracerProvider().get_tracer("test").start_as_current_span("request") as span:
        traced.observe_http("/v1/responses", "POST", 200, 0.02)
        untraced.observe_http("/v1/responses", "POST", 200, 0.02)
    trace_id = format(span.get_span_context().trace_id, "032x")
    text = traced.exposition("application/openmetrics-text")[0].decode()
    assert f'# {{span_id="{format(span.get_span_context().span_id, "016x")}",trace_id="{trace_id}"}} 0.02' in text
    assert "trace_id" not in untraced.exposition("application/openmetrics-text")[0].decode()
    assert "trace_id" not in traced.exposition(None)[0].decode()  # Prometheus text has no exemplars


async def test_a_made_up_method_never_becomes_a_label(gateway: Gateway) -> None:
    """aiohttp's parser refuses methods HTTP does not define; a parser that let one through would
    still count it as `_OTHER` (bridge.errors.KNOWN_METHODS), never by its name."""
    async with aiohttp.ClientSession() as session:
        for method in ("BREW", "XYZ1"):
            async with session.request(method, f"{gateway.http_url}/v1/responses") as resp:
                assert resp.status == 400
        async with session.get(f"{gateway.http_url}/metrics") as resp:
            text = await resp.text()
    assert "BREW" not in text and "XYZ1" not in text
