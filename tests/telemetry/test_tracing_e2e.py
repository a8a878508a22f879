"""One trace per request, from the bridge to the upstream, received by an OTLP receiver the test runs.

The gateway runs as real processes configured only by `OTEL_*` variables:
`serve` (one process, OTLP over gRPC) and the split layout (`serve grpc`
exporting OTLP over HTTP/protobuf, `serve bridge` over gRPC). The `openai` SDK
sends a streamed request that ends in a tool call; the fake upstream records
the `traceparent` it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import openai
import pytest

from tests.telemetry.otlp_receiver import OTLPReceiver, ReceivedSpan, tree
from tests.upstreams.openai_responses import FakeOpenAIResponses

UPSTREAM_KEY = "sk-trace-upstream-secret"
GATEWAY_KEY_PREFIX = "rg-"
MODEL = "gpt-5.4"
MODELS = json.dumps([{"id": MODEL, "provider": "openai", "tokenizer": "o200k", "context_window": 1_050_000}])
PROVIDERS = json.dumps(
    [
        {
            "name": "openai",
            "type": "openai_responses",
            "base_url": "https://api.openai.com/v1",
            "base_url_env": "OPENAI_BASE_URL",
            "api_key_env": "OPENAI_API_KEY",
        }
    ]
)
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Layout:
    http_url: str
    mode: str
    bridge_log: Path


@contextlib.asynccontextmanager
async def _process(args: list[str], env: dict[str, str], log: Path) -> AsyncIterator[None]:
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "responses_gateway.cli", "serve", *args, env=env, stdout=out, stderr=out
        )
        try:
            yield
        finally:
            if proc.returncode is None:
                proc.terminate()  # SIGTERM: the processes export what they still hold before exiting
                try:
                    await asyncio.wait_for(proc.wait(), 15)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def _ready(url: str, logs: list[Path]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{url}/readyz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise AssertionError("gateway did not start:\n" + "\n".join(p.read_text(errors="replace")[-3000:] for p in logs))


@contextlib.asynccontextmanager
async def start_layout(mode: str, tmp_path: Path, upstream_url: str, receiver: OTLPReceiver) -> AsyncIterator[Layout]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RG_", "OPENAI_", "OTEL_"))}
    base.update(
        RG_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}",
        RG_MODELS=MODELS,
        RG_PROVIDERS=PROVIDERS,
        OPENAI_BASE_URL=upstream_url,
        OPENAI_API_KEY=UPSTREAM_KEY,
        OTEL_BSP_SCHEDULE_DELAY="100",
        RG_LOG_FORMAT="json",
    )
    http_port, grpc_port = _free_port(), _free_port()
    base.update(RG_HTTP_PORT=str(http_port), RG_GRPC_PORT=str(grpc_port))
    url = f"http://127.0.0.1:{http_port}"
    grpc_otlp = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.grpc_endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    if mode == "inprocess":
        log = tmp_path / "serve.log"
        async with _process([], {**base, **grpc_otlp}, log):
            await _ready(url, [log])
            yield Layout(url, mode, log)
        return
    # Split: the service exports over HTTP/protobuf, the bridge over gRPC; both protocols are exercised.
    http_otlp = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
    service_log, bridge_log = tmp_path / "service.log", tmp_path / "bridge.log"
    async with _process(["grpc"], {**base, **http_otlp}, service_log):
        bridge_env = {**base, **grpc_otlp, "RG_BACKEND_TARGET": f"127.0.0.1:{grpc_port}"}
        async with _process(["bridge"], bridge_env, bridge_log):
            await _ready(url, [service_log, bridge_log])
            yield Layout(url, mode, bridge_log)


@pytest.fixture
async def receiver() -> AsyncIterator[OTLPReceiver]:
    made = OTLPReceiver()
    await made.start()
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAIResponses]:
    fake = FakeOpenAIResponses(api_key=UPSTREAM_KEY)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


def _one(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


@pytest.mark.parametrize("mode", ["inprocess", "split"])
async def test_a_streamed_tool_call_is_one_trace_from_the_bridge_to_the_upstream(
    mode: str, tmp_path: Path, receiver: OTLPReceiver, upstream: FakeOpenAIResponses
) -> None:
    async with start_layout(mode, tmp_path, upstream.base_url, receiver) as layout:
        async with openai.AsyncOpenAI(base_url=f"{layout.http_url}/v1", api_key="sk-client", max_retries=0) as client:
            stream = await client.responses.create(
                model=MODEL, input="What is the weather in Paris?", tools=[WEATHER_TOOL], stream=True, max_output_tokens=500
            )
            completed = None
            async for event in stream:
                if event.type == "response.completed":
                    completed = event.response
        assert completed is not None and completed.output[-1].type == "function_call"
        expected = ["POST /v1/responses", f"create_response {MODEL}", f"chat {MODEL}", "store.commit"]
        if mode == "split":
            expected += ["/responses_gateway.v1.ResponsesService/StreamResponseBatches"]
        spans = await receiver.wait_for(*expected)

    root = _one(spans, "POST /v1/responses")
    ours = [s for s in spans if s.trace_id == root.trace_id]
    print(f"\n{mode}:\n{tree(spans, root.trace_id)}")
    by_id = {s.span_id: s for s in ours}

    # The root: the bridge's HTTP server span, stable HTTP attributes.
    assert root.parent_id == "" and root.kind == "SERVER"
    assert root.attributes["http.request.method"] == "POST"
    assert root.attributes["http.route"] == "/v1/responses"
    assert root.attributes["http.response.status_code"] == 200
    assert root.service == ("responses-gateway" if mode == "inprocess" else "responses-gateway-bridge")

    service_span = _one(ours, f"create_response {MODEL}")
    if mode == "split":
        # bridge: gRPC client span under the HTTP span; service: gRPC server span under it, its own process.
        rpc = [s for s in ours if s.name == "/responses_gateway.v1.ResponsesService/StreamResponseBatches"]
        client_span = next(s for s in rpc if s.kind == "CLIENT")
        server_span = next(s for s in rpc if s.kind == "SERVER")
        assert client_span.parent_id == root.span_id and client_span.service == "responses-gateway-bridge"
        assert server_span.parent_id == client_span.span_id and server_span.service == "responses-gateway-service"
        for span in (client_span, server_span):
            assert span.attributes["rpc.system"] == "grpc"
            assert span.attributes["rpc.service"] == "responses_gateway.v1.ResponsesService"
            assert span.attributes["rpc.method"] == "StreamResponseBatches"  # the bridge streams in batches
        assert service_span.parent_id == server_span.span_id
    else:
        assert service_span.parent_id == root.span_id

    # The service's span: the gateway's id, the tenant, the usage the client received.
    assert service_span.attributes["gen_ai.response.id"] == completed.id
    assert service_span.attributes["responses_gateway.tenant_id"] == "default"
    assert service_span.attributes["gen_ai.usage.input_tokens"] == completed.usage.input_tokens

    # The model call: GenAI conventions, the upstream's own id, finish reason from the tool call.
    call = _one(ours, f"chat {MODEL}")
    assert call.parent_id == service_span.span_id and call.kind == "CLIENT"
    attrs = call.attributes
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["openai.api.type"] == "responses"
    assert attrs["gen_ai.request.model"] == MODEL and attrs["gen_ai.response.model"] == MODEL
    assert attrs["gen_ai.request.max_tokens"] == 500
    assert attrs["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert attrs["gen_ai.response.id"].startswith("resp_") and attrs["gen_ai.response.id"] != completed.id
    assert attrs["gen_ai.usage.input_tokens"] == completed.usage.input_tokens
    assert attrs["gen_ai.usage.output_tokens"] == completed.usage.output_tokens
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == completed.usage.output_tokens_details.reasoning_tokens
    assert attrs["server.address"] == "127.0.0.1" and attrs["server.port"] == int(upstream.base_url.split(":")[2].split("/")[0])
    assert "gen_ai.input.messages" not in attrs  # content capture is off by default

    # Under it, the HTTP client span; the upstream received a traceparent naming exactly that span.
    http_client = [s for s in ours if s.parent_id == call.span_id and s.kind == "CLIENT"]
    assert len(http_client) == 1 and http_client[0].attributes["http.request.method"] == "POST"
    traceparent = next(r.headers["traceparent"] for r in upstream.requests if r.path == "/v1/responses")
    _, trace_id, parent_span, _ = traceparent.split("-")
    assert (trace_id, parent_span) == (root.trace_id, http_client[0].span_id)

    # Database work belongs to the request's trace: the writes under the service span, the commit linked to
    # each request it carried (here, this one).
    writes = [s for s in ours if s.name == "store.write"]
    assert writes and all(by_id[w.parent_id] is service_span for w in writes)
    statements = [s for s in ours if s.parent_id in {w.span_id for w in writes}]
    assert any(s.name.startswith("INSERT") for s in statements)
    commit = next(s for s in ours if s.name == "store.commit")
    assert (root.trace_id, service_span.span_id) in commit.links

    # The bridge's access line (JSON logs) names the trace and the request's root span.
    lines = [json.loads(line) for line in layout.bridge_log.read_text().splitlines() if line.strip()]
    (access,) = [r for r in lines if r["logger"] == "responses_gateway.access" and r["route"] == "/v1/responses"]
    assert (access["trace_id"], access["span_id"]) == (root.trace_id, root.span_id)
    assert access["status"] == 200 and access["model"] == MODEL and access["tenant"] == "default"
    assert (access["input_tokens"], access["output_tokens"]) == (completed.usage.input_tokens, completed.usage.output_tokens)

    # No key, no prompt: the credentials never reach a span.
    everything = json.dumps([s.attributes for s in spans] + [s.events for s in spans], default=str)
    assert UPSTREAM_KEY not in everything and "sk-client" not in everything
    assert "What is the weather" not in everything


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
async def test_metrics_are_pushed_over_otlp_under_the_genai_names(
    protocol: str, tmp_path: Path, receiver: OTLPReceiver, upstream: FakeOpenAIResponses
) -> None:
    http_port, grpc_port = _free_port(), _free_port()
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RG_", "OPENAI_", "OTEL_"))}
    env.update(
        RG_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}",
        RG_MODELS=MODELS,
        RG_PROVIDERS=PROVIDERS,
        RG_HTTP_PORT=str(http_port),
        RG_GRPC_PORT=str(grpc_port),
        OPENAI_BASE_URL=upstream.base_url,
        OPENAI_API_KEY=UPSTREAM_KEY,
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_TRACES_EXPORTER="none",  # an OTLP endpoint alone would turn tracing on too
        OTEL_METRIC_EXPORT_INTERVAL="300",
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
    )
    url = f"http://127.0.0.1:{http_port}"
    log = tmp_path / "serve.log"
    async with _process([], env, log):
        await _ready(url, [log])
        async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-client", max_retries=0) as client:
            response = await client.responses.create(model=MODEL, input="hello")
        for _ in range(100):
            duration = receiver.metrics().get("gen_ai.client.operation.duration")
            if duration is not None and sum(p.count for p in duration[1].histogram.data_points) >= 1:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"no gen_ai.client.operation.duration received: {sorted(receiver.metrics())}")
    assert receiver.spans == []  # OTEL_TRACES_EXPORTER=none: metrics only
    metrics = receiver.metrics()
    service, duration_metric = metrics["gen_ai.client.operation.duration"]
    assert service == "responses-gateway" and duration_metric.unit == "s"
    (point,) = [p for p in duration_metric.histogram.data_points if p.count]
    attributes = {a.key: a.value.string_value for a in point.attributes}
    assert attributes["gen_ai.provider.name"] == "openai" and attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == MODEL and attributes["error.type"] == ""
    assert sum(point.bucket_counts) == point.count == 1 and len(point.bucket_counts) == len(point.explicit_bounds) + 1
    usage = metrics["gen_ai.client.token.usage"][1]
    output = next(p for p in usage.histogram.data_points if any(a.value.string_value == "output" for a in p.attributes))
    assert response.usage is not None and output.sum == response.usage.output_tokens
    requests = metrics["responses_gateway_http_requests"][1]
    assert requests.sum.is_monotonic and any(p.as_double >= 1 for p in requests.sum.data_points)


async def test_a_callers_traceparent_makes_the_bridge_span_its_child(
    tmp_path: Path, receiver: OTLPReceiver, upstream: FakeOpenAIResponses
) -> None:
    caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    async with start_layout("inprocess", tmp_path, upstream.base_url, receiver) as layout:
        async with aiohttp.ClientSession() as session:
            headers = {"traceparent": f"00-{caller_trace}-{caller_span}-01"}
            async with session.post(f"{layout.http_url}/v1/responses", json={"model": MODEL, "input": "hi"}, headers=headers) as resp:
                assert resp.status == 200
        spans = await receiver.wait_for("POST /v1/responses", f"chat {MODEL}")
    root = _one(spans, "POST /v1/responses")
    assert (root.trace_id, root.parent_id) == (caller_trace, caller_span)
    assert _one(spans, f"chat {MODEL}").trace_id == caller_trace
