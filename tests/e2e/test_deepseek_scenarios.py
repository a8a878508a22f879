"""The SDK scenario suite of the core, run against ``deepseek-v4-pro``.

``deepseek-v4-pro`` is served by the Chat Completions adapter in front of the
fake DeepSeek (``tests/upstreams/deepseek_chat.py``); a client of the gateway
must not be able to tell: the same SDK calls get the same shapes, event orders
and errors as on OpenAI (``test_sdk_scenarios.py``). Every response and every
event goes through the validation helpers of that suite (SDK classes and the
Open Responses models). On top, the tests check the chat bodies that reached
DeepSeek: roles, the reasoning_content replay rule (upstreams.md A.4), the
thinking / effort / sampling mapping and the usage mapping (A.8).

The gateway routes ``deepseek-v4-pro`` to DeepSeek with ``gpt-5.4`` (the fake
OpenAI) as its fallback; ``deepseek-no-tools`` is the same upstream configured
without tool calling and without fallbacks, so raw error mapping shows there.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, cast

import openai
import pytest
from openai.types.responses import FunctionToolParam, ResponseFunctionToolCall, ResponseReasoningItem

from tests.e2e.conftest import Gateway
from tests.e2e.test_sdk_scenarios import (
    LONG_INPUT,
    WEATHER_TOOL,
    check_usage,
    collect_sdk_stream,
    create_validated,
    expect_error,
    http_session,
    raw_sse,
    types_of,
    validate_raw_event,
    validate_response_json,
    validate_sdk_event,
    validate_sdk_response,
    wait_until,
)

Json = dict[str, Any]

DEEPSEEK = "deepseek-v4-pro"
OPENAI = "gpt-5.4"
NO_TOOLS = "deepseek-no-tools"
TERMINAL_EVENTS = {"response.completed", "response.incomplete", "response.failed"}
SECRETS = ("sk-deepseek-secret", "sk-upstream-secret")
TOOL = cast(FunctionToolParam, WEATHER_TOOL)


@pytest.fixture
async def client(deepseek_gateway: Gateway) -> AsyncIterator[openai.AsyncOpenAI]:
    c = deepseek_gateway.client()
    try:
        yield c
    finally:
        await c.close()


# --------------------------------------------------------------------------- helpers


def chat_bodies(gateway: Gateway) -> list[Json]:
    """Bodies of the chat completion requests the fake DeepSeek received, in order."""
    assert gateway.deepseek is not None
    return [r.body for r in gateway.deepseek.requests if r.method == "POST" and r.body is not None]


def last_chat_body(gateway: Gateway) -> Json:
    bodies = chat_bodies(gateway)
    assert bodies, "nothing was sent to DeepSeek"
    return bodies[-1]


def roles_and_texts(messages: list[Json]) -> list[tuple[str, Any]]:
    return [(m["role"], m.get("content")) for m in messages]


def reasoning_text(item: Any) -> str:
    """The raw reasoning text of an SDK reasoning item (its content parts)."""
    assert isinstance(item, ResponseReasoningItem), type(item)
    return "".join(part.text for part in item.content or [])


def fake_prompt_usage(body: Json) -> tuple[int, int]:
    """(prompt_tokens, prompt_cache_hit_tokens) the fake DeepSeek reports for a chat body (its usage rule)."""
    words = 0
    for message in body["messages"]:
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
        words += len((content or "").split())
        words += len(str(message.get("reasoning_content") or "").split())
        for call in message.get("tool_calls") or []:
            words += len(str(call["function"].get("arguments", "")).split())
    miss = words + 4 * len(body["messages"]) + 16 * len(body.get("tools") or []) + 2
    hit = 64 if len(body["messages"]) > 3 else 0
    return hit + miss, hit


def assert_no_leak(err: openai.APIStatusError, *extra: str) -> None:
    text = f"{err.message} {json.dumps(err.body)}"
    for secret in (*SECRETS, *extra):
        assert secret not in text, f"{secret!r} leaked: {text}"


# --------------------------------------------------------------------------- 1-2: plain create


async def test_create_with_string_input(client: openai.AsyncOpenAI, deepseek_gateway: Gateway) -> None:
    """A one-line question gets reasoning + message, with DeepSeek's usage mapped to Responses usage."""
    response, body = await create_validated(client, model=DEEPSEEK, input="hello")

    assert response.output_text == "You said: hello (turn 1)"
    assert response.status == "completed"
    assert response.model == DEEPSEEK
    assert response.id.startswith("resp_")
    assert [item.type for item in response.output] == ["reasoning", "message"]
    reasoning, message = body["output"]
    assert reasoning["status"] == "completed"
    assert reasoning["id"].startswith("rs_")
    texts = [p["text"] for p in reasoning.get("content") or []] + [p["text"] for p in reasoning.get("summary") or []]
    assert "Thinking about: hello" in texts, reasoning
    assert message["status"] == "completed" and message["role"] == "assistant"

    chat = last_chat_body(deepseek_gateway)
    assert chat["model"] == DEEPSEEK
    assert chat["messages"] == [{"role": "user", "content": "hello"}]
    prompt_tokens, hit = fake_prompt_usage(chat)
    assert response.usage is not None
    usage = response.usage
    assert usage.input_tokens == prompt_tokens == 7  # 1 word + 4 per message + 2
    assert usage.input_tokens_details.cached_tokens == hit == 0
    assert usage.output_tokens == 8  # 3 reasoning deltas + 5 answer deltas = completion_tokens
    assert usage.output_tokens_details.reasoning_tokens == 3
    assert usage.total_tokens == 15
    assert deepseek_gateway.upstream.requests == []  # served by DeepSeek, no fallback


