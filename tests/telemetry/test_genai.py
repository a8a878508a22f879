"""Model-call span attributes: the GenAI conventions' names and values; message content only when allowed."""

from __future__ import annotations

import json

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.telemetry.genai import Upstream, end_model_call, finish_reasons, start_model_call

UPSTREAM = Upstream.at("deepseek", "https://api.deepseek.com/v1")
REQUEST = pb.CreateResponseRequest(model="deepseek-v4-pro", input_text="What is 2+2?", instructions="Be brief.", temperature=0.2)


def traced() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def answer(text: str = "4") -> pb.Response:
    response = pb.Response(id="chatcmpl-1", model="deepseek-v4-pro", status="completed", usage=pb.Usage(input_tokens=9, output_tokens=1))
    response.output.add(message=ipb.MessageItem(role="assistant", parts=ipb.ContentList(parts=[ipb.ContentPart(output_text=ipb.OutputText(text=text))])))
    return response


def test_content_is_recorded_only_when_capture_is_allowed() -> None:
    provider, exporter = traced()
    for capture in (False, True):
        span = start_model_call(provider.get_tracer("t"), UPSTREAM, REQUEST, "deepseek-v4-pro", capture_content=capture)
        end_model_call(span, answer(), capture_content=capture)
    quiet, captured = exporter.get_finished_spans()
    assert "gen_ai.input.messages" not in quiet.attributes and "gen_ai.output.messages" not in quiet.attributes
    messages = json.loads(str(captured.attributes["gen_ai.input.messages"]))
    assert messages == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "What is 2+2?"}]},
    ]
    output = json.loads(str(captured.attributes["gen_ai.output.messages"]))
    assert output == [{"role": "assistant", "parts": [{"type": "text", "content": "4"}], "finish_reason": "stop"}]
    assert captured.attributes["server.address"] == "api.deepseek.com" and captured.attributes["server.port"] == 443
    assert "openai.api.type" not in captured.attributes  # not OpenAI's API
    assert captured.attributes["gen_ai.request.temperature"] == 0.2


def test_finish_reasons_follow_the_convention() -> None:
    assert finish_reasons(answer()) == ["stop"]
    assert finish_reasons(pb.Response(status="incomplete", incomplete_details=pb.IncompleteDetails(reason="max_output_tokens"))) == ["length"]
    assert finish_reasons(pb.Response(status="incomplete", incomplete_details=pb.IncompleteDetails(reason="content_filter"))) == ["content_filter"]
    assert finish_reasons(pb.Response(status="failed")) == ["error"]
    called = pb.Response(status="completed")
    called.output.add(function_call=ipb.FunctionCallItem(call_id="c", name="f", arguments="{}"))
    assert finish_reasons(called) == ["tool_calls"]
