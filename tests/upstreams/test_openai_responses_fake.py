"""Fidelity tests: the official ``openai`` SDK talks straight to the fake.

If the SDK (3.57, whose stream helper is strict, see responses-api.md §6) and
the Open Responses pydantic models accept what the fake sends, the fake is a
trustworthy stand-in for OpenAI as an upstream.

Open Responses vs. OpenAI: every field the fake sends validates against
``openresponses_types.ResponseResource`` as is. Open Responses wants more keys
present (``completed_at``, ``safety_identifier``, ``prompt_cache_key`` may be
null but must exist; ``service_tier``, ``store``, ``background``,
``top_logprobs``, ``presence_penalty``, ``frequency_penalty`` must be
non-null), and the fake sends them all, as real captures do. Where the two
disagree the fake follows the live OpenAI API and the tests say so: no
``[DONE]`` sentinel and no ``response.failed`` after a stream ``error`` event.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import openresponses_types as ort
import pytest
from pydantic import BaseModel

from .openai_responses import FakeOpenAIResponses  # relative: works with or without tests/__init__.py

MODEL = "gpt-5.4"  # reasoning model: emits an empty reasoning item first
PLAIN_MODEL = "gpt-4.1"  # non-reasoning model: message only

EVENT_MODELS: dict[str, type[BaseModel]] = {
    "response.created": ort.ResponseCreatedStreamingEvent,
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
    "response.function_call_arguments.delta": ort.ResponseFunctionCallArgumentsDeltaStreamingEvent,
    "response.function_call_arguments.done": ort.ResponseFunctionCallArgumentsDoneStreamingEvent,
    "response.reasoning_summary_part.added": ort.ResponseReasoningSummaryPartAddedStreamingEvent,
    "response.reasoning_summary_part.done": ort.ResponseReasoningSummaryPartDoneStreamingEvent,
    "response.reasoning_summary_text.delta": ort.ResponseReasoningSummaryDeltaStreamingEvent,
    "response.reasoning_summary_text.done": ort.ResponseReasoningSummaryDoneStreamingEvent,
    "error": ort.ErrorStreamingEvent,
}

WEATHER_TOOL: dict[str, Any] = {
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
TIME_TOOL: dict[str, Any] = {**WEATHER_TOOL, "name": "get_time", "description": "Local time"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIResponses]:
    server = FakeOpenAIResponses()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def client(fake: FakeOpenAIResponses) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-test-fake", max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer sk-test-fake"}) as session:
        yield session


def _event_dicts(events: list[Any]) -> list[dict[str, Any]]:
    return [event.model_dump(mode="json", exclude_unset=True) for event in events]


def _validate_event(data: dict[str, Any]) -> None:
    model = EVENT_MODELS.get(data["type"])
    assert model is not None, f"no Open Responses model checked for {data['type']}"
    model.model_validate(data)


async def _raw_sse(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    async with http.post(f"{url}/responses", json={**body, "stream": True}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        text = await resp.text()
    assert "[DONE]" not in text  # OpenAI sends no sentinel (§5.1)
    frames = []
    for block in text.split("\n\n"):
        if not block:
            continue
        event_line, data_line = block.split("\n")
        assert event_line.startswith("event: ") and data_line.startswith("data: ")
        frames.append((event_line.removeprefix("event: "), json.loads(data_line.removeprefix("data: "))))
    assert text.endswith("\n\n")
    return frames


# --------------------------------------------------------------------------- JSON mode


async def test_create_plain_text_validates_against_open_responses(client: openai.AsyncOpenAI) -> None:
    raw = await client.responses.with_raw_response.create(model=MODEL, input="hello")
    response = raw.parse()
    assert response.output_text == "You said: hello (turn 1)"
    assert response.status == "completed"
    assert response.usage is not None
    assert response.usage.output_tokens == 5  # "You", " said:", " hello", " (turn", " 1)"
    assert response.usage.input_tokens == 1 + 3  # one word + 3 per input item
    assert response.usage.total_tokens == 9
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0

    body = raw.http_response.json()
    ort.ResponseResource.model_validate(body)
    assert re.fullmatch(r"resp_[0-9a-f]{48}", body["id"])
    assert body["model"] == MODEL
    assert body["service_tier"] == "default"
    assert isinstance(body["completed_at"], int)
    assert body["reasoning"] == {"effort": "medium", "summary": None}
    assert body["text"] == {"format": {"type": "text"}, "verbosity": "medium"}
    assert (body["truncation"], body["tool_choice"], body["store"], body["metadata"]) == ("disabled", "auto", True, {})
    reasoning, message = body["output"]
    assert reasoning.keys() == {"id", "type", "summary"}  # no status key, as in real captures
    assert re.fullmatch(r"rs_[0-9a-f]{48}", reasoning["id"])
    assert message["status"] == "completed" and message["role"] == "assistant"
    assert message["content"] == [
        {"type": "output_text", "text": "You said: hello (turn 1)", "annotations": [], "logprobs": []}
    ]

    headers = raw.http_response.headers
    assert re.fullmatch(r"req_[0-9a-f]{32}", headers["x-request-id"])
    assert headers["openai-version"] == "2020-10-01"
    assert headers["openai-organization"] == "org-fake"
    assert int(headers["openai-processing-ms"]) >= 0
    for kind in ("limit", "remaining", "reset"):
        assert headers[f"x-ratelimit-{kind}-requests"] and headers[f"x-ratelimit-{kind}-tokens"]


async def test_non_reasoning_model_has_no_reasoning_item(client: openai.AsyncOpenAI) -> None:
    response = await client.responses.create(model=PLAIN_MODEL, input="hi")
    assert [item.type for item in response.output] == ["message"]
    assert response.reasoning is not None and response.reasoning.effort is None
    assert response.service_tier == "default"


async def test_reasoning_effort_none_skips_reasoning_item(client: openai.AsyncOpenAI) -> None:
    response = await client.responses.create(model=MODEL, input="hi", reasoning={"effort": "none"})
    assert [item.type for item in response.output] == ["message"]


async def test_history_turns_instructions_and_echoes(client: openai.AsyncOpenAI) -> None:
    response = await client.responses.create(
        model=MODEL,
        instructions="Be brief",
        input=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "You said: first (turn 1)"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "second"}]},
            {"role": "assistant", "content": "You said: second (turn 2)"},
            {"role": "user", "content": [{"type": "input_text", "text": "third"}]},
        ],
        temperature=0.5,
        metadata={"k": "v"},
        store=False,
    )
    assert response.output_text == "[Be brief] You said: third (turn 3)"
    assert (response.instructions, response.temperature, response.metadata, response.store) == (
        "Be brief",
        0.5,
        {"k": "v"},
        False,
    )


async def test_function_call_output_reply(client: openai.AsyncOpenAI) -> None:
    response = await client.responses.create(
        model=PLAIN_MODEL,
        tools=[WEATHER_TOOL],
        input=[
            {"role": "user", "content": "weather?"},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        ],
    )
    assert response.output_text == "Tool said: sunny"


async def test_function_call_json(client: openai.AsyncOpenAI) -> None:
    raw = await client.responses.with_raw_response.create(model=MODEL, input="Paris", tools=[WEATHER_TOOL])
    body = raw.http_response.json()
    ort.ResponseResource.model_validate(body)
    assert body["tools"] == [{**WEATHER_TOOL, "strict": True}]  # strict filled with its default
    reasoning, call = body["output"]
    assert reasoning["type"] == "reasoning"
    assert call["type"] == "function_call" and call["status"] == "completed"
    assert call["name"] == "get_weather"
    assert call["arguments"] == json.dumps({"text": "Paris"})
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call["call_id"])
    assert re.fullmatch(r"fc_[0-9a-f]{48}", call["id"])
    assert raw.parse().output_text == ""


async def test_tool_choice_none_answers_with_text(client: openai.AsyncOpenAI) -> None:
    response = await client.responses.create(model=MODEL, input="hi", tools=[WEATHER_TOOL], tool_choice="none")
    assert response.output_text == "You said: hi (turn 1)"


async def test_parallel_function_calls(client: openai.AsyncOpenAI) -> None:
    response = await client.responses.create(model=PLAIN_MODEL, input="do both", tools=[WEATHER_TOOL, TIME_TOOL])
    assert [(item.type, getattr(item, "name", None)) for item in response.output] == [
        ("function_call", "get_weather"),
        ("function_call", "get_time"),
    ]
    serial = await client.responses.create(
        model=PLAIN_MODEL, input="do both", tools=[WEATHER_TOOL, TIME_TOOL], parallel_tool_calls=False
    )
    assert [getattr(item, "name", None) for item in serial.output] == ["get_weather"]


async def test_encrypted_reasoning_content(client: openai.AsyncOpenAI) -> None:
    response = await client.responses.create(model=MODEL, input="hi", include=["reasoning.encrypted_content"])
    reasoning = response.output[0]
    assert reasoning.type == "reasoning" and reasoning.encrypted_content


async def test_max_output_tokens_incomplete_json(client: openai.AsyncOpenAI) -> None:
    long_input = " ".join(f"w{i}" for i in range(40))
    raw = await client.responses.with_raw_response.create(model=PLAIN_MODEL, input=long_input, max_output_tokens=16)
    body = raw.http_response.json()
    ort.ResponseResource.model_validate(body)
    response = raw.parse()
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].status == "incomplete"
    assert response.usage is not None and response.usage.output_tokens == 16
    assert response.output_text == "You said: " + " ".join(f"w{i}" for i in range(14))
    assert response.completed_at is None


async def test_max_output_tokens_spent_on_reasoning(client: openai.AsyncOpenAI) -> None:
    long_input = " ".join(f"w{i}" for i in range(40))
    response = await client.responses.create(
        model=MODEL, input=long_input, max_output_tokens=16, reasoning={"summary": "auto"}
    )
    # Cut off while thinking: only the reasoning item, then incomplete (§5.3).
    assert response.status == "incomplete"
    assert [item.type for item in response.output] == ["reasoning"]
    assert response.usage is not None and response.usage.output_tokens_details.reasoning_tokens == 16


# --------------------------------------------------------------------------- validation errors


@pytest.mark.parametrize(
    ("kwargs", "param", "code"),
    [
        ({"model": "claude-9"}, "model", "model_not_found"),
        ({"model": MODEL, "max_output_tokens": 15}, "max_output_tokens", "integer_below_min_value"),
        ({"model": MODEL, "temperature": 2.5}, "temperature", "decimal_above_max_value"),
        ({"model": MODEL, "temperature": -1}, "temperature", "decimal_below_min_value"),
        ({"model": MODEL, "previous_response_id": "resp_nope"}, "previous_response_id", "previous_response_not_found"),
    ],
)
async def test_bad_request(client: openai.AsyncOpenAI, kwargs: dict[str, Any], param: str, code: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(input="hi", **kwargs)
    assert (caught.value.param, caught.value.code, caught.value.type) == (param, code, "invalid_request_error")
    assert caught.value.request_id is not None and caught.value.request_id.startswith("req_")


async def test_exact_error_messages(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model=MODEL, input="hi", max_output_tokens=1)
    assert caught.value.body == {
        "message": "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 1 instead.",
        "type": "invalid_request_error",
        "param": "max_output_tokens",
        "code": "integer_below_min_value",
    }
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model="o9", input="hi")
    # SDK 3.57 builds the message from the inner error message (§7.2).
    assert caught.value.message == "Error code: 400 - The requested model 'o9' does not exist."


async def test_missing_model(fake: FakeOpenAIResponses, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{fake.base_url}/responses", json={"input": "hi"}) as resp:
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert (error["param"], error["code"]) == ("model", "missing_required_parameter")
    assert "x-ratelimit-limit-requests" not in resp.headers  # only on successful responses


async def test_authentication_error(fake: FakeOpenAIResponses) -> None:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-test-wrong", max_retries=0) as sdk:
        with pytest.raises(openai.AuthenticationError) as caught:
            await sdk.responses.create(model=MODEL, input="hi")
    assert caught.value.code == "invalid_api_key"
    assert caught.value.body == {
        "message": "Incorrect API key provided: sk-te***ong. You can find your API key at https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }


# --------------------------------------------------------------------------- HTTP fault triggers


@pytest.mark.parametrize("stream", [False, True])
async def test_rate_limit_trigger(client: openai.AsyncOpenAI, stream: bool) -> None:
    # Pre-stream errors are plain JSON even with stream:true (B.2).
    with pytest.raises(openai.RateLimitError) as caught:
        await client.responses.create(model=MODEL, input="hi [[http:429]]", stream=stream)
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.type == "tokens"
    assert caught.value.response.headers["retry-after"] == "1"
    assert "Rate limit reached for gpt-5.4 in organization org-fake" in caught.value.message


@pytest.mark.parametrize(
    ("trigger", "exc_type", "code"),
    [
        ("[[http:500]]", openai.InternalServerError, "server_error"),
        ("[[http:503]]", openai.InternalServerError, "server_is_overloaded"),
        ("[[http:400]]", openai.BadRequestError, "context_length_exceeded"),
    ],
)
async def test_http_fault_triggers(
    client: openai.AsyncOpenAI, trigger: str, exc_type: type[openai.APIStatusError], code: str
) -> None:
    with pytest.raises(exc_type) as caught:
        await client.responses.create(model=MODEL, input=f"hi {trigger}")
    assert caught.value.code == code


# --------------------------------------------------------------------------- streaming


async def test_stream_event_order(client: openai.AsyncOpenAI) -> None:
    stream = await client.responses.create(model=MODEL, input="hello", stream=True)
    events = [event async for event in stream]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    types = [event.type for event in events]
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",  # empty reasoning item first (gpt-5*)
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 5,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.delta for event in events if event.type == "response.output_text.delta"] == [
        "You",
        " said:",
        " hello",
        " (turn",
        " 1)",
    ]
    assert events[-1].response.output_text == "You said: hello (turn 1)"


async def test_stream_wire_events_validate_and_snapshot(fake: FakeOpenAIResponses, http: aiohttp.ClientSession) -> None:
    frames = await _raw_sse(http, fake.base_url, {"model": MODEL, "input": "hello"})
    events = [data for _, data in frames]
    for event in events:
        _validate_event(event)
    assert events[2]["item"] == {"id": events[2]["item"]["id"], "type": "reasoning", "summary": []}
    assert events[2]["output_index"] == 0
    assert events[4]["item"] == {
        "id": events[4]["item"]["id"],
        "type": "message",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    assert events[4]["output_index"] == 1
    assert events[5]["part"] == {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    text_deltas = [e for e in events if e["type"] == "response.output_text.delta"]
    assert all(e["logprobs"] == [] and isinstance(e["obfuscation"], str) for e in text_deltas)
    assert all(e["item_id"] == events[4]["item"]["id"] and e["content_index"] == 0 for e in text_deltas)

    created, in_progress, completed = events[0]["response"], events[1]["response"], events[-1]["response"]
    assert created["id"] == in_progress["id"] == completed["id"]
    assert (created["status"], created["output"], created["usage"], created["completed_at"]) == (
        "in_progress",
        [],
        None,
        None,
    )
    assert (created["service_tier"], completed["service_tier"]) == ("auto", "default")
    assert completed["status"] == "completed" and isinstance(completed["completed_at"], int)
    assert [item["type"] for item in completed["output"]] == ["reasoning", "message"]
    assert completed["output"][1] == events[-2]["item"]
    assert completed["usage"]["output_tokens"] == 5


async def test_stream_helper_final_response(client: openai.AsyncOpenAI) -> None:
    async with client.responses.stream(model=MODEL, input="hello") as stream:
        text = "".join([event.delta async for event in stream if event.type == "response.output_text.delta"])
        final = await stream.get_final_response()
    assert text == final.output_text == "You said: hello (turn 1)"
    assert final.status == "completed"


async def test_stream_helper_function_call(client: openai.AsyncOpenAI) -> None:
    async with client.responses.stream(model=MODEL, input="Paris", tools=[{**WEATHER_TOOL, "strict": True}]) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()
    call = final.output[1]
    assert call.type == "function_call"
    assert call.parsed_arguments == {"text": "Paris"}  # the helper parses strict tools' arguments
    types = [event.type for event in events]
    assert types[2:] == [
        "response.output_item.added",
        "response.output_item.done",
        "response.output_item.added",
        *["response.function_call_arguments.delta"] * types.count("response.function_call_arguments.delta"),
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert types.count("response.function_call_arguments.delta") > 1


async def test_stream_parallel_calls_are_sequential_blocks(client: openai.AsyncOpenAI) -> None:
    tools = [WEATHER_TOOL, TIME_TOOL]
    async with client.responses.stream(model=PLAIN_MODEL, input="both please", tools=tools) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()
    indexes = [
        (event.type.removeprefix("response."), event.output_index)
        for event in events
        if event.type.startswith("response.output_item")
    ]
    assert indexes == [
        ("output_item.added", 0),
        ("output_item.done", 0),
        ("output_item.added", 1),
        ("output_item.done", 1),
    ]
    assert [item.name for item in final.output if item.type == "function_call"] == ["get_weather", "get_time"]


async def test_stream_reasoning_summary_order(client: openai.AsyncOpenAI) -> None:
    stream = await client.responses.create(model=MODEL, input="hi there", stream=True, reasoning={"summary": "auto"})
    events = _event_dicts([event async for event in stream])
    types = [event["type"] for event in events]
    summary_deltas = types.count("response.reasoning_summary_text.delta")
    assert summary_deltas == 4  # "Thinking", " about:", " hi", " there"
    assert types[:8 + summary_deltas] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        *["response.reasoning_summary_text.delta"] * summary_deltas,
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
    ]
    done = events[4 + summary_deltas]
    assert done["text"] == "Thinking about: hi there" and done["summary_index"] == 0
    completed = events[-1]["response"]
    assert completed["reasoning"] == {"effort": "medium", "summary": "auto"}
    assert completed["output"][0]["summary"] == [{"type": "summary_text", "text": "Thinking about: hi there"}]
    assert completed["usage"]["output_tokens_details"]["reasoning_tokens"] == 4
    assert completed["usage"]["output_tokens"] == 4 + 6  # summary + "You said: hi there (turn 1)"


async def test_stream_incomplete(client: openai.AsyncOpenAI) -> None:
    long_input = " ".join(f"w{i}" for i in range(40))
    async with client.responses.stream(model=MODEL, input=long_input, max_output_tokens=16) as stream:
        events = [event async for event in stream]
        # §6.7: the helper only finalises on response.completed.
        with pytest.raises(RuntimeError, match="response.completed"):
            await stream.get_final_response()
    types = [event.type for event in events]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.incomplete",
    ]
    assert events[-2].item.status == "incomplete"
    final = events[-1].response
    assert final.status == "incomplete" and final.incomplete_details.reason == "max_output_tokens"
    assert final.usage.output_tokens == 16


async def test_stream_error_event_raises(client: openai.AsyncOpenAI) -> None:
    stream = await client.responses.create(model=MODEL, input="hi [[stream:error]]", stream=True)
    seen = []
    with pytest.raises(openai.APIError) as caught:
        async for event in stream:
            seen.append(event.type)
    assert seen == ["response.created", "response.in_progress"]
    # Nested error event (live shape): no HTTP status, fields from the inner object.
    assert not isinstance(caught.value, openai.APIStatusError)
    error = caught.value
    assert (error.code, error.param, error.type) == ("context_length_exceeded", "input", "invalid_request_error")
    assert caught.value.message == "Your input exceeds the context window of this model. Please adjust your input and try again."


async def test_stream_error_event_wire_shape(fake: FakeOpenAIResponses, http: aiohttp.ClientSession) -> None:
    frames = await _raw_sse(http, fake.base_url, {"model": MODEL, "input": "hi [[stream:error]]"})
    assert [name for name, _ in frames] == ["response.created", "response.in_progress", "error"]
    error = frames[-1][1]
    _validate_event(error)
    assert error == {
        "type": "error",
        "sequence_number": 2,
        "error": {
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
            "message": "Your input exceeds the context window of this model. Please adjust your input and try again.",
            "param": "input",
        },
    }
    # Open Responses requires response.failed after an error event; the live
    # OpenAI behaviour is unconfirmed and the fake stops here (see the fake).


async def test_stream_error_trigger_in_json_mode_is_400(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model=MODEL, input="hi [[stream:error]]")
    assert caught.value.code == "context_length_exceeded"


async def test_stream_failed(client: openai.AsyncOpenAI) -> None:
    async with client.responses.stream(model=PLAIN_MODEL, input="hi [[stream:failed]]") as stream:
        events = [event async for event in stream]
        with pytest.raises(RuntimeError, match="response.completed"):
            await stream.get_final_response()
    types = [event.type for event in events]
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.failed",
    ]
    failed = events[-1].response
    assert failed.status == "failed"
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == ("server_error", "The model failed to generate a response.")
    assert failed.usage is not None and failed.usage.output_tokens == 2
    assert failed.output[0].content[0].text == "You said:"  # partial output
    _validate_event(_event_dicts(events)[-1])


async def test_stream_triggers_in_json_mode(client: openai.AsyncOpenAI) -> None:
    # Without stream:true a failed generation is a 200 response with status "failed".
    failed = await client.responses.create(model=PLAIN_MODEL, input="hi [[stream:failed]]")
    assert failed.status == "failed"
    assert failed.error is not None and failed.error.code == "server_error"
    # ... and a dropped one is a connection closed before any response.
    with pytest.raises(openai.APIConnectionError):
        await client.responses.create(model=PLAIN_MODEL, input="hi [[stream:drop]]")


async def test_stream_drop(client: openai.AsyncOpenAI, fake: FakeOpenAIResponses) -> None:
    stream = await client.responses.create(model=PLAIN_MODEL, input="hi [[stream:drop]]", stream=True)
    seen = []
    # The server closes the socket mid chunked body: httpx raises
    # RemoteProtocolError ("incomplete chunked read"), which the SDK's stream
    # iterator wraps as APIConnectionError. No terminal event is ever seen.
    with pytest.raises(openai.APIConnectionError):
        async for event in stream:
            seen.append(event.type)
    assert fake.cancelled_streams == 0  # a server-side drop is not a client disconnect
    assert seen == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
    ]


async def test_client_disconnect_cancels_stream(fake: FakeOpenAIResponses, http: aiohttp.ClientSession) -> None:
    body = {"model": PLAIN_MODEL, "input": "hi [[slow]]", "stream": True}
    async with http.post(f"{fake.base_url}/responses", json=body) as resp:
        assert resp.status == 200
        first = await resp.content.readuntil(b"\n\n")
        assert first.startswith(b"event: response.created\n")
        resp.close()  # go away mid-stream
    for _ in range(100):
        if fake.cancelled_streams:
            break
        await asyncio.sleep(0.02)
    assert fake.cancelled_streams == 1


async def test_sdk_stream_close_cancels_stream(fake: FakeOpenAIResponses, client: openai.AsyncOpenAI) -> None:
    stream = await client.responses.create(model=PLAIN_MODEL, input="hi [[slow]]", stream=True)
    async for event in stream:
        if event.type == "response.output_text.delta":
            break
    await stream.close()
    for _ in range(100):
        if fake.cancelled_streams:
            break
        await asyncio.sleep(0.02)
    assert fake.cancelled_streams == 1


@pytest.mark.parametrize(
    "body",
    [
        {"model": MODEL, "input": "hello", "reasoning": {"summary": "concise"}},
        {"model": MODEL, "input": "both", "tools": [WEATHER_TOOL, TIME_TOOL], "include": ["reasoning.encrypted_content"]},
        {"model": MODEL, "input": " ".join(["long"] * 30), "max_output_tokens": 16},
        {"model": PLAIN_MODEL, "input": "hi [[stream:failed]]"},
    ],
    ids=["summary", "parallel-calls", "incomplete", "failed"],
)
async def test_raw_sse_framing(fake: FakeOpenAIResponses, http: aiohttp.ClientSession, body: dict[str, Any]) -> None:
    frames = await _raw_sse(http, fake.base_url, body)
    for name, data in frames:
        assert name == data["type"]  # `event:` always equals data.type
        _validate_event(data)  # every wire event is a valid Open Responses event
    assert [data["sequence_number"] for _, data in frames] == list(range(len(frames)))
    assert frames[-1][0] in ("response.completed", "response.incomplete", "response.failed")
    deltas = [data for name, data in frames if name.endswith(".delta")]
    assert deltas and all(isinstance(data["obfuscation"], str) for data in deltas)


async def test_obfuscation_can_be_disabled(fake: FakeOpenAIResponses, http: aiohttp.ClientSession) -> None:
    body = {"model": MODEL, "input": "hello", "stream_options": {"include_obfuscation": False}, "tools": [WEATHER_TOOL]}
    frames = await _raw_sse(http, fake.base_url, body)
    deltas = [data for name, data in frames if name.endswith(".delta")]
    assert deltas and not any("obfuscation" in data for data in deltas)


# --------------------------------------------------------------------------- stored responses


async def test_retrieve_delete_and_404(client: openai.AsyncOpenAI, fake: FakeOpenAIResponses) -> None:
    created = await client.responses.create(model=MODEL, input="remember me")
    fetched = await client.responses.retrieve(created.id)
    assert fetched.model_dump() == created.model_dump()

    raw = await client.responses.with_raw_response.delete(created.id)
    assert raw.http_response.json() == {"id": created.id, "object": "response", "deleted": True}
    other = await client.responses.create(model=MODEL, input="forget me")
    assert await client.responses.delete(other.id) is None  # the SDK does not parse the body (§1)

    with pytest.raises(openai.NotFoundError) as caught:
        await client.responses.retrieve(created.id)
    assert caught.value.body == {
        "message": f"No response found with id '{created.id}'.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.NotFoundError):
        await client.responses.delete(created.id)


async def test_streamed_response_is_stored(client: openai.AsyncOpenAI) -> None:
    async with client.responses.stream(model=MODEL, input="hello") as stream:
        final = await stream.get_final_response()
    fetched = await client.responses.retrieve(final.id)
    assert fetched.status == "completed"
    assert fetched.output_text == "You said: hello (turn 1)"


async def test_store_false_and_previous_response_id(client: openai.AsyncOpenAI) -> None:
    unstored = await client.responses.create(model=MODEL, input="secret", store=False)
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(unstored.id)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model=MODEL, input="again", previous_response_id=unstored.id)
    assert caught.value.code == "previous_response_not_found"
    assert caught.value.param == "previous_response_id"
    assert caught.value.body["message"] == f"Previous response with id '{unstored.id}' not found."

    stored = await client.responses.create(model=MODEL, input="first")
    follow_up = await client.responses.create(model=MODEL, input="second", previous_response_id=stored.id)
    assert follow_up.previous_response_id == stored.id
    assert follow_up.output_text == "You said: second (turn 1)"  # turns count this request's input only


# --------------------------------------------------------------------------- plumbing


async def test_requests_are_recorded(client: openai.AsyncOpenAI, fake: FakeOpenAIResponses) -> None:
    await client.responses.create(model=MODEL, input="hi", metadata={"a": "b"})
    recorded = fake.requests[-1]
    assert (recorded.method, recorded.path) == ("POST", "/v1/responses")
    assert recorded.headers["authorization"] == "Bearer sk-test-fake"
    assert recorded.body == {"model": MODEL, "input": "hi", "metadata": {"a": "b"}}


async def test_unknown_route_is_openai_404(fake: FakeOpenAIResponses, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{fake.base_url}/nothing") as resp:
        assert resp.status == 404
        assert (await resp.json())["error"]["message"] == "Invalid URL (GET /v1/nothing)"


async def test_latency_and_token_delay() -> None:
    server = FakeOpenAIResponses(latency_ms=50, token_delay_ms=10)
    await server.start()
    try:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test-fake", max_retries=0) as sdk:
            loop = asyncio.get_running_loop()
            started = loop.time()
            response = await sdk.responses.create(model=PLAIN_MODEL, input="hi")
            elapsed = loop.time() - started
    finally:
        await server.close()
    assert response.output_text == "You said: hi (turn 1)"
    assert elapsed >= 0.05 + 5 * 0.01


async def test_standalone_module() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.upstreams.openai_responses", "--port", str(port)],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.to_thread(process.stdout.readline)
        assert f"http://127.0.0.1:{port}/v1".encode() in line
        base_url = f"http://127.0.0.1:{port}/v1"
        async with openai.AsyncOpenAI(base_url=base_url, api_key="sk-test-fake", max_retries=0) as sdk:
            response = await sdk.responses.create(model=MODEL, input="bench")
        assert response.output_text == "You said: bench (turn 1)"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