async def test_create_with_message_array_input(client: openai.AsyncOpenAI, deepseek_gateway: Gateway) -> None:
    """Short/typed messages, system, developer and assistant messages reach DeepSeek whole, in order."""
    conversation: list[Json] = [
        {"role": "system", "content": "Be terse"},
        {"role": "user", "content": "first question"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "first answer"}]},
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Use English"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "second question"}]},
    ]
    response, _ = await create_validated(client, model=DEEPSEEK, input=conversation)

    assert response.output_text == "[Be terse\nUse English] You said: second question (turn 2)"
    chat = last_chat_body(deepseek_gateway)
    assert roles_and_texts(chat["messages"]) == [
        ("system", "Be terse"),
        ("user", "first question"),
        ("assistant", "first answer"),
        ("system", "Use English"),
        ("user", "second question"),
    ]
    prompt_tokens, hit = fake_prompt_usage(chat)
    assert response.usage is not None
    assert response.usage.input_tokens == prompt_tokens
    assert response.usage.input_tokens_details.cached_tokens == hit == 64  # prompt_cache_hit_tokens


# --------------------------------------------------------------------------- 3-5: streaming


async def test_stream_event_order_and_identity(client: openai.AsyncOpenAI, deepseek_gateway: Gateway) -> None:
    """create(stream=True) emits the documented order, raw reasoning_text events first, with stable ids."""
    events = await collect_sdk_stream(client, model=DEEPSEEK, input="hello")

    assert [e.sequence_number for e in events] == list(range(len(events)))
    kinds = types_of(events)
    r_deltas = [e for e in events if e.type == "response.reasoning_text.delta"]
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert len(r_deltas) == 3 and len(deltas) == 5
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        *["response.reasoning_text.delta"] * len(r_deltas),
        "response.reasoning_text.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * len(deltas),
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    response_id = events[0].response.id
    assert response_id.startswith("resp_")
    lifecycle = [e for e in events if e.type in {"response.created", "response.in_progress", "response.completed"}]
    assert all(e.response.id == response_id for e in lifecycle)

    rs_added = events[2]
    rs_end = kinds.index("response.reasoning_text.done")
    rs_text_done, rs_done, msg_added = events[rs_end], events[rs_end + 1], events[rs_end + 2]
    assert rs_added.item.type == rs_done.item.type == "reasoning"
    assert rs_added.item.id == rs_done.item.id
    assert rs_added.output_index == rs_done.output_index == 0
    for e in [*r_deltas, rs_text_done]:
        assert e.item_id == rs_added.item.id and e.output_index == 0 and e.content_index == 0
    reasoning = "".join(e.delta for e in r_deltas)
    assert reasoning == rs_text_done.text == "Thinking about: hello"
    assert reasoning_text(rs_done.item) == reasoning
    assert rs_done.item.status == "completed"

    assert msg_added.item.type == "message" and msg_added.output_index == 1
    message_id = msg_added.item.id
    assert all(e.item_id == message_id and e.output_index == 1 for e in events[rs_end + 3 : -2])
    assert events[-2].item.id == message_id
    assert "".join(d.delta for d in deltas) == "You said: hello (turn 1)"

    final = events[-1].response
    validate_sdk_response(final)
    assert final.status == "completed"
    assert [item.id for item in final.output] == [rs_added.item.id, message_id]
    assert reasoning_text(final.output[0]) == "Thinking about: hello"
    assert final.output_text == "You said: hello (turn 1)"
    assert final.usage is not None
    assert final.usage.output_tokens == 8 and final.usage.output_tokens_details.reasoning_tokens == 3
    assert final.usage.input_tokens == 7

    chat = last_chat_body(deepseek_gateway)
    assert chat["stream"] is True
    assert chat["stream_options"] == {"include_usage": True}

    raw = await raw_sse(deepseek_gateway, {"model": DEEPSEEK, "input": "hello"})
    assert types_of(raw.events) == kinds  # wire framing: event: == type, [DONE] last, sequence checked


