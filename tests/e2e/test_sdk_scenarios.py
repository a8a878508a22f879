"""End-to-end scenarios: the official ``openai`` SDK (and raw HTTP) against the gateway.

Each test is a situation a user of the Responses API recognises. The gateway
runs with the fake OpenAI upstream behind it (see ``conftest.py``), once with
the bridge calling the service in-process and once over real gRPC.

Every response object and every stream event received is checked twice: it
must parse into the SDK's own types (the right classes), and its JSON must
validate against the Open Responses pydantic models (``openresponses_types``).
The package has no model for ``response.reasoning_text.*``; those events only
get a structural check.
"""

from __future__ import annotations

import asyncio
import json
import time
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import openai
import openresponses_types as ort
import pytest
from openai.types.responses import (
    Response,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseReasoningItem,
    ResponseStreamEvent,
)
from pydantic import BaseModel

from tests.e2e.conftest import Gateway

Json = dict[str, Any]

REASONING_MODEL = "gpt-5.4"
PLAIN_MODEL = "gpt-4.1-classic"  # public id; the upstream sees "gpt-4.1" (non-reasoning)
CONFIGURED_MODELS = {"gpt-5.4", "gpt-5.4-mini", "gpt-4.1-classic", "keyless-model"}

WEATHER_TOOL: Json = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
        "additionalProperties": False,
    },
}

# --------------------------------------------------------------------------- validation helpers

# Open Responses model for every event type the gateway may send.
ORT_EVENT_MODELS: dict[str, type[BaseModel]] = {
    "response.created": ort.ResponseCreatedStreamingEvent,
    "response.queued": ort.ResponseQueuedStreamingEvent,
    "response.in_progress": ort.ResponseInProgressStreamingEvent,
    "response.completed": ort.ResponseCompletedStreamingEvent,
    "response.incomplete": ort.ResponseIncompleteStreamingEvent,
    "response.failed": ort.ResponseFailedStreamingEvent,
    "response.output_item.added": ort.ResponseOutputItemAddedStreamingEvent,
    "response.output_item.done": ort.ResponseOutputItemDoneStreamingEvent,
    "response.content_part.added": ort.ResponseContentPartAddedStreamingEvent,
    "response.content_part.done": ort.ResponseContentPartDoneStreamingEvent,
    "response.output_text.delta": ort.ResponseOutputTextDeltaStreamingEvent,
    "response.output_text.done": ort.ResponseOutputTextDoneStreamingEvent,
    "response.output_text.annotation.added": ort.ResponseOutputTextAnnotationAddedStreamingEvent,
    "response.refusal.delta": ort.ResponseRefusalDeltaStreamingEvent,
    "response.refusal.done": ort.ResponseRefusalDoneStreamingEvent,
    "response.function_call_arguments.delta": ort.ResponseFunctionCallArgumentsDeltaStreamingEvent,
    "response.function_call_arguments.done": ort.ResponseFunctionCallArgumentsDoneStreamingEvent,
    "response.reasoning_summary_part.added": ort.ResponseReasoningSummaryPartAddedStreamingEvent,
    "response.reasoning_summary_part.done": ort.ResponseReasoningSummaryPartDoneStreamingEvent,
    "response.reasoning_summary_text.delta": ort.ResponseReasoningSummaryDeltaStreamingEvent,
    "response.reasoning_summary_text.done": ort.ResponseReasoningSummaryDoneStreamingEvent,
    "error": ort.ErrorStreamingEvent,
}
# No Open Responses model exists for these: structural check only.
UNMODELLED_EVENTS = {
    "response.reasoning_text.delta": {"item_id", "output_index", "content_index", "delta"},
    "response.reasoning_text.done": {"item_id", "output_index", "content_index", "text"},
}


def _sdk_event_classes() -> dict[str, type[BaseModel]]:
    """event type -> the SDK's class for it, read from the SDK's own union."""
    union = typing.get_args(ResponseStreamEvent)[0]  # Annotated[Union[...], discriminator]
    classes: dict[str, type[BaseModel]] = {}
    for cls in typing.get_args(union):
        (literal,) = typing.get_args(cls.model_fields["type"].annotation)
        classes[literal] = cls
    return classes


SDK_EVENT_CLASSES = _sdk_event_classes()
SDK_ITEM_CLASSES: dict[str, type[BaseModel]] = {
    "message": ResponseOutputMessage,
    "reasoning": ResponseReasoningItem,
    "function_call": ResponseFunctionToolCall,
}


