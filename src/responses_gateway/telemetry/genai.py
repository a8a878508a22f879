"""Model-call spans, as OpenTelemetry's GenAI semantic conventions describe them.

One span per upstream attempt, kind CLIENT, named `chat {model}`; what the
request asked for when it starts, what the upstream answered when it ends.
Prompt and output text are recorded only when the operator allowed it
(`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`); keys never.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson
from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.attributes import openai_attributes
from opentelemetry.semconv.attributes import error_attributes, server_attributes
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.errors import GatewayError

TENANT = "responses_gateway.tenant_id"
OPERATION = "chat"

# The output item kinds that make a response's finish reason `tool_calls`.
_CALL_KINDS = frozenset({"function_call", "custom_tool_call", "computer_call", "local_shell_call", "mcp_call"})
_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


@dataclass(frozen=True)
class Upstream:
    """What a model-call span says about where the call goes."""

    provider_name: str
    address: str
    port: int | None
    # `openai.api.type`: which OpenAI API the upstream speaks, when it is OpenAI's.
    api_type: str | None = None

    @classmethod
    def at(cls, provider_name: str, base_url: str, api_type: str | None = None) -> Upstream:
        """The upstream behind a base URL."""
        parts = urlsplit(base_url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        return cls(provider_name, parts.hostname or "", port, api_type)


def finish_reasons(response: pb.Response) -> list[str]:
    """The convention's finish reasons for a response: from its status, incomplete reason and calls."""
    if response.status == "failed" or response.status == "cancelled":
        return ["error"]
    if response.status == "incomplete":
        return [_INCOMPLETE_REASONS.get(response.incomplete_details.reason, "length")]
    if any(item.WhichOneof("item") in _CALL_KINDS for item in response.output):
        return ["tool_calls"]
    return ["stop"]


def usage_attributes(usage: pb.Usage) -> dict[str, int]:
    """The usage attributes, equal to the usage the client receives."""
    return {
        gen_ai.GEN_AI_USAGE_INPUT_TOKENS: usage.input_tokens,
        gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: usage.output_tokens,
        gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: usage.input_tokens_details.cached_tokens,
        gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: usage.output_tokens_details.reasoning_tokens,
    }


def start_model_call(
    tracer: trace.Tracer,
    upstream: Upstream,
    request: pb.CreateResponseRequest,
    upstream_model: str,
    *,
    tenant_id: str = "",
    capture_content: bool = False,
) -> Span:
    """A started (not current) model-call span for one attempt; attributes only when it records (sampled)."""
    span = tracer.start_span(f"{OPERATION} {upstream_model}", kind=SpanKind.CLIENT)
    if not span.is_recording():
        return span
    attributes: dict[str, str | int | float] = {
        gen_ai.GEN_AI_OPERATION_NAME: OPERATION,
        gen_ai.GEN_AI_PROVIDER_NAME: upstream.provider_name,
        gen_ai.GEN_AI_REQUEST_MODEL: upstream_model,
        server_attributes.SERVER_ADDRESS: upstream.address,
    }
    if upstream.port is not None:
        attributes[server_attributes.SERVER_PORT] = upstream.port
    if upstream.api_type is not None:
        attributes[openai_attributes.OPENAI_API_TYPE] = upstream.api_type
    if request.HasField("max_output_tokens"):
        attributes[gen_ai.GEN_AI_REQUEST_MAX_TOKENS] = request.max_output_tokens
    if request.HasField("temperature"):
        attributes[gen_ai.GEN_AI_REQUEST_TEMPERATURE] = request.temperature
    if request.HasField("top_p"):
        attributes[gen_ai.GEN_AI_REQUEST_TOP_P] = request.top_p
    if tenant_id:
        attributes[TENANT] = tenant_id
    if capture_content:
        attributes[gen_ai.GEN_AI_INPUT_MESSAGES] = _input_messages(request)
    span.set_attributes(attributes)
    return span


def end_model_call(span: Span, response: pb.Response, *, capture_content: bool = False) -> None:
    """Record what the upstream answered and end the span."""
    if span.is_recording():
        attributes: dict[str, str | int | list[str]] = {
            gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: finish_reasons(response),
            **usage_attributes(response.usage),
        }
        if response.id:
            attributes[gen_ai.GEN_AI_RESPONSE_ID] = response.id
        if response.model:
            attributes[gen_ai.GEN_AI_RESPONSE_MODEL] = response.model
        if capture_content:
            attributes[gen_ai.GEN_AI_OUTPUT_MESSAGES] = _output_messages(response)
        span.set_attributes(attributes)
        if response.status == "failed":
            _set_error(span, response.error.code or "failed", response.error.message)
    span.end()


def fail_model_call(span: Span, exc: BaseException) -> None:
    """Record why the attempt failed and end the span."""
    if not span.is_recording():
        pass
    elif isinstance(exc, GatewayError):
        _set_error(span, type(exc).__name__, exc.message)
    else:
        _set_error(span, type(exc).__qualname__, "")
    span.end()


def _set_error(span: Span, error_type: str, description: str) -> None:
    span.set_attribute(error_attributes.ERROR_TYPE, error_type)
    span.set_status(Status(StatusCode.ERROR, description or None))


def _input_messages(request: pb.CreateResponseRequest) -> str:
    """The request's text as the convention's input messages (JSON), only when content capture is on."""
    messages: list[dict[str, object]] = []
    if request.HasField("instructions"):
        messages.append({"role": "system", "parts": [{"type": "text", "content": request.instructions}]})
    if request.WhichOneof("input") == "input_text":
        messages.append({"role": "user", "parts": [{"type": "text", "content": request.input_text}]})
    for item in request.input_items.items:
        if item.WhichOneof("item") == "message":
            message = item.message
            texts = [message.text] if message.WhichOneof("content") == "text" else [_part_text(p) for p in message.parts.parts]
            messages.append({"role": message.role, "parts": [{"type": "text", "content": t} for t in texts if t]})
    return orjson.dumps(messages).decode()


def _output_messages(response: pb.Response) -> str:
    parts: list[dict[str, object]] = []
    for item in response.output:
        kind = item.WhichOneof("item")
        if kind == "message":
            parts.extend({"type": "text", "content": _part_text(p)} for p in item.message.parts.parts)
        elif kind == "function_call":
            call = item.function_call
            parts.append({"type": "tool_call", "id": call.call_id, "name": call.name, "arguments": call.arguments})
        elif kind == "custom_tool_call":
            custom = item.custom_tool_call
            parts.append({"type": "tool_call", "id": custom.call_id, "name": custom.name, "arguments": custom.input})
    reason = finish_reasons(response)[0]
    return orjson.dumps([{"role": "assistant", "parts": parts, "finish_reason": reason}]).decode()


def _part_text(part: object) -> str:
    kind = part.WhichOneof("part")  # type: ignore[attr-defined]
    return getattr(getattr(part, kind), "text", "") if kind else ""