async def test_reasoning_summary_streamed(client: openai.AsyncOpenAI) -> None:
    """reasoning={"summary": "auto"}: summary part/text events replace the reasoning_text events."""
    events = await collect_sdk_stream(client, model=DEEPSEEK, input="hello", reasoning={"summary": "auto"})

    kinds = types_of(events)
    assert not any(k.startswith("response.reasoning_text.") for k in kinds), kinds
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
    assert all(e.item_id == rs_id and e.summary_index == 0 and e.output_index == 0 for e in summary_events)
    text = "".join(e.delta for e in summary_events if e.type == "response.reasoning_summary_text.delta")
    assert text == "Thinking about: hello"
    assert summary_events[-2].text == text
    assert summary_events[-1].part.text == text
    assert events[end].item.summary[0].text == text
    final = events[-1].response
    assert final.output[0].summary[0].text == text
    assert final.output_text == "You said: hello (turn 1)"


async def test_stream_helper_final_response(client: openai.AsyncOpenAI) -> None:
    """responses.stream() + get_final_response() work on deepseek-v4-pro and match the stored response."""
    async with client.responses.stream(model=DEEPSEEK, input="hello") as stream:
        async for event in stream:
            validate_sdk_event(event)
        final = await stream.get_final_response()

    validate_sdk_response(final)
    assert final.status == "completed"
    assert final.output_text == "You said: hello (turn 1)"
    assert final.model == DEEPSEEK
    assert [item.type for item in final.output] == ["reasoning", "message"]
    retrieved = await client.responses.retrieve(final.id)
    validate_sdk_response(retrieved)
    assert retrieved.output_text == final.output_text
    assert [getattr(i, "id", None) for i in retrieved.output] == [getattr(i, "id", None) for i in final.output]


# --------------------------------------------------------------------------- 6-7: stored conversations


async def test_three_turn_conversation_with_previous_response_id(
    client: openai.AsyncOpenAI, deepseek_gateway: Gateway
) -> None:
    """A chained conversation: history rebuilt as chat messages, earlier instructions dropped."""
    first, _ = await create_validated(client, model=DEEPSEEK, input="one", instructions="Be brief")
    assert first.output_text == "[Be brief] You said: one (turn 1)"
    assert chat_bodies(deepseek_gateway)[0]["messages"][0] == {"role": "system", "content": "Be brief"}
    second, _ = await create_validated(client, model=DEEPSEEK, input="two", previous_response_id=first.id)
    assert second.output_text == "You said: two (turn 2)"
    assert second.instructions is None
    third, _ = await create_validated(client, model=DEEPSEEK, input="three", previous_response_id=second.id)
    assert third.output_text == "You said: three (turn 3)"
    assert third.previous_response_id == second.id

    chat = last_chat_body(deepseek_gateway)
    assert roles_and_texts(chat["messages"]) == [
        ("user", "one"),
        ("assistant", "[Be brief] You said: one (turn 1)"),
        ("user", "two"),
        ("assistant", "You said: two (turn 2)"),
        ("user", "three"),
    ]
    assert all(m["role"] != "system" for m in chat["messages"])
    assert len(chat_bodies(deepseek_gateway)) == 3


