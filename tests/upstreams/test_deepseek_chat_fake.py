"""Fidelity tests: the official ``openai`` SDK's chat.completions talks straight to the fake.

If the SDK (3.57) parses what the fake sends the way it would parse DeepSeek
(upstreams.md A.11: ``reasoning_content`` kept as an extra attribute, keep-alive
comments and leading blank lines tolerated, ``[DONE]`` ends the stream, status
codes mapped to its exception classes), the fake is a trustworthy stand-in for
DeepSeek as an upstream. Raw-bytes checks pin the wire framing (A.5, A.6).
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
import pytest

from .deepseek_chat import FakeDeepSeekChat

KEY = "sk-test-deepseek"
MODEL = "deepseek-v4-pro"
FLASH = "deepseek-v4-flash"
NO_THINKING: dict[str, Any] = {"thinking": {"type": "disabled"}}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
CALL_ID = re.compile(r"call_0[01]_[A-Za-z0-9]{24}")

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    },
}
TIME_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {**WEATHER_TOOL["function"], "name": "get_time", "description": "Local time"},
}


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDeepSeekChat]:
    server = FakeDeepSeekChat()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def client(fake: FakeDeepSeekChat) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key=KEY, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as session:
        yield session


async def _wait_cancelled(fake: FakeDeepSeekChat, expected: int = 1) -> None:
    for _ in range(150):
        if fake.cancelled_streams >= expected:
            break
        await asyncio.sleep(0.02)
    assert fake.cancelled_streams == expected


async def _raw_stream(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> str:
    async with http.post(f"{url}/chat/completions", json={**body, "stream": True}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        return await resp.text()


def _frames(text: str) -> list[dict[str, Any]]:
    """Parse DeepSeek SSE strictly: only `data:` lines (plus `:` comments), [DONE] last."""
    assert "event:" not in text
    assert text.endswith("data: [DONE]\n\n")
    blocks = [block for block in text.split("\n\n") if block and not block.startswith(": ")]
    assert blocks[-1] == "data: [DONE]"
    frames = []
    for block in blocks[:-1]:
        assert "\n" not in block and block.startswith("data: ")
        frames.append(json.loads(block.removeprefix("data: ")))
    return frames


# --------------------------------------------------------------------------- non-streaming


async def test_non_stream_thinking_shape(client: openai.AsyncOpenAI) -> None:
    raw = await client.chat.completions.with_raw_response.create(model=MODEL, messages=_user("hello"))
    completion = raw.parse()
    message = completion.choices[0].message
    assert message.content == "You said: hello (turn 1)"
    assert message.model_extra == {"reasoning_content": "Thinking about: hello"}  # untyped extra (A.11)
    assert completion.choices[0].finish_reason == "stop"
    assert message.tool_calls is None

    usage = completion.usage
    assert usage is not None
    assert usage.completion_tokens == 3 + 5  # "Thinking"," about:"," hello" + 5 answer words
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 3
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 0
    assert usage.model_extra == {"prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": usage.prompt_tokens}
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens

    body = raw.http_response.json()
    assert list(body) == ["id", "object", "created", "model", "choices", "usage", "system_fingerprint"]
    assert UUID.fullmatch(body["id"])  # a bare uuid, no chatcmpl- prefix (A.5)
    assert body["object"] == "chat.completion"
    assert body["model"] == MODEL
    assert re.fullmatch(r"fp_[0-9a-f]+_prod\d+_fp8_kvcache_\d{8}", body["system_fingerprint"])
    assert body["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "You said: hello (turn 1)",
                "reasoning_content": "Thinking about: hello",
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert list(body["usage"]) == [
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "prompt_tokens_details",
        "completion_tokens_details",
        "prompt_cache_hit_tokens",
        "prompt_cache_miss_tokens",
    ]


async def test_non_thinking_has_no_reasoning_key(client: openai.AsyncOpenAI) -> None:
    messages = [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "You said: one (turn 1)"},
        {"role": "user", "content": [{"type": "text", "text": "two"}, {"type": "text", "text": "parts"}]},
    ]
    raw = await client.chat.completions.with_raw_response.create(model=FLASH, messages=messages, extra_body=NO_THINKING)
    body = raw.http_response.json()
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "[Be brief] You said: two parts (turn 2)"}
    usage = raw.parse().usage
    assert usage is not None
    assert usage.completion_tokens_details is not None and usage.completion_tokens_details.reasoning_tokens == 0
    # More than 3 messages: the fake reports 64 cached prompt tokens, in both places.
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 64
    assert usage.model_extra is not None
    assert usage.model_extra["prompt_cache_hit_tokens"] == 64
    assert usage.prompt_tokens == 64 + usage.model_extra["prompt_cache_miss_tokens"]


async def test_non_stream_tool_call(client: openai.AsyncOpenAI) -> None:
    raw = await client.chat.completions.with_raw_response.create(
        model=MODEL, messages=_user("Paris"), tools=[WEATHER_TOOL, TIME_TOOL]
    )
    message = raw.parse().choices[0].message
    assert raw.parse().choices[0].finish_reason == "tool_calls"
    assert message.content == ""
    assert message.model_extra == {"reasoning_content": "Thinking about: Paris"}
    assert message.tool_calls is not None and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert call.type == "function"
    assert CALL_ID.fullmatch(call.id) and call.id.startswith("call_00_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"text": "Paris"}
    wire_call = raw.http_response.json()["choices"][0]["message"]["tool_calls"][0]
    assert list(wire_call) == ["index", "id", "type", "function"]  # index even when not streaming (A.5)
    assert wire_call["index"] == 0


async def test_tool_choice_variants(client: openai.AsyncOpenAI) -> None:
    tools = [WEATHER_TOOL, TIME_TOOL]
    named = await client.chat.completions.create(
        model=MODEL,
        messages=_user("both please"),
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    named_calls = named.choices[0].message.tool_calls or []
    assert [c.function.name for c in named_calls] == ["get_time"]  # type: ignore[union-attr]

    none = await client.chat.completions.create(model=MODEL, messages=_user("hi"), tools=tools, tool_choice="none")
    assert none.choices[0].message.tool_calls is None
    assert none.choices[0].message.content == "You said: hi (turn 1)"

    both = await client.chat.completions.create(model=MODEL, messages=_user("both please"), tools=tools)
    calls = both.choices[0].message.tool_calls or []
    assert [c.id[:8] for c in calls] == ["call_00_", "call_01_"]
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]  # type: ignore[union-attr]

    serial = await client.chat.completions.create(
        model=MODEL, messages=_user("both please"), tools=tools, parallel_tool_calls=False
    )
    assert len(serial.choices[0].message.tool_calls or []) == 1


async def test_empty_tools_is_accepted_and_recorded(client: openai.AsyncOpenAI, fake: FakeDeepSeekChat) -> None:
    completion = await client.chat.completions.create(model=MODEL, messages=_user("hi"), tools=[])
    assert completion.choices[0].message.content == "You said: hi (turn 1)"
    assert fake.requests[-1].body is not None and fake.requests[-1].body["tools"] == []


async def test_max_tokens_counts_reasoning_first(client: openai.AsyncOpenAI) -> None:
    cut = await client.chat.completions.create(model=MODEL, messages=_user("hello"), max_tokens=5)
    assert cut.choices[0].finish_reason == "length"
    assert cut.choices[0].message.model_extra == {"reasoning_content": "Thinking about: hello"}
    assert cut.choices[0].message.content == "You said:"
    assert cut.usage is not None and cut.usage.completion_tokens == 5

    in_reasoning = await client.chat.completions.create(model=MODEL, messages=_user("hello"), max_tokens=2)
    assert in_reasoning.choices[0].finish_reason == "length"
    assert in_reasoning.choices[0].message.model_extra == {"reasoning_content": "Thinking about:"}
    assert in_reasoning.choices[0].message.content == ""


async def test_content_filter(client: openai.AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(
        model=MODEL, messages=_user("bad [[filter]]"), extra_body=NO_THINKING
    )
    assert completion.choices[0].finish_reason == "content_filter"
    assert completion.choices[0].message.content == "You said:"


# --------------------------------------------------------------------------- streaming


async def test_stream_thinking_with_usage(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model=MODEL, messages=_user("hello"), stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]  # ends on [DONE]
    first = chunks[0].choices[0].delta
    assert first.role == "assistant" and first.content is None
    assert first.model_extra == {"reasoning_content": ""}  # empty: must not open a reasoning block
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks)
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert reasoning == "Thinking about: hello"
    assert content == "You said: hello (turn 1)"
    assert all(c.choices[0].finish_reason is None and c.usage is None for c in chunks[:-1])
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.choices[0].delta.content == ""
    assert last.usage is not None  # usage rides on the finish_reason chunk (A.6), not a choices:[] chunk
    assert last.usage.completion_tokens == 8
    assert last.usage.completion_tokens_details is not None
    assert last.usage.completion_tokens_details.reasoning_tokens == 3
    assert len({c.id for c in chunks}) == 1 and UUID.fullmatch(chunks[0].id)
    assert all(c.object == "chat.completion.chunk" for c in chunks)


async def test_stream_without_include_usage(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(model=MODEL, messages=_user("hi"), stream=True)
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


async def test_stream_tool_calls_assembled_from_fragments(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=_user("both cities"),
        tools=[WEATHER_TOOL, TIME_TOOL],
        stream=True,
        stream_options={"include_usage": True},
    )
    calls: dict[int, dict[str, str]] = {}
    fragments = 0
    finish = None
    async for chunk in stream:
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for delta in choice.delta.tool_calls or []:
            entry = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            if delta.id:
                entry["id"] = delta.id
            if delta.function and delta.function.name:
                entry["name"] = delta.function.name
            if delta.function and delta.function.arguments:
                entry["arguments"] += delta.function.arguments
                fragments += 1
    assert finish == "tool_calls"
    assert sorted(calls) == [0, 1]
    assert [calls[i]["name"] for i in (0, 1)] == ["get_weather", "get_time"]
    assert calls[0]["id"].startswith("call_00_") and calls[1]["id"].startswith("call_01_")
    assert all(json.loads(calls[i]["arguments"]) == {"text": "both cities"} for i in (0, 1))
    assert fragments > 4  # arguments really arrive in pieces


async def test_sdk_stream_helper_accumulates(client: openai.AsyncOpenAI) -> None:
    async with client.chat.completions.stream(
        model=MODEL, messages=_user("Paris"), tools=[WEATHER_TOOL], stream_options={"include_usage": True}
    ) as stream:
        final = await stream.get_final_completion()
    message = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None
    assert json.loads(message.tool_calls[0].function.arguments) == {"text": "Paris"}
    assert message.model_extra == {"reasoning_content": "Thinking about: Paris"}  # the helper joins extra str deltas
    assert final.usage is not None and final.usage.completion_tokens_details is not None
    assert final.usage.completion_tokens_details.reasoning_tokens == 3


async def test_raw_stream_framing_thinking(fake: FakeDeepSeekChat, http: aiohttp.ClientSession) -> None:
    body = {"model": MODEL, "messages": _user("hi"), "stream_options": {"include_usage": True}}
    frames = _frames(await _raw_stream(http, fake.base_url, body))
    deltas = [f["choices"][0]["delta"] for f in frames]
    assert deltas[0] == {"role": "assistant", "content": None, "reasoning_content": ""}
    assert deltas[1] == {"content": None, "reasoning_content": "Thinking"}
    assert deltas[3] == {"content": None, "reasoning_content": " hi"}
    assert deltas[4] == {"content": "You", "reasoning_content": None}
    assert deltas[-1] == {"content": "", "reasoning_content": None}
    for frame in frames[:-1]:
        assert list(frame) == ["id", "object", "created", "model", "system_fingerprint", "choices", "usage"]
        assert frame["usage"] is None  # explicit null on every non-final chunk
        assert frame["choices"][0]["finish_reason"] is None and frame["choices"][0]["logprobs"] is None
    assert frames[-1]["choices"][0]["finish_reason"] == "stop"
    assert frames[-1]["usage"]["prompt_cache_hit_tokens"] == 0


async def test_raw_stream_framing_non_thinking_and_tools(fake: FakeDeepSeekChat, http: aiohttp.ClientSession) -> None:
    body = {"model": FLASH, "messages": _user("hi"), **NO_THINKING}
    frames = _frames(await _raw_stream(http, fake.base_url, body))
    deltas = [f["choices"][0]["delta"] for f in frames]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1] == {"content": "You"}
    assert deltas[-1] == {"content": ""}
    assert frames[-1]["usage"] is None  # no include_usage

    tool_body = {"model": MODEL, "messages": _user("Paris"), "tools": [WEATHER_TOOL]}
    frames = _frames(await _raw_stream(http, fake.base_url, tool_body))
    tool_deltas = [f["choices"][0]["delta"] for f in frames if "tool_calls" in f["choices"][0]["delta"]]
    head = tool_deltas[0]["tool_calls"][0]
    assert tool_deltas[0] == {
        "tool_calls": [
            {"index": 0, "id": head["id"], "type": "function", "function": {"name": "get_weather", "arguments": ""}}
        ]
    }
    assert tool_deltas[1] == {"tool_calls": [{"index": 0, "function": {"arguments": '{"'}}]}
    assert "".join(d["tool_calls"][0]["function"]["arguments"] for d in tool_deltas) == '{"text": "Paris"}'
    assert frames[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_queue_keep_alives(
    client: openai.AsyncOpenAI, fake: FakeDeepSeekChat, http: aiohttp.ClientSession
) -> None:
    text = await _raw_stream(http, fake.base_url, {"model": MODEL, "messages": _user("hi [[queue]]")})
    assert text.startswith(": keep-alive\n\n: keep-alive\n\ndata: {")
    _frames(text)
    queued = {"model": MODEL, "messages": _user("hi [[queue]]")}
    async with http.post(f"{fake.base_url}/chat/completions", json=queued) as resp:
        raw = await resp.read()
    assert raw.startswith(b"\n\n\n{") and json.loads(raw)["object"] == "chat.completion"

    # The SDK skips the comments and the leading blank lines.
    stream = await client.chat.completions.create(model=MODEL, messages=_user("hi [[queue]]"), stream=True)
    content = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert content == "You said: hi [[queue]] (turn 1)"
    completion = await client.chat.completions.create(model=MODEL, messages=_user("hi [[queue]]"))
    assert completion.choices[0].message.content == "You said: hi [[queue]] (turn 1)"


# --------------------------------------------------------------------------- the reasoning_content rule (A.4)


async def test_reasoning_content_rule_in_tool_loop(client: openai.AsyncOpenAI) -> None:
    messages: list[dict[str, Any]] = _user("Paris")
    first = await client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    message = first.choices[0].message
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assistant = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},  # type: ignore[union-attr]
            }
        ],
    }
    tool_result = {"role": "tool", "tool_call_id": call.id, "content": "sunny"}

    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model=MODEL, messages=[*messages, assistant, tool_result], tools=[WEATHER_TOOL]
        )
    assert caught.value.status_code == 400
    assert caught.value.response.json() == {
        "error": {
            "message": "The `reasoning_content` in the thinking mode must be passed back to the API.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_request_error",
        }
    }

    replay = {**assistant, "reasoning_content": (message.model_extra or {})["reasoning_content"]}
    second = await client.chat.completions.create(
        model=MODEL, messages=[*messages, replay, tool_result], tools=[WEATHER_TOOL]
    )
    assert second.choices[0].message.content == "Tool said: sunny"
    assert second.choices[0].finish_reason == "stop"

    # An empty string is enough; null is not.
    empty = {**assistant, "reasoning_content": ""}
    ok = await client.chat.completions.create(model=MODEL, messages=[*messages, empty, tool_result])
    assert ok.choices[0].message.content == "Tool said: sunny"
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(
            model=MODEL, messages=[*messages, {**assistant, "reasoning_content": None}, tool_result]
        )
    # It is a thinking-mode rule: non-thinking requests may omit it.
    plain = await client.chat.completions.create(
        model=MODEL, messages=[*messages, assistant, tool_result], extra_body=NO_THINKING
    )
    assert plain.choices[0].message.content == "Tool said: sunny"
    # Assistant turns without tool calls never need it.
    chat = await client.chat.completions.create(
        model=MODEL, messages=[*messages, {"role": "assistant", "content": "x"}, *_user("again")]
    )
    assert chat.choices[0].message.content == "You said: again (turn 2)"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("trigger", "exc_type", "status", "error"),
    [
        ("http:429", openai.RateLimitError, 429, ("Rate Limit Reached", "rate_limit_error", "rate_limit_exceeded")),
        ("http:500", openai.InternalServerError, 500, ("Server Error", "server_error", "server_error")),
        ("http:503", openai.InternalServerError, 503, ("Server Overloaded", "server_error", "server_overloaded")),
        ("http:402", openai.APIStatusError, 402, ("Insufficient Balance", "unknown_error", "invalid_request_error")),
        (
            "http:400",
            openai.BadRequestError,
            400,
            (
                "This model's maximum context length is 1048576 tokens. However, you requested 1100000 tokens. "
                "Please reduce the length of the messages.",
                "invalid_request_error",
                "context_length_exceeded",
            ),
        ),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_http_fault_triggers(
    client: openai.AsyncOpenAI,
    trigger: str,
    exc_type: type[openai.APIStatusError],
    status: int,
    error: tuple[str, str, str],
    stream: bool,
) -> None:
    with pytest.raises(exc_type) as caught:
        await client.chat.completions.create(model=MODEL, messages=_user(f"hi [[{trigger}]]"), stream=stream)
    assert caught.value.status_code == status
    message, type_, code = error
    assert caught.value.body == {"message": message, "type": type_, "param": None, "code": code}
    assert caught.value.code == code and caught.value.type == type_
    assert caught.value.response.headers.get("retry-after") == ("1" if status == 429 else None)


async def test_402_is_a_generic_status_error(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model=MODEL, messages=_user("[[http:402]]"))
    assert type(caught.value) is openai.APIStatusError  # no dedicated class for 402 (A.11)


async def test_wrong_key(fake: FakeDeepSeekChat) -> None:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-wrongkey1234", max_retries=0) as sdk:
        with pytest.raises(openai.AuthenticationError) as caught:
            await sdk.chat.completions.create(model=MODEL, messages=_user("hi"))
    assert caught.value.body == {
        "message": "Authentication Fails, Your api key: ****1234 is invalid",
        "type": "authentication_error",
        "param": None,
        "code": "invalid_request_error",
    }
    assert fake.attempts == 1  # failed attempts count too


@pytest.mark.parametrize(
    ("extra", "messages", "exc_type", "message"),
    [
        ({"model": "deepseek-chat-x"}, None, openai.BadRequestError, "Model Not Exist"),
        ({"thinking": True}, None, openai.UnprocessableEntityError, "expected struct ThinkingOptions"),
        ({"thinking": {"type": "auto"}}, None, openai.UnprocessableEntityError, "ThinkingOptions"),
        ({"reasoning_effort": "extreme"}, None, openai.BadRequestError, "reasoning_effort"),
        ({"tools": [{"type": "function", "name": "flat"}]}, None, openai.BadRequestError, "tools[0]"),
        ({"max_tokens": 0}, None, openai.BadRequestError, "valid range of max_tokens"),
        ({}, [], openai.BadRequestError, "Empty input messages"),
        ({}, [{"role": "developer", "content": "x"}], openai.UnprocessableEntityError, "unknown variant `developer`"),
        (
            {},
            [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "call_00_x", "content": "y"}],
            openai.BadRequestError,
            "Messages with role 'tool' must be a response to a preceding message with 'tool_calls'",
        ),
    ],
    ids=[
        "model", "thinking-bool", "thinking-type", "effort", "flat-tool", "max-tokens", "empty", "role", "orphan-tool"
    ],
)
async def test_validation_errors(
    client: openai.AsyncOpenAI,
    extra: dict[str, Any],
    messages: list[dict[str, Any]] | None,
    exc_type: type[openai.APIStatusError],
    message: str,
) -> None:
    body: dict[str, Any] = {"model": MODEL, "messages": _user("hi") if messages is None else messages, **extra}
    model = body.pop("model")
    with pytest.raises(exc_type) as caught:
        await client.chat.completions.create(model=model, messages=body.pop("messages"), extra_body=body)
    assert message in caught.value.body["message"]  # type: ignore[index]
    assert caught.value.body["param"] is None  # type: ignore[index]


async def test_model_not_exist_body(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="deepseek-chat", messages=_user("hi"))
    assert caught.value.body == {
        "message": "Model Not Exist",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_request_error",
    }


async def test_reasoning_effort_aliases_accepted(client: openai.AsyncOpenAI) -> None:
    for effort in ("minimal", "low", "medium", "high", "xhigh", "max", "ultra"):
        completion = await client.chat.completions.create(
            model=MODEL, messages=_user("hi"), extra_body={"reasoning_effort": effort}
        )
        assert completion.choices[0].finish_reason == "stop"


async def test_missing_messages_is_422(fake: FakeDeepSeekChat, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{fake.base_url}/chat/completions", json={"model": MODEL}) as resp:
        assert resp.status == 422
        assert (await resp.json())["error"]["message"].endswith("missing field `messages`")


# --------------------------------------------------------------------------- scripted failures and retries


async def test_fail_next_sequence_with_sdk_retries(fake: FakeDeepSeekChat) -> None:
    fake.fail_next = [(429, 0.01), (503, 0.01)]
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key=KEY, max_retries=2) as sdk:
        completion = await sdk.chat.completions.create(model=MODEL, messages=_user("hi"))
    assert completion.choices[0].message.content == "You said: hi (turn 1)"
    assert fake.attempts == 3
    assert fake.fail_next == []
    assert len(fake.requests) == 3


async def test_fail_next_statuses_and_headers(fake: FakeDeepSeekChat, http: aiohttp.ClientSession) -> None:
    fake.fail_next = [(429, 2.5), (500, None), (429, None)]
    body = {"model": MODEL, "messages": _user("hi")}
    seen = []
    for path in ("/chat/completions", "/v1/chat/completions", "/chat/completions", "/v1/chat/completions"):
        async with http.post(f"{fake.base_url}{path}", json=body) as resp:
            seen.append((resp.status, resp.headers.get("retry-after")))
    assert seen == [(429, "2.5"), (500, None), (429, None), (200, None)]
    assert fake.attempts == 4
    # GET /models neither consumes fail_next nor counts as an attempt.
    fake.fail_next = [(500, None)]
    async with http.get(f"{fake.base_url}/models") as resp:
        assert resp.status == 200
    assert fake.attempts == 4 and fake.fail_next == [(500, None)]


async def test_sdk_retries_trigger_429(fake: FakeDeepSeekChat) -> None:
    # A trigger fires on every attempt: the SDK retries (honouring retry-after: 1) and gives up.
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key=KEY, max_retries=1) as sdk:
        with pytest.raises(openai.RateLimitError):
            await sdk.chat.completions.create(model=MODEL, messages=_user("hi [[http:429]]"))
    assert fake.attempts == 2


# --------------------------------------------------------------------------- connection faults


@pytest.mark.parametrize("stream", [False, True])
async def test_reset_before_response(client: openai.AsyncOpenAI, fake: FakeDeepSeekChat, stream: bool) -> None:
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model=MODEL, messages=_user("hi [[reset]]"), stream=stream)
    assert fake.attempts == 1 and fake.cancelled_streams == 0


async def test_stream_drop(client: openai.AsyncOpenAI, fake: FakeDeepSeekChat) -> None:
    stream = await client.chat.completions.create(model=MODEL, messages=_user("hi [[stream:drop]]"), stream=True)
    seen = []
    # The socket closes mid chunked body: httpx's RemoteProtocolError becomes APIConnectionError.
    with pytest.raises(openai.APIConnectionError):
        async for chunk in stream:
            seen.append(chunk.choices[0].delta)
    assert len(seen) == 3  # role chunk + 2 reasoning deltas, never a finish_reason
    assert fake.cancelled_streams == 0  # a server-side drop is not a client disconnect
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model=MODEL, messages=_user("hi [[stream:drop]]"))


@pytest.mark.parametrize("stream", [True, False])
async def test_hang_times_out_and_counts_cancel(fake: FakeDeepSeekChat, stream: bool) -> None:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key=KEY, max_retries=0, timeout=0.3) as sdk:
        with pytest.raises(openai.APITimeoutError):
            await sdk.chat.completions.create(model=MODEL, messages=_user("hi [[hang]]"), stream=stream)
    await _wait_cancelled(fake)


async def test_trickle_idle_timeout(fake: FakeDeepSeekChat) -> None:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key=KEY, max_retries=0, timeout=0.5) as sdk:
        stream = await sdk.chat.completions.create(model=MODEL, messages=_user("hi [[trickle]]"), stream=True)
        seen = 0
        with pytest.raises(openai.APITimeoutError):  # the SDK maps the mid-stream read timeout too
            async for _ in stream:
                seen += 1
    assert seen == 3
    await _wait_cancelled(fake)


async def test_sdk_stream_close_cancels_stream(client: openai.AsyncOpenAI, fake: FakeDeepSeekChat) -> None:
    stream = await client.chat.completions.create(model=MODEL, messages=_user("hi [[slow]]"), stream=True)
    async for _ in stream:
        break
    await stream.close()
    await _wait_cancelled(fake)


# --------------------------------------------------------------------------- plumbing


async def test_models_and_base_url(
    client: openai.AsyncOpenAI, fake: FakeDeepSeekChat, http: aiohttp.ClientSession
) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", fake.base_url)  # no /v1 (A.1)
    models = [m.id async for m in client.models.list()]
    assert models == ["deepseek-v4-pro", "deepseek-v4-flash"]
    async with http.get(f"{fake.base_url}/v1/models") as resp:
        assert resp.status == 200
    async with openai.AsyncOpenAI(base_url=f"{fake.base_url}/v1", api_key=KEY, max_retries=0) as v1:
        completion = await v1.chat.completions.create(model=MODEL, messages=_user("hi"))
    assert completion.choices[0].message.content == "You said: hi (turn 1)"
    assert fake.requests[-1].path == "/v1/chat/completions"
    assert fake.attempts == 1


async def test_requests_are_recorded(client: openai.AsyncOpenAI, fake: FakeDeepSeekChat) -> None:
    thinking = {"thinking": {"type": "enabled"}}
    await client.chat.completions.create(model=MODEL, messages=_user("hi"), extra_body=thinking)
    recorded = fake.requests[-1]
    assert (recorded.method, recorded.path) == ("POST", "/chat/completions")
    assert recorded.headers["authorization"] == f"Bearer {KEY}"
    assert recorded.body == {"model": MODEL, "messages": _user("hi"), "thinking": {"type": "enabled"}}


async def test_latency_and_token_delay() -> None:
    server = FakeDeepSeekChat(latency_ms=50, token_delay_ms=10)
    await server.start()
    try:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key=KEY, max_retries=0) as sdk:
            loop = asyncio.get_running_loop()
            started = loop.time()
            completion = await sdk.chat.completions.create(model=FLASH, messages=_user("hi"), extra_body=NO_THINKING)
            elapsed = loop.time() - started
    finally:
        await server.close()
    assert completion.choices[0].message.content == "You said: hi (turn 1)"
    assert elapsed >= 0.05 + 5 * 0.01  # role chunk + 5 words, paced between chunks


async def test_standalone_module() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.upstreams.deepseek_chat", "--port", str(port)],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.to_thread(process.stdout.readline)
        base_url = f"http://127.0.0.1:{port}"
        assert base_url.encode() in line
        async with openai.AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=0) as sdk:
            completion = await sdk.chat.completions.create(model=MODEL, messages=_user("bench"))
        assert completion.choices[0].message.content == "You said: bench (turn 1)"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