def check_output_items(output: list[Json]) -> None:
    """Gateway promise: every output item has id, type and status."""
    for item in output:
        assert item.get("id"), item
        assert item.get("type"), item
        assert item.get("status") in {"in_progress", "completed", "incomplete"}, item


def check_usage(usage: Json | None) -> None:
    assert usage is not None
    assert isinstance(usage.get("input_tokens_details"), dict), usage
    assert isinstance(usage.get("output_tokens_details"), dict), usage
    assert "cached_tokens" in usage["input_tokens_details"], usage
    assert "reasoning_tokens" in usage["output_tokens_details"], usage
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"], usage


def validate_response_json(body: Json) -> ort.ResponseResource:
    """A response object as JSON: Open Responses model + gateway promises."""
    resource = ort.ResponseResource.model_validate(body)
    assert body["object"] == "response"
    assert body["id"].startswith("resp_"), body["id"]
    check_output_items(body["output"])
    if body["status"] in {"completed", "incomplete", "failed"}:
        check_usage(body["usage"])
    return resource


def validate_sdk_response(response: Response) -> Json:
    """An SDK-parsed response: right classes, and its wire JSON validates too."""
    assert isinstance(response, Response), type(response)
    for item in response.output:
        expected = SDK_ITEM_CLASSES.get(item.type)
        if expected is not None:
            assert isinstance(item, expected), (item.type, type(item))
    body = response.model_dump(mode="json", exclude_unset=True, warnings=False)
    validate_response_json(body)
    return body


def validate_raw_event(data: Json) -> None:
    """One event's JSON as sent on the wire."""
    kind = data["type"]
    assert isinstance(data.get("sequence_number"), int), data
    if kind in UNMODELLED_EVENTS:
        assert UNMODELLED_EVENTS[kind] <= data.keys(), data
    else:
        model = ORT_EVENT_MODELS.get(kind)
        assert model is not None, f"unexpected event type {kind!r}"
        model.model_validate(data)
    if "response" in data:
        validate_response_json(data["response"])
    if kind.startswith("response.output_item."):
        check_output_items([data["item"]])
    if kind == "error":  # both shapes: flat fields and the nested object
        assert {"code", "message", "param"} <= data.keys(), data
        assert data["error"]["message"] == data["message"], data
        assert data["error"]["code"] == data["code"], data


def validate_sdk_event(event: Any) -> Json:
    """An SDK-parsed event: the SDK class for its type, and its JSON validates."""
    expected = SDK_EVENT_CLASSES.get(event.type)
    assert expected is not None, f"SDK has no class for {event.type!r}"
    assert isinstance(event, expected), (event.type, type(event))
    if event.type in {"response.output_item.added", "response.output_item.done"}:
        item_class = SDK_ITEM_CLASSES.get(event.item.type)
        if item_class is not None:
            assert isinstance(event.item, item_class), type(event.item)
    data = event.model_dump(mode="json", exclude_unset=True, warnings=False)
    data.pop("snapshot", None)  # added by the responses.stream() helper, not on the wire
    validate_raw_event(data)
    return data


async def create_validated(client: openai.AsyncOpenAI, **params: Any) -> tuple[Response, Json]:
    """responses.create (non-stream): the parsed Response and its raw JSON, both validated."""
    raw = await client.responses.with_raw_response.create(**params)
    response = raw.parse()
    body = raw.http_response.json()
    validate_response_json(body)
    validate_sdk_response(response)
    return response, body


async def collect_sdk_stream(client: openai.AsyncOpenAI, **params: Any) -> list[Any]:
    """create(stream=True) through the SDK; every event validated."""
    stream = await client.responses.create(stream=True, **params)
    events = []
    async with stream:
        async for event in stream:
            validate_sdk_event(event)
            events.append(event)
    return events


# --------------------------------------------------------------------------- raw HTTP / SSE helpers