async def test_retrieve_delete_and_unstored(client: openai.AsyncOpenAI, deepseek_gateway: Gateway) -> None:
    """Stored: reads back identical, deleted → 404 twice; store=False: 404 and not chainable."""
    created, _ = await create_validated(client, model=DEEPSEEK, input="keep me")
    retrieved = await client.responses.retrieve(created.id)
    validate_sdk_response(retrieved)
    assert retrieved.model_dump() == created.model_dump()
    await client.responses.delete(created.id)
    err = await expect_error(client.responses.retrieve(created.id), openai.NotFoundError)
    assert err.status_code == 404
    err = await expect_error(client.responses.delete(created.id), openai.NotFoundError)
    assert err.status_code == 404

    unstored, unstored_body = await create_validated(client, model=DEEPSEEK, input="forget me", store=False)
    assert unstored_body["store"] is False
    await expect_error(client.responses.retrieve(unstored.id), openai.NotFoundError)
    err = await expect_error(
        client.responses.create(model=DEEPSEEK, input="again", previous_response_id=unstored.id),
        openai.BadRequestError,
    )
    assert err.code == "previous_response_not_found"
    assert err.param == "previous_response_id"
    assert len(chat_bodies(deepseek_gateway)) == 2  # the failing turn never reached DeepSeek
    assert deepseek_gateway.upstream_bodies() == []


# --------------------------------------------------------------------------- 8-11: tools


FUNCTION_OUTPUT = "sunny, 21C"


@pytest.mark.parametrize("model", [OPENAI, DEEPSEEK])
async def test_tool_loop_with_previous_response_id(
    client: openai.AsyncOpenAI, deepseek_gateway: Gateway, model: str
) -> None:
    """Function call → tool output → next user turn, chained by previous_response_id, same SDK code on both models."""
    first, _ = await create_validated(client, model=model, input="weather in Paris", tools=[WEATHER_TOOL])
    assert [item.type for item in first.output] == ["reasoning", "function_call"]
    reasoning, call = first.output
    assert isinstance(call, ResponseFunctionToolCall)
    assert call.name == "get_weather"
    assert call.call_id.startswith("call_")
    assert json.loads(call.arguments) == {"text": "weather in Paris"}
    assert call.status == "completed"

    second, _ = await create_validated(
        client,
        model=model,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": FUNCTION_OUTPUT}],
        tools=[WEATHER_TOOL],
    )
    assert second.status == "completed"
    assert second.output_text == f"Tool said: {FUNCTION_OUTPUT}"

    third, _ = await create_validated(client, model=model, previous_response_id=second.id, input="thanks")
    assert third.status == "completed"
    assert third.output_text == "You said: thanks (turn 2)"

    if model == OPENAI:
        assert chat_bodies(deepseek_gateway) == []
        assert len(deepseek_gateway.upstream_bodies()) == 3
        return
    assert deepseek_gateway.upstream_bodies() == []  # no fallback involved
    bodies = chat_bodies(deepseek_gateway)
    assert len(bodies) == 3
    turn1_reasoning = reasoning_text(reasoning)
    assert turn1_reasoning == "Thinking about: weather in Paris"
    for body in bodies[1:]:
        assistant = [m for m in body["messages"] if m["role"] == "assistant" and m.get("tool_calls")]
        assert len(assistant) == 1, body["messages"]
        assert assistant[0]["reasoning_content"] == turn1_reasoning
        assert assistant[0]["tool_calls"] == [
            {"id": call.call_id, "type": "function", "function": {"name": "get_weather", "arguments": call.arguments}}
        ]
        tool = [m for m in body["messages"] if m["role"] == "tool"]
        assert tool == [{"role": "tool", "tool_call_id": call.call_id, "content": FUNCTION_OUTPUT}]
    assert [m["role"] for m in bodies[1]["messages"]] == ["user", "assistant", "tool"]
    assert bodies[1]["tools"][0]["function"]["name"] == "get_weather"
    assert roles_and_texts(bodies[2]["messages"])[-2:] == [
        ("assistant", f"Tool said: {FUNCTION_OUTPUT}"),
        ("user", "thanks"),
    ]
    assert [m["role"] for m in bodies[2]["messages"]] == ["user", "assistant", "tool", "assistant", "user"]


