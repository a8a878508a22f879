"""The service's span for a create: the gateway's id, truncation as an event, the usage and the outcome."""

from __future__ import annotations

import asyncio

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.security.limits import Limits
from responses_gateway.service.call import CallContext
from responses_gateway.service.observed import CreateObserver
from responses_gateway.telemetry import Metrics, Telemetry, Tracing


def observer() -> tuple[CreateObserver, InMemorySpanExporter, Metrics]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    metrics = Metrics(process_collectors=False)
    return CreateObserver(Telemetry(metrics, Tracing(provider, capture_content=False))), exporter, metrics


CTX = CallContext(tenant_id="acme", key_id="key_1", limits=Limits(), monthly_tokens=None, headers={})
REQUEST = pb.CreateResponseRequest(model="gpt-5.4", input_text="hi")


def test_a_truncated_streamed_create_carries_its_id_the_dropped_items_and_the_tool_call_outcome() -> None:
    made, exporter, metrics = observer()
    observed = made.begin(REQUEST, CTX, streamed=True)
    assert metrics.registry.get_sample_value("responses_gateway_streams_in_flight") == 1
    observed.identified("resp_abc", dropped_items=4)
    delta = epb.ResponseStreamEvent(output_text_delta=epb.TextDeltaEvent(delta="x"))
    observed.saw(delta)
    response = pb.Response(id="resp_abc", status="completed", usage=pb.Usage(input_tokens=10, output_tokens=3))
    response.output.add(function_call=ipb.FunctionCallItem(call_id="c", name="f", arguments="{}"))
    observed.finished(response)
    observed.failed(asyncio.CancelledError())  # already observed: nothing more
    (span,) = exporter.get_finished_spans()
    assert span.name == "create_response gpt-5.4"
    assert span.attributes["gen_ai.response.id"] == "resp_abc"
    assert span.attributes["responses_gateway.tenant_id"] == "acme"
    assert span.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert span.attributes["gen_ai.usage.input_tokens"] == 10
    assert [(e.name, dict(e.attributes or {})) for e in span.events] == [("gen_ai.truncation", {"dropped_items": 4})]
    assert metrics.registry.get_sample_value("responses_gateway_streams_in_flight") == 0


def test_a_client_that_leaves_before_any_response_is_a_client_disconnect() -> None:
    made, exporter, metrics = observer()
    observed = made.begin(REQUEST, CTX, streamed=True)
    observed.identified("resp_abc", dropped_items=0)
    observed.failed(GeneratorExit())
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR and span.attributes["error.type"] == "client_disconnected"
    labels = {"gen_ai_operation_name": "chat", "gen_ai_request_model": "gpt-5.4", "error_type": "client_disconnected"}
    assert metrics.registry.get_sample_value("gen_ai_server_request_duration_seconds_count", labels) == 1


def test_a_failed_response_is_an_error_span_with_its_code() -> None:
    made, exporter, _ = observer()
    observed = made.begin(REQUEST, CTX, streamed=False)
    observed.finished(pb.Response(status="failed", error=pb.ResponseError(code="server_error", message="boom")))
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR and span.attributes["error.type"] == "server_error"
    assert span.attributes["gen_ai.response.finish_reasons"] == ("error",)


def test_under_an_unsampled_request_no_span_is_even_started() -> None:
    """A 1 % sampler's other 99 %: the request's root was declined, so its children cost no sampler call."""
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    made, exporter, metrics = observer()
    declined = TracerProvider(sampler=ALWAYS_OFF).get_tracer("bridge")
    with declined.start_as_current_span("POST /v1/responses") as root:
        assert root.get_span_context().is_valid and not root.get_span_context().trace_flags.sampled
        observed = made.begin(REQUEST, CTX, streamed=False)
        assert observed._span is None  # noqa: SLF001 - what is under test
        observed.finished(pb.Response(status="completed", usage=pb.Usage(input_tokens=1, output_tokens=1)))
    assert exporter.get_finished_spans() == ()
    labels = {"gen_ai_operation_name": "chat", "gen_ai_request_model": "", "error_type": ""}
    assert metrics.registry.get_sample_value("gen_ai_server_request_duration_seconds_count", labels) == 1