@dataclass
class SseStream:
    status: int
    content_type: str
    frames: list[tuple[str | None, str]]  # (event: line or None, data: text)

    @property
    def events(self) -> list[Json]:
        """Every frame's JSON except the final [DONE], each checked and validated."""
        assert self.frames, "empty stream"
        assert self.frames[-1] == (None, "[DONE]"), f"last frame is {self.frames[-1]!r}, not data: [DONE]"
        events = []
        for name, data in self.frames[:-1]:
            assert data != "[DONE]", "[DONE] before the end of the stream"
            payload = json.loads(data)
            assert name == payload["type"], f"event: {name!r} but data.type {payload['type']!r}"
            validate_raw_event(payload)
            events.append(payload)
        sequence = [e["sequence_number"] for e in events]
        assert sequence == list(range(len(events))), sequence
        return events


def parse_sse(text: str) -> list[tuple[str | None, str]]:
    frames = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name: str | None = None
        data_lines = []
        for line in block.split("\n"):
            if line.startswith(":"):
                continue  # comment
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data_lines.append(value)
            else:
                raise AssertionError(f"unexpected SSE line {line!r}")
        if data_lines:
            frames.append((name, "\n".join(data_lines)))
    return frames


def http_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        headers={"Authorization": "Bearer sk-anything"}, timeout=aiohttp.ClientTimeout(total=30)
    )


async def raw_sse(gateway: Gateway, body: Json) -> SseStream:
    """POST /v1/responses with stream:true and read the whole SSE body."""
    async with http_session() as session:
        async with session.post(f"{gateway.http_url}/v1/responses", json={**body, "stream": True}) as resp:
            text = await resp.text()
            stream = SseStream(resp.status, resp.headers.get("Content-Type", ""), parse_sse(text))
    assert stream.status == 200, text
    assert stream.content_type.startswith("text/event-stream"), stream.content_type
    return stream


async def raw_post(gateway: Gateway, body: Json) -> tuple[int, Json]:
    """POST /v1/responses (JSON mode): status and parsed body."""
    async with http_session() as session:
        async with session.post(f"{gateway.http_url}/v1/responses", json=body) as resp:
            return resp.status, await resp.json()


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def expect_error(call: Awaitable[Any], error_class: type[openai.APIStatusError]) -> openai.APIStatusError:
    with pytest.raises(error_class) as info:
        await call
    assert type(info.value) is error_class, type(info.value)
    return info.value


def types_of(events: list[Any]) -> list[str]:
    return [e["type"] if isinstance(e, dict) else e.type for e in events]


def messages_of(items: list[Json]) -> list[tuple[str, str]]:
    """(role, text) of the message items of an upstream input, in order."""
    result = []
    for item in items:
        if item.get("type", "message") != "message":
            continue
        content = item["content"]
        text = content if isinstance(content, str) else " ".join(p["text"] for p in content if "text" in p)
        result.append((item["role"], text))
    return result


def last_upstream_body(gateway: Gateway) -> Json:
    bodies = gateway.upstream_bodies()
    assert bodies, "nothing was sent upstream"
    return bodies[-1]


# --------------------------------------------------------------------------- 1-2: plain create


async def test_create_with_string_input(client: openai.AsyncOpenAI) -> None:
    """A one-line question gets a completed answer with the reasoning item first."""
    response, body = await create_validated(client, model=REASONING_MODEL, input="hello")

    assert response.output_text == "You said: hello (turn 1)"
    assert response.status == "completed"
    assert response.id.startswith("resp_")
    assert response.model == REASONING_MODEL
    assert response.usage is not None
    assert response.usage.input_tokens_details is not None
    assert response.usage.output_tokens_details is not None
    assert response.usage.output_tokens == 5
    assert [item.type for item in response.output] == ["reasoning", "message"]
    reasoning, message = body["output"]
    assert reasoning["status"] == "completed"
    assert reasoning["id"].startswith("rs_")
    assert message["status"] == "completed" and message["role"] == "assistant"


async def test_create_with_message_array_input(client: openai.AsyncOpenAI, gateway: Gateway) -> None:
    """A hand-built conversation (short and full message forms) is sent upstream whole."""
    conversation = [
        {"role": "user", "content": "first question"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "first answer"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "second question"}]},
    ]
    response, _ = await create_validated(client, model=REASONING_MODEL, input=conversation)

    assert response.output_text == "You said: second question (turn 2)"
    upstream = last_upstream_body(gateway)
    assert messages_of(upstream["input"]) == [
        ("user", "first question"),
        ("assistant", "first answer"),
        ("user", "second question"),
    ]


# --------------------------------------------------------------------------- 3-5: streaming