@pytest.mark.parametrize("model", [OPENAI, DEEPSEEK])
async def test_tool_loop_client_resends_everything(
    client: openai.AsyncOpenAI, deepseek_gateway: Gateway, model: str
) -> None:
    """Stateless tool loop as openai-agents runs it: output items resent as returned, no previous_response_id."""
    history: list[Any] = [{"role": "user", "content": "weather in Paris"}]
    first, _ = await create_validated(client, model=model, input=history, tools=[WEATHER_TOOL])
    assert [item.type for item in first.output] == ["reasoning", "function_call"]
    call = first.output[1]
    assert isinstance(call, ResponseFunctionToolCall)
    history += [item.model_dump(exclude_unset=True) for item in first.output]
    # The output as content parts this time: DeepSeek's tool message still gets a plain string.
    output_parts = [{"type": "input_text", "text": FUNCTION_OUTPUT}]
    history.append({"type": "function_call_output", "call_id": call.call_id, "output": output_parts})

    second, _ = await create_validated(client, model=model, input=history, tools=[WEATHER_TOOL])
    assert second.status == "completed"
    assert second.output_text == f"Tool said: {FUNCTION_OUTPUT}"
    history += [item.model_dump(exclude_unset=True) for item in second.output]
    history.append({"role": "user", "content": "thanks"})

    third, _ = await create_validated(client, model=model, input=history, tools=[WEATHER_TOOL], tool_choice="none")
    assert third.status == "completed"
    assert third.output_text == "You said: thanks (turn 2)"

    if model == OPENAI:
        assert chat_bodies(deepseek_gateway) == []
        assert len(deepseek_gateway.upstream_bodies()) == 3
        return
    assert deepseek_gateway.upstream_bodies() == []
    bodies = chat_bodies(deepseek_gateway)
    assert len(bodies) == 3
    for body in bodies[1:]:
        assistant = [m for m in body["messages"] if m["role"] == "assistant" and m.get("tool_calls")]
        assert len(assistant) == 1, body["messages"]
        turn1_reasoning = reasoning_text(first.output[0])
        assert assistant[0]["reasoning_content"] == turn1_reasoning == "Thinking about: weather in Paris"
        assert [c["id"] for c in assistant[0]["tool_calls"]] == [call.call_id]
        assert [m for m in body["messages"] if m["role"] == "tool"] == [
            {"role": "tool", "tool_call_id": call.call_id, "content": FUNCTION_OUTPUT}
        ]
    assert [m["role"] for m in bodies[1]["messages"]] == ["user", "assistant", "tool"]
    assert [m["role"] for m in bodies[2]["messages"]] == ["user", "assistant", "tool", "assistant", "user"]
    assert bodies[2]["tool_choice"] == "none"


async def test_function_call_output_without_matching_call(
    client: openai.AsyncOpenAI, deepseek_gateway: Gateway
) -> None:
    """A function_call_output whose call_id matches no call is the client's 400, never sent upstream."""
    err = await expect_error(
        client.responses.create(
            model=DEEPSEEK,
            input=[
                {"role": "user", "content": "weather in Paris"},
                {"type": "function_call_output", "call_id": "call_nobody_made", "output": FUNCTION_OUTPUT},
            ],
            tools=[TOOL],
        ),
        openai.BadRequestError,
    )
    assert err.status_code == 400
    assert err.param is not None and "input" in err.param, err.param
    assert "call_nobody_made" in err.message

    # Same through a chain: the stored turn had no call with that id.
    first, _ = await create_validated(client, model=DEEPSEEK, input="hello")
    err = await expect_error(
        client.responses.create(
            model=DEEPSEEK,
            previous_response_id=first.id,
            input=[{"type": "function_call_output", "call_id": "call_nobody_made", "output": FUNCTION_OUTPUT}],
        ),
        openai.BadRequestError,
    )
    assert err.param is not None and "input" in err.param, err.param
    assert len(chat_bodies(deepseek_gateway)) == 1  # only the "hello" turn
    assert deepseek_gateway.upstream_bodies() == []  # a client error does not fall back either


