"""A coding agent's tools on a Chat Completions provider, through the `openai` SDK.

Codex-style requests (a custom `apply_patch` tool, a namespace of MCP tools, a hosted
`web_search`) go to ``deepseek-v4-pro``, which the gateway serves from the fake DeepSeek:
the custom tool comes back as a `custom_tool_call` with its input events, a namespaced
call comes back with its namespace, `web_search` is withheld and the response says so,
and the tool's output continues the conversation, stored or resent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from openai.types.responses import (
    ResponseCustomToolCall,
    ResponseCustomToolCallInputDeltaEvent,
    ResponseCustomToolCallInputDoneEvent,
    ResponseFunctionToolCall,
)

from tests.e2e.conftest import Gateway

DEEPSEEK = "deepseek-v4-pro"
APPLY_PATCH = {"type": "custom", "name": "apply_patch", "description": "Edit files.", "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}}
GITHUB = {
    "type": "namespace",
    "name": "mcp__github",
    "description": "GitHub.",
    "tools": [{"type": "function", "name": "get_issue", "description": "Read an issue.", "parameters": {"type": "object", "properties": {"text": {"type": "string"}}}}],
}
WEB = {"type": "web_search", "external_web_access": False}


@pytest.fixture
async def client(deepseek_gateway: Gateway) -> AsyncIterator[openai.AsyncOpenAI]:
    async with deepseek_gateway.client() as sdk:
        yield sdk


def _deepseek_bodies(gateway: Gateway) -> list[dict[str, Any]]:
    assert gateway.deepseek is not None
    return [r.body for r in gateway.deepseek.requests if r.method == "POST" and r.body is not None]


async def test_a_custom_tool_call_streams_and_its_output_continues_the_stored_conversation(deepseek_gateway: Gateway, client: openai.AsyncOpenAI) -> None:
    stream = await client.responses.create(model=DEEPSEEK, input="patch the readme", tools=[APPLY_PATCH, WEB], stream=True)  # type: ignore[list-item]
    events = [event async for event in stream]
    kinds = [e.type for e in events]
    assert "response.custom_tool_call_input.delta" in kinds and "response.custom_tool_call_input.done" in kinds, kinds
    assert "response.function_call_arguments.delta" not in kinds
    delta = next(e for e in events if e.type == "response.custom_tool_call_input.delta")
    done = next(e for e in events if e.type == "response.custom_tool_call_input.done")
    assert isinstance(delta, ResponseCustomToolCallInputDeltaEvent) and isinstance(done, ResponseCustomToolCallInputDoneEvent)
    response = events[-1].response
    assert response.status == "completed"
    (call,) = response.output[1:] if len(response.output) > 1 else response.output  # after the reasoning item
    assert isinstance(call, ResponseCustomToolCall) and call.name == "apply_patch"
    assert call.input == done.input == delta.delta and call.id == done.item_id
    # The fake DeepSeek called the function form with its own arguments: the input is what it wrote.
    assert json.loads(call.input) == {"text": "patch the readme"}
    assert response.model_extra is not None and response.model_extra["withheld_tools"] == ["web_search"]
    sent = _deepseek_bodies(deepseek_gateway)[-1]
    assert [t["function"]["name"] for t in sent["tools"]] == ["apply_patch"]

    # The client runs the patch and answers with a custom_tool_call_output on the stored conversation.
    follow = await client.responses.create(
        model=DEEPSEEK,
        previous_response_id=response.id,
        input=[{"type": "custom_tool_call_output", "call_id": call.call_id, "output": "Done! 1 file changed"}],
        tools=[APPLY_PATCH],  # type: ignore[list-item]
    )
    assert follow.output_text.endswith("Tool said: Done! 1 file changed")
    replayed = _deepseek_bodies(deepseek_gateway)[-1]["messages"]
    (assistant,) = [m for m in replayed if m.get("tool_calls")]
    function = assistant["tool_calls"][0]["function"]
    assert function["name"] == "apply_patch" and json.loads(function["arguments"]) == {"input": call.input}
    assert replayed[-1] == {"role": "tool", "tool_call_id": call.call_id, "content": "Done! 1 file changed"}

    items = await client.responses.input_items.list(follow.id, order="asc")
    kinds_stored = [i.type for i in items.data]
    assert kinds_stored[-1] == "custom_tool_call_output", kinds_stored


async def test_a_namespaced_call_comes_back_under_its_namespace_and_resent_history_works(deepseek_gateway: Gateway, client: openai.AsyncOpenAI) -> None:
    first = await client.responses.create(model=DEEPSEEK, input="read issue 7", tools=[GITHUB], store=False)  # type: ignore[list-item]
    (call,) = [i for i in first.output if i.type == "function_call"]
    assert isinstance(call, ResponseFunctionToolCall)
    assert (call.name, call.namespace) == ("get_issue", "mcp__github")
    assert _deepseek_bodies(deepseek_gateway)[-1]["tools"][0]["function"]["name"] == "mcp__github__get_issue"

    # Codex's way: store off, the whole conversation resent, the call as it came back.
    second = await client.responses.create(
        model=DEEPSEEK,
        store=False,
        tools=[GITHUB],  # type: ignore[list-item]
        input=[
            {"role": "user", "content": "read issue 7"},
            call.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"type": "function_call_output", "call_id": call.call_id, "output": "Issue 7: crash on start"},
        ],
    )
    assert second.output_text.endswith("Tool said: Issue 7: crash on start")
    messages = _deepseek_bodies(deepseek_gateway)[-1]["messages"]
    (assistant,) = [m for m in messages if m.get("tool_calls")]
    assert assistant["tool_calls"][0]["function"]["name"] == "mcp__github__get_issue"


async def test_forcing_a_tool_the_provider_cannot_run_is_a_400_naming_it(deepseek_gateway: Gateway, client: openai.AsyncOpenAI) -> None:
    before = len(_deepseek_bodies(deepseek_gateway))
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model=DEEPSEEK, input="search", tools=[WEB], tool_choice={"type": "web_search"})  # type: ignore[list-item,arg-type]
    error = caught.value.body
    assert isinstance(error, dict) and error["param"] == "tool_choice" and "web_search" in error["message"], error
    assert len(_deepseek_bodies(deepseek_gateway)) == before  # refused before the upstream was asked


async def test_a_bad_custom_or_namespace_tool_is_a_400_on_every_provider(deepseek_gateway: Gateway, client: openai.AsyncOpenAI) -> None:
    for model in (DEEPSEEK, "gpt-5.4"):
        with pytest.raises(openai.BadRequestError) as caught:
            await client.responses.create(model=model, input="x", tools=[{"type": "custom", "name": "bad name!"}])  # type: ignore[list-item]
        assert isinstance(caught.value.body, dict) and caught.value.body["param"] == "tools[0].name"
        with pytest.raises(openai.BadRequestError) as caught:
            await client.responses.create(
                model=model,
                input="x",
                tools=[{"type": "namespace", "name": "ns", "description": "", "tools": [{"type": "web_search"}]}],  # type: ignore[list-item]
            )
        assert isinstance(caught.value.body, dict) and caught.value.body["param"] == "tools[0].tools[0].type"