async def test_stream_event_order_and_identity(client: openai.AsyncOpenAI) -> None:
    """create(stream=True) emits the documented event order with stable ids."""
    events = await collect_sdk_stream(client, model=REASONING_MODEL, input="hello")

    assert [e.sequence_number for e in events] == list(range(len(events)))
    kinds = types_of(events)
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) == 5
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * len(deltas),
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    lifecycle = [e for e in events if e.type in {"response.created", "response.in_progress", "response.completed"}]
    response_id = events[0].response.id
    assert response_id.startswith("resp_")
    assert all(e.response.id == response_id for e in lifecycle)

    rs_added, rs_done, msg_added = events[2], events[3], events[4]
    assert rs_added.item.type == rs_done.item.type == "reasoning"
    assert rs_added.item.id == rs_done.item.id
    assert rs_added.output_index == rs_done.output_index == 0
    assert msg_added.item.type == "message" and msg_added.output_index == 1
    message_id = msg_added.item.id
    assert all(e.item_id == message_id for e in events[5:-2])  # content_part / output_text events
    assert events[-2].item.id == message_id
    assert "".join(d.delta for d in deltas) == "You said: hello (turn 1)"

    final = events[-1].response
    validate_sdk_response(final)
    assert final.status == "completed"
    assert [item.id for item in final.output] == [rs_added.item.id, message_id]
    assert final.output_text == "You said: hello (turn 1)"
    assert final.usage is not None and final.usage.output_tokens == 5


async def test_raw_sse_framing(gateway: Gateway) -> None:
    """On the wire each frame's event: equals its data type, and the stream ends with [DONE]."""
    stream = await raw_sse(gateway, {"model": REASONING_MODEL, "input": "hello"})

    events = stream.events  # checks event:==type, [DONE] last, sequence, validates every event
    assert events[0]["type"] == "response.created"
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["status"] == "completed"
    assert sum(1 for _, data in stream.frames if data == "[DONE]") == 1


@pytest.mark.parametrize("model", [REASONING_MODEL, PLAIN_MODEL])
async def test_stream_helper_final_response(client: openai.AsyncOpenAI, gateway: Gateway, model: str) -> None:
    """responses.stream() + get_final_response() work for reasoning and plain models."""
    async with client.responses.stream(model=model, input="hello") as stream:
        async for event in stream:
            validate_sdk_event(event)
        final = await stream.get_final_response()

    validate_sdk_response(final)
    assert final.output_text == "You said: hello (turn 1)"
    assert final.model == model
    expected_items = ["reasoning", "message"] if model == REASONING_MODEL else ["message"]
    assert [item.type for item in final.output] == expected_items
    if model == PLAIN_MODEL:
        assert last_upstream_body(gateway)["model"] == "gpt-4.1"


# --------------------------------------------------------------------------- 6-8: stored conversations


async def test_three_turn_conversation_with_previous_response_id(client: openai.AsyncOpenAI, gateway: Gateway) -> None:
    """A chained conversation: the gateway rebuilds the history itself, instructions are per turn."""
    first, _ = await create_validated(client, model=REASONING_MODEL, input="one", instructions="Be brief")
    assert first.output_text == "[Be brief] You said: one (turn 1)"
    second, _ = await create_validated(client, model=REASONING_MODEL, input="two", previous_response_id=first.id)
    assert second.output_text == "You said: two (turn 2)"
    assert second.instructions is None
    third, _ = await create_validated(client, model=REASONING_MODEL, input="three", previous_response_id=second.id)
    assert third.output_text == "You said: three (turn 3)"
    assert third.previous_response_id == second.id

    upstream = last_upstream_body(gateway)
    assert upstream.get("previous_response_id") is None
    assert upstream["store"] is False
    assert upstream.get("instructions") is None
    assert messages_of(upstream["input"]) == [
        ("user", "one"),
        ("assistant", "[Be brief] You said: one (turn 1)"),
        ("user", "two"),
        ("assistant", "You said: two (turn 2)"),
        ("user", "three"),
    ]
    assert all(body.get("previous_response_id") is None for body in gateway.upstream_bodies())


async def test_retrieve_then_delete(client: openai.AsyncOpenAI) -> None:
    """A stored response reads back identical; once deleted it is gone (404), twice."""
    created, _ = await create_validated(client, model=REASONING_MODEL, input="keep me")

    retrieved = await client.responses.retrieve(created.id)
    validate_sdk_response(retrieved)
    assert retrieved.model_dump() == created.model_dump()

    await client.responses.delete(created.id)
    err = await expect_error(client.responses.retrieve(created.id), openai.NotFoundError)
    assert err.status_code == 404
    err = await expect_error(client.responses.delete(created.id), openai.NotFoundError)
    assert err.status_code == 404