async def test_tools_capability(client: openai.AsyncOpenAI, deepseek_gateway: Gateway) -> None:
    """Tools on a model without tool calling are a 400 naming tools; tools=[] is accepted and not sent."""
    err = await expect_error(
        client.responses.create(model=NO_TOOLS, input="weather in Paris", tools=[TOOL]),
        openai.BadRequestError,
    )
    assert err.status_code == 400
    assert err.param == "tools"
    assert "tool" in err.message.lower()
    assert chat_bodies(deepseek_gateway) == []
    assert deepseek_gateway.upstream_bodies() == []

    response, _ = await create_validated(client, model=DEEPSEEK, input="hello", tools=[])
    assert response.output_text == "You said: hello (turn 1)"
    chat = last_chat_body(deepseek_gateway)
    assert "tools" not in chat and "tool_choice" not in chat


# --------------------------------------------------------------------------- 12-13: limits, reasoning, sampling


async def test_max_output_tokens_makes_response_incomplete(
    client: openai.AsyncOpenAI, deepseek_gateway: Gateway
) -> None:
    """max_tokens reached (finish_reason length) → status incomplete, reason max_output_tokens, JSON and streamed."""
    response, _ = await create_validated(client, model=DEEPSEEK, input=LONG_INPUT, max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage is not None and response.usage.output_tokens == 16
    assert last_chat_body(deepseek_gateway)["max_tokens"] == 16

    events = await collect_sdk_stream(client, model=DEEPSEEK, input=LONG_INPUT, max_output_tokens=16)
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.status == "incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"
    assert "response.completed" not in types_of(events)

    # Non-thinking: the cut falls inside the answer, the message is incomplete.
    body = {"model": DEEPSEEK, "input": LONG_INPUT, "max_output_tokens": 16, "reasoning": {"effort": "none"}}
    raw = (await raw_sse(deepseek_gateway, body)).events
    assert raw[-1]["type"] == "response.incomplete"
    assert [t for t in types_of(raw) if t in TERMINAL_EVENTS] == ["response.incomplete"]
    final = raw[-1]["response"]
    assert final["incomplete_details"]["reason"] == "max_output_tokens"
    assert [item["type"] for item in final["output"]] == ["message"]
    assert final["output"][-1]["status"] == "incomplete"
    assert final["usage"]["output_tokens"] == 16


async def test_content_filter_makes_response_incomplete(client: openai.AsyncOpenAI, deepseek_gateway: Gateway) -> None:
    """finish_reason content_filter → status incomplete, reason content_filter, JSON and streamed."""
    response, body = await create_validated(client, model=DEEPSEEK, input="hello [[filter]]")
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "content_filter"
    assert response.output_text == "You said:"
    assert body["output"][-1]["type"] == "message"
    assert body["output"][-1]["status"] == "incomplete"

    raw = (await raw_sse(deepseek_gateway, {"model": DEEPSEEK, "input": "hello [[filter]]"})).events
    assert [t for t in types_of(raw) if t in TERMINAL_EVENTS] == ["response.incomplete"]
    assert raw[-1]["type"] == "response.incomplete"
    assert raw[-1]["response"]["incomplete_details"]["reason"] == "content_filter"
    assert raw[-1]["response"]["output"][-1]["status"] == "incomplete"


async def test_reasoning_effort_none_disables_thinking(client: openai.AsyncOpenAI, deepseek_gateway: Gateway) -> None:
    """effort "none" → thinking disabled upstream and no reasoning item."""
    response, _ = await create_validated(client, model=DEEPSEEK, input="hello", reasoning={"effort": "none"})
    assert response.output_text == "You said: hello (turn 1)"
    assert [item.type for item in response.output] == ["message"]
    assert response.usage is not None and response.usage.output_tokens_details.reasoning_tokens == 0
    chat = last_chat_body(deepseek_gateway)
    assert chat["thinking"] == {"type": "disabled"}
    assert "reasoning_effort" not in chat

    events = await collect_sdk_stream(client, model=DEEPSEEK, input="hello", reasoning={"effort": "none"})
    assert not any("reasoning" in kind for kind in types_of(events))
    assert [item.type for item in events[-1].response.output] == ["message"]


@pytest.mark.parametrize(("effort", "upstream"), [("medium", "high"), ("minimal", "low"), ("max", "max")])
async def test_reasoning_effort_mapping(
    client: openai.AsyncOpenAI, deepseek_gateway: Gateway, effort: str, upstream: str
) -> None:
    """Responses effort → DeepSeek reasoning_effort (medium→high, minimal→low, max→max), thinking on."""
    reasoning = cast(Any, {"effort": effort})
    raw = await client.responses.with_raw_response.create(model=DEEPSEEK, input="hello", reasoning=reasoning)
    response = raw.parse()
    body = raw.http_response.json()
    # Echoed as requested, as OpenAI does. The SDK's ReasoningEffort has "minimal" and "max",
    # the Open Responses enum has neither: validate everything else with a stand-in effort.
    assert body["reasoning"]["effort"] == response.reasoning.effort == effort  # type: ignore[union-attr]
    validate_response_json({**body, "reasoning": {**body["reasoning"], "effort": "high"}})
    assert response.reasoning is not None
    stand_in = response.reasoning.model_copy(update={"effort": "high"})
    validate_sdk_response(response.model_copy(update={"reasoning": stand_in}))
    assert response.status == "completed"
    assert [item.type for item in response.output] == ["reasoning", "message"]
    chat = last_chat_body(deepseek_gateway)
    assert chat["thinking"] == {"type": "enabled"}
    assert chat["reasoning_effort"] == upstream


async def test_temperature_only_forwarded_without_thinking(
    client: openai.AsyncOpenAI, deepseek_gateway: Gateway
) -> None:
    """temperature is dropped in thinking mode (DeepSeek ignores it) and forwarded in non-thinking mode."""
    await create_validated(client, model=DEEPSEEK, input="hello", temperature=0.3)
    assert "temperature" not in last_chat_body(deepseek_gateway)

    await create_validated(client, model=DEEPSEEK, input="hello", temperature=0.3, reasoning={"effort": "none"})
    chat = last_chat_body(deepseek_gateway)
    assert chat["thinking"] == {"type": "disabled"}
    assert chat["temperature"] == pytest.approx(0.3)


# --------------------------------------------------------------------------- 14: upstream faults


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_context_overflow_is_bad_request(
    client: openai.AsyncOpenAI, deepseek_gateway: Gateway, stream: bool
) -> None:
    """DeepSeek's 400 context overflow → BadRequestError context_length_exceeded, no fallback."""
    params: Json = {"model": DEEPSEEK, "input": "hello [[http:400]]"}
    if stream:
        params["stream"] = True
    err = await expect_error(client.responses.create(**params), openai.BadRequestError)
    assert err.status_code == 400
    assert err.code == "context_length_exceeded"
    assert_no_leak(err)
    assert deepseek_gateway.upstream_bodies() == []  # a client error is not failed over


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("status", [402, 429, 500, 503])
async def test_failover_faults_fall_back_to_openai(
    client: openai.AsyncOpenAI, deepseek_gateway: Gateway, status: int, stream: bool
) -> None:
    """A DeepSeek quota/rate/server fault on deepseek-v4-pro is answered by its fallback gpt-5.4."""
    assert deepseek_gateway.deepseek is not None
    # Scripted (fail_next), not a [[http:N]] trigger: the fake OpenAI would obey the trigger too.
    deepseek_gateway.deepseek.fail_next = [(status, None)] * 5
    if stream:
        events = await collect_sdk_stream(client, model=DEEPSEEK, input="hello")
        assert [e.sequence_number for e in events] == list(range(len(events)))
        assert types_of(events)[0] == "response.created"
        assert [t for t in types_of(events) if t in TERMINAL_EVENTS] == ["response.completed"]
        response = events[-1].response
    else:
        response, _ = await create_validated(client, model=DEEPSEEK, input="hello")

    assert response.status == "completed"
    assert response.output_text == "You said: hello (turn 1)"
    assert deepseek_gateway.deepseek.attempts >= 1
    openai_bodies = deepseek_gateway.upstream_bodies()
    assert len(openai_bodies) == 1
    assert openai_bodies[0]["model"] == OPENAI


RAW_FAULTS = [
    ("[[http:402]]", openai.InternalServerError, 503, "upstream_quota_exhausted"),
    ("[[http:429]]", openai.RateLimitError, 429, "rate_limit_exceeded"),
    ("[[http:500]]", openai.InternalServerError, 500, None),
    ("[[http:503]]", openai.InternalServerError, 503, None),
]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(("trigger", "error_class", "status", "code"), RAW_FAULTS)
async def test_upstream_http_faults_without_fallback(
    client: openai.AsyncOpenAI,
    deepseek_gateway: Gateway,
    trigger: str,
    error_class: type[openai.APIStatusError],
    status: int,
    code: str | None,
    stream: bool,
) -> None:
    """On a model without fallbacks DeepSeek's HTTP faults map to the OpenAI errors, in the gateway's words."""
    params: Json = {"model": NO_TOOLS, "input": f"hello {trigger}"}
    if stream:
        params["stream"] = True
    err = await expect_error(client.responses.create(**params), error_class)
    assert err.status_code == status
    if code is not None:
        assert err.code == code
    assert_no_leak(err, "Insufficient Balance", "Server Overloaded", "Rate Limit Reached")
    assert deepseek_gateway.upstream_bodies() == []


# --------------------------------------------------------------------------- 15-17: streams


@pytest.mark.parametrize("thinking", [False, True], ids=["answer", "thinking"])
async def test_upstream_connection_drop_mid_stream(
    client: openai.AsyncOpenAI, deepseek_gateway: Gateway, thinking: bool
) -> None:
    """DeepSeek cuts the stream: error, response.failed with the partial item (incomplete), [DONE]."""
    body: Json = {"model": DEEPSEEK, "input": "hello [[stream:drop]]"}
    if not thinking:
        body["reasoning"] = {"effort": "none"}
    stream = await raw_sse(deepseek_gateway, body)
    events = stream.events
    kinds = types_of(events)

    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-2:] == ["error", "response.failed"]
    assert [k for k in kinds if k in TERMINAL_EVENTS] == ["response.failed"]
    assert sum(1 for _, data in stream.frames if data == "[DONE]") == 1
    failed = events[-1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"] is not None
    assert failed["id"] == events[0]["response"]["id"]
    check_usage(failed["usage"])

    if thinking:
        streamed = "".join(e["delta"] for e in events if e["type"] == "response.reasoning_text.delta")
        assert streamed == "Thinking about:"
        assert [item["type"] for item in failed["output"]] == ["reasoning"]
        partial = failed["output"][0]
        assert partial["content"][0]["text"] == streamed
    else:
        streamed = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
        assert streamed == "You said:"
        assert [item["type"] for item in failed["output"]] == ["message"]
        partial = failed["output"][0]
        assert partial["content"][0]["text"] == streamed
    assert partial["status"] == "incomplete"

    retrieved = await client.responses.retrieve(failed["id"])
    validate_sdk_response(retrieved)
    assert retrieved.status == "failed"
    assert deepseek_gateway.upstream_bodies() == []  # too late to fall back


async def test_client_disconnect_cancels_upstream(deepseek_gateway: Gateway) -> None:
    """A client that hangs up mid-stream stops the DeepSeek generation too."""
    assert deepseek_gateway.deepseek is not None
    async with http_session() as session:
        body = {"model": DEEPSEEK, "input": "hello [[slow]] take your time", "stream": True}
        async with session.post(f"{deepseek_gateway.http_url}/v1/responses", json=body) as resp:
            assert resp.status == 200
            frames = 0
            async for line in resp.content:
                if line.startswith(b"data: "):
                    validate_raw_event(json.loads(line[6:]))
                    frames += 1
                    if frames == 3:
                        break
            resp.close()  # drop the connection rather than reading to the end
    assert deepseek_gateway.deepseek.cancelled_streams == 0  # DeepSeek was still generating
    await wait_until(
        lambda: deepseek_gateway.deepseek is not None and deepseek_gateway.deepseek.cancelled_streams == 1,
        5.0,
        "the DeepSeek stream to be cancelled",
    )


async def test_queue_keepalives_are_tolerated(client: openai.AsyncOpenAI, deepseek_gateway: Gateway) -> None:
    """Queued requests: leading blank lines (JSON) and keep-alive comments (SSE) do not disturb the answer."""
    expected = "You said: hello [[queue]] (turn 1)"
    response, _ = await create_validated(client, model=DEEPSEEK, input="hello [[queue]]")
    assert response.status == "completed"
    assert response.output_text == expected

    events = await collect_sdk_stream(client, model=DEEPSEEK, input="hello [[queue]]")
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == expected

    raw = (await raw_sse(deepseek_gateway, {"model": DEEPSEEK, "input": "hello [[queue]]"})).events
    assert raw[-1]["type"] == "response.completed"
    assert deepseek_gateway.upstream_bodies() == []  # no fallback needed