async def test_unstored_response_cannot_be_retrieved_or_chained(client: openai.AsyncOpenAI, gateway: Gateway) -> None:
    """store=False: not retrievable (404) and not usable as previous_response_id (400)."""
    response, _ = await create_validated(client, model=REASONING_MODEL, input="forget me", store=False)
    assert response.store is False

    await expect_error(client.responses.retrieve(response.id), openai.NotFoundError)
    err = await expect_error(
        client.responses.create(model=REASONING_MODEL, input="again", previous_response_id=response.id),
        openai.BadRequestError,
    )
    assert err.code == "previous_response_not_found"
    assert err.param == "previous_response_id"
    assert len(gateway.upstream_bodies()) == 1  # the failing turn never reached the upstream


# --------------------------------------------------------------------------- 9-11: faults


UPSTREAM_HTTP_FAULTS = [
    ("[[http:429]]", openai.RateLimitError, 429, "rate_limit_exceeded"),
    ("[[http:400]]", openai.BadRequestError, 400, "context_length_exceeded"),
    ("[[http:500]]", openai.InternalServerError, 500, None),
]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(("trigger", "error_class", "status", "code"), UPSTREAM_HTTP_FAULTS)
async def test_upstream_http_faults_become_openai_errors(
    client: openai.AsyncOpenAI,
    trigger: str,
    error_class: type[openai.APIStatusError],
    status: int,
    code: str | None,
    stream: bool,
) -> None:
    """Upstream HTTP errors reach the SDK as the matching OpenAI error, without upstream secrets."""
    params: Json = {"model": REASONING_MODEL, "input": f"hello {trigger}"}
    if stream:
        params["stream"] = True
    err = await expect_error(client.responses.create(**params), error_class)

    assert err.status_code == status
    if code is not None:
        assert err.code == code
    text = f"{err.message} {json.dumps(err.body)}"
    for secret in ("sk-upstream-secret", "org-fake", "organization"):
        assert secret not in text, f"{secret!r} leaked: {text}"


async def test_mid_stream_error_event(client: openai.AsyncOpenAI, gateway: Gateway) -> None:
    """An in-stream error raises APIError in the SDK; on the wire: error, response.failed, [DONE]."""
    stream = await client.responses.create(model=REASONING_MODEL, input="hello [[stream:error]]", stream=True)
    seen = []
    with pytest.raises(openai.APIError) as info:
        async with stream:
            async for event in stream:
                validate_sdk_event(event)
                seen.append(event.type)
    assert not isinstance(info.value, openai.APIStatusError)
    assert seen[:1] == ["response.created"]

    events = (await raw_sse(gateway, {"model": REASONING_MODEL, "input": "hello [[stream:error]]"})).events
    assert types_of(events)[-2:] == ["error", "response.failed"]
    error, failed = events[-2], events[-1]
    assert error["code"] == error["error"]["code"] == "context_length_exceeded"
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"] is not None
    assert failed["response"]["id"] == events[0]["response"]["id"]
    check_usage(failed["response"]["usage"])

    retrieved = await client.responses.retrieve(failed["response"]["id"])
    validate_sdk_response(retrieved)
    assert retrieved.status == "failed"


async def test_upstream_connection_drop_mid_stream(client: openai.AsyncOpenAI, gateway: Gateway) -> None:
    """The upstream cuts the connection mid-answer: the client still gets error, response.failed, [DONE]."""
    events = (await raw_sse(gateway, {"model": REASONING_MODEL, "input": "hello [[stream:drop]]"})).events

    assert types_of(events)[:2] == ["response.created", "response.in_progress"]
    assert "response.output_text.delta" in types_of(events)
    assert types_of(events)[-2:] == ["error", "response.failed"]
    failed = events[-1]["response"]
    assert failed["status"] == "failed"
    assert failed["id"] == events[0]["response"]["id"]
    check_usage(failed["usage"])

    retrieved = await client.responses.retrieve(failed["id"])
    validate_sdk_response(retrieved)
    assert retrieved.status == "failed"


async def test_upstream_response_failed_mid_stream(client: openai.AsyncOpenAI, gateway: Gateway) -> None:
    """The model fails mid-answer: response.failed carries the partial output; retrieve shows failed."""
    events = (await raw_sse(gateway, {"model": REASONING_MODEL, "input": "hello [[stream:failed]]"})).events

    assert types_of(events)[-1] == "response.failed"
    assert "error" not in types_of(events)
    failed = events[-1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"] is not None
    streamed = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert streamed == "You said:"
    assert [item["type"] for item in failed["output"]] == ["reasoning", "message"]
    partial = failed["output"][1]
    assert partial["content"][0]["text"] == streamed
    assert partial["status"] == "incomplete"

    retrieved = await client.responses.retrieve(failed["id"])
    validate_sdk_response(retrieved)
    assert retrieved.status == "failed"
    assert retrieved.output[1].content[0].text == streamed  # type: ignore[union-attr]


async def test_client_disconnect_cancels_upstream(gateway: Gateway) -> None:
    """A client that hangs up mid-stream stops the upstream generation too."""
    async with http_session() as session:
        body = {"model": REASONING_MODEL, "input": "hello [[slow]] take your time", "stream": True}
        async with session.post(f"{gateway.http_url}/v1/responses", json=body) as resp:
            assert resp.status == 200
            frames = 0
            async for line in resp.content:
                if line.startswith(b"data: "):
                    validate_raw_event(json.loads(line[6:]))
                    frames += 1
                    if frames == 3:
                        break
            resp.close()  # drop the connection rather than reading to the end
    assert gateway.upstream.cancelled_streams == 0  # the upstream was still generating
    await wait_until(lambda: gateway.upstream.cancelled_streams == 1, 5.0, "the upstream stream to be cancelled")


# --------------------------------------------------------------------------- 12-15: features


async def test_function_tool_round_trip(client: openai.AsyncOpenAI, gateway: Gateway) -> None:
    """The model calls a function; the tool result is sent back on the next turn."""
    first, _ = await create_validated(client, model=REASONING_MODEL, input="weather in Paris", tools=[WEATHER_TOOL])
    assert [item.type for item in first.output] == ["reasoning", "function_call"]
    call = first.output[1]
    assert isinstance(call, ResponseFunctionToolCall)
    assert call.name == "get_weather"
    assert call.call_id.startswith("call_")
    assert json.loads(call.arguments) == {"text": "weather in Paris"}
    assert call.status == "completed"

    second, _ = await create_validated(
        client,
        model=REASONING_MODEL,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"}],
        tools=[WEATHER_TOOL],
    )
    assert second.output_text == "Tool said: sunny, 21C"
    upstream_items = last_upstream_body(gateway)["input"]
    calls = [i for i in upstream_items if i.get("type") == "function_call"]
    outputs = [i for i in upstream_items if i.get("type") == "function_call_output"]
    assert [c["call_id"] for c in calls] == [call.call_id]
    assert [o["call_id"] for o in outputs] == [call.call_id]
    assert upstream_items[-1]["type"] == "function_call_output"


async def test_function_tool_streamed(client: openai.AsyncOpenAI) -> None:
    """Streamed tool call: argument deltas and done target the function_call item."""
    events = await collect_sdk_stream(client, model=REASONING_MODEL, input="weather in Paris", tools=[WEATHER_TOOL])

    added = [e for e in events if e.type == "response.output_item.added" and e.item.type == "function_call"]
    assert len(added) == 1
    item = added[0].item
    deltas = [e for e in events if e.type == "response.function_call_arguments.delta"]
    dones = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert deltas and len(dones) == 1
    for event in [*deltas, *dones]:
        assert event.item_id == item.id
        assert event.output_index == added[0].output_index
    arguments = "".join(d.delta for d in deltas)
    assert dones[0].arguments == arguments
    assert json.loads(arguments) == {"text": "weather in Paris"}
    kinds = types_of(events)
    assert kinds.index("response.function_call_arguments.done") < len(kinds) - 2
    assert kinds[-2:] == ["response.output_item.done", "response.completed"]
    final_call = events[-1].response.output[-1]
    assert final_call.type == "function_call" and final_call.arguments == arguments
    assert final_call.call_id == item.call_id


async def test_encrypted_reasoning_only_when_included(client: openai.AsyncOpenAI, gateway: Gateway) -> None:
    """include=["reasoning.encrypted_content"] returns it; otherwise the client never sees it."""
    _, with_body = await create_validated(
        client, model=REASONING_MODEL, input="hello", include=["reasoning.encrypted_content"]
    )
    reasoning = with_body["output"][0]
    assert reasoning["type"] == "reasoning"
    assert isinstance(reasoning.get("encrypted_content"), str) and reasoning["encrypted_content"]

    _, without_body = await create_validated(client, model=REASONING_MODEL, input="hello")
    assert "encrypted_content" not in without_body["output"][0]
    assert "reasoning.encrypted_content" in (last_upstream_body(gateway).get("include") or [])

    stream = await raw_sse(gateway, {"model": REASONING_MODEL, "input": "hello"})
    assert stream.events[-1]["type"] == "response.completed"  # validates every frame too
    assert not any("encrypted_content" in data for _, data in stream.frames)


async def test_reasoning_summary_streamed(client: openai.AsyncOpenAI) -> None:
    """reasoning={"summary": "auto"}: summary part/text events come in the documented order."""
    events = await collect_sdk_stream(client, model=REASONING_MODEL, input="hello", reasoning={"summary": "auto"})

    kinds = types_of(events)
    start = kinds.index("response.output_item.added")
    end = kinds.index("response.output_item.done")
    inner = kinds[start + 1 : end]
    n = inner.count("response.reasoning_summary_text.delta")
    assert n >= 1
    assert inner == [
        "response.reasoning_summary_part.added",
        *["response.reasoning_summary_text.delta"] * n,
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
    ]
    rs_id = events[start].item.id
    summary_events = events[start + 1 : end]
    assert all(e.item_id == rs_id and e.summary_index == 0 for e in summary_events)
    text = "".join(e.delta for e in summary_events if e.type == "response.reasoning_summary_text.delta")
    assert text == "Thinking about: hello"
    assert events[end].item.summary[0].text == text
    final = events[-1].response
    assert final.output[0].summary[0].text == text  # type: ignore[union-attr]
    assert final.output_text == "You said: hello (turn 1)"


LONG_INPUT = " ".join(f"word{i}" for i in range(30))


async def test_max_output_tokens_makes_response_incomplete(client: openai.AsyncOpenAI) -> None:
    """A reply longer than max_output_tokens stops early with status incomplete."""
    response, body = await create_validated(client, model=REASONING_MODEL, input=LONG_INPUT, max_output_tokens=16)

    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    message = body["output"][-1]
    assert message["type"] == "message"
    assert message["status"] == "incomplete"
    assert response.usage is not None and response.usage.output_tokens == 16


async def test_max_output_tokens_streamed(client: openai.AsyncOpenAI, gateway: Gateway) -> None:
    """Streamed: the terminal event is response.incomplete."""
    events = await collect_sdk_stream(client, model=REASONING_MODEL, input=LONG_INPUT, max_output_tokens=16)
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.status == "incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"
    assert "response.completed" not in types_of(events)

    raw = (await raw_sse(gateway, {"model": REASONING_MODEL, "input": LONG_INPUT, "max_output_tokens": 16})).events
    assert raw[-1]["type"] == "response.incomplete"
    assert raw[-1]["response"]["output"][-1]["status"] == "incomplete"


# --------------------------------------------------------------------------- 16-17: models


async def test_model_errors(client: openai.AsyncOpenAI, gateway: Gateway) -> None:
    """A model without a provider key is a 503 not to retry; an unknown model is a 400."""
    err = await expect_error(client.responses.create(model="keyless-model", input="hello"), openai.InternalServerError)
    assert err.status_code == 503
    assert err.code == "provider_not_configured"
    assert err.response.headers.get("x-should-retry") == "false"

    err = await expect_error(client.responses.create(model="no-such-model", input="hello"), openai.BadRequestError)
    assert err.code == "model_not_found"
    assert err.param == "model"
    assert gateway.upstream_bodies() == []


async def test_list_and_retrieve_models(client: openai.AsyncOpenAI) -> None:
    """GET /v1/models lists the configured models; one can be fetched by id."""
    models = [model async for model in client.models.list()]
    assert {m.id for m in models} == CONFIGURED_MODELS
    assert all(m.object == "model" for m in models)

    model = await client.models.retrieve(REASONING_MODEL)
    assert model.id == REASONING_MODEL
    assert model.object == "model"
    assert model.owned_by == "openai"
