"""Coding-agent tools on a Chat Completions upstream: namespaces, custom tools, hosted tools withheld."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from responses_gateway.codec import request_from_json
from responses_gateway.codec.events import EVENT_TYPES, event_to_json
from responses_gateway.codec.items import item_to_json
from responses_gateway.config import ChatDialect
from responses_gateway.errors import InvalidRequest
from responses_gateway.providers.chat_completions.convert import to_chat_request
from responses_gateway.providers.chat_completions.stream import ChunkTranslator
from responses_gateway.providers.chat_completions.tools import ToolMap, custom_input

APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files with a patch.",
    "format": {"type": "grammar", "syntax": "lark", "definition": 'start: "*** Begin Patch" /(.|\\n)*/ "*** End Patch"'},
}
SHELL = {"type": "function", "name": "shell", "description": "Run a command.", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}, "strict": False}
MCP = {
    "type": "namespace",
    "name": "mcp__github",
    "description": "GitHub tools.",
    "tools": [
        {"type": "function", "name": "get_issue", "description": "Read an issue.", "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}}},
        {"type": "custom", "name": "comment", "description": "Post a comment."},
    ],
}
WEB = {"type": "web_search", "external_web_access": False}
CODEX_TOOLS = [SHELL, APPLY_PATCH, MCP, WEB]


def _request(**fields: Any) -> Any:
    return request_from_json({"model": "deepseek-v4-pro", "input": "fix the bug", **fields})


def _chat(**fields: Any) -> dict[str, Any]:
    return to_chat_request(_request(**fields), "deepseek-v4-pro", ChatDialect(), stream=False)


def _names(chat: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] for t in chat.get("tools", [])]


def test_codex_tools_become_functions_and_hosted_ones_are_withheld() -> None:
    chat = _chat(tools=CODEX_TOOLS)
    assert _names(chat) == ["shell", "apply_patch", "mcp__github__get_issue", "mcp__github__comment"]
    patch = chat["tools"][1]["function"]
    assert patch["parameters"]["required"] == ["input"]
    assert patch["parameters"]["properties"]["input"]["type"] == "string"
    assert "*** Begin Patch" in patch["parameters"]["properties"]["input"]["description"]
    assert patch["description"] == "Edit files with a patch."
    issue = chat["tools"][2]["function"]
    assert issue["description"] == "[mcp__github: GitHub tools.] Read an issue."
    assert issue["parameters"] == {"type": "object", "properties": {"n": {"type": "integer"}}}
    assert ToolMap.of(_request(tools=CODEX_TOOLS)).withheld == ["web_search"]


def test_a_request_with_only_hosted_tools_offers_the_upstream_none() -> None:
    chat = _chat(tools=[WEB, {"type": "file_search", "vector_store_ids": ["vs_1"]}, WEB], tool_choice="auto")
    assert "tools" not in chat and "tool_choice" not in chat
    assert ToolMap.of(_request(tools=[WEB, {"type": "file_search", "vector_store_ids": ["vs_1"]}, WEB])).withheld == ["web_search", "file_search"]


def test_forcing_a_hosted_tool_is_a_400_naming_it() -> None:
    with pytest.raises(InvalidRequest) as caught:
        _chat(tools=CODEX_TOOLS, tool_choice={"type": "web_search"})
    assert caught.value.param == "tool_choice" and caught.value.http_status == 400
    assert "'web_search'" in caught.value.message and "deepseek-v4-pro" in caught.value.message


def test_forcing_a_custom_tool_forces_its_function() -> None:
    chat = _chat(tools=CODEX_TOOLS, tool_choice={"type": "custom", "name": "apply_patch"})
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "apply_patch"}}
    with pytest.raises(InvalidRequest) as caught:
        _chat(tools=CODEX_TOOLS, tool_choice={"type": "custom", "name": "nope"})
    assert caught.value.param == "tool_choice"


def test_allowed_tools_offers_only_what_it_names() -> None:
    chat = _chat(
        tools=CODEX_TOOLS,
        tool_choice={"type": "allowed_tools", "mode": "required", "tools": [{"type": "custom", "name": "apply_patch"}, {"type": "namespace", "name": "mcp__github"}, {"type": "web_search"}]},
    )
    assert _names(chat) == ["apply_patch", "mcp__github__get_issue", "mcp__github__comment"]
    assert chat["tool_choice"] == "required"


def test_a_flattened_name_never_collides_or_overflows() -> None:
    long_ns = {"type": "namespace", "name": "n" * 60, "description": "", "tools": [{"type": "function", "name": "tool"}]}
    taken = {"type": "namespace", "name": "a", "description": "", "tools": [{"type": "function", "name": "b"}]}
    tools = ToolMap.of(_request(tools=[{"type": "function", "name": "a__b"}, taken, long_ns]))
    names = [f["function"]["name"] for f in tools.functions]
    assert names[0] == "a__b" and len(set(names)) == 3
    assert all(len(n) <= 64 for n in names)
    for name in names[1:]:
        assert tools.call_item(name).function_call.HasField("namespace")


def test_history_of_custom_and_namespaced_calls_goes_back_as_tool_calls() -> None:
    chat = _chat(
        tools=CODEX_TOOLS,
        input=[
            {"role": "user", "content": "fix it"},
            {"type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch", "input": "*** Begin Patch\n+x\n*** End Patch"},
            {"type": "function_call", "call_id": "call_i", "name": "get_issue", "namespace": "mcp__github", "arguments": '{"n":7}'},
            {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Done!"},
            {"type": "function_call_output", "call_id": "call_i", "output": "issue 7"},
        ],
    )
    assistant = chat["messages"][1]
    assert assistant["tool_calls"] == [
        {"id": "call_p", "type": "function", "function": {"name": "apply_patch", "arguments": orjson.dumps({"input": "*** Begin Patch\n+x\n*** End Patch"}).decode()}},
        {"id": "call_i", "type": "function", "function": {"name": "mcp__github__get_issue", "arguments": '{"n":7}'}},
    ]
    assert chat["messages"][2:] == [
        {"role": "tool", "tool_call_id": "call_p", "content": "Done!"},
        {"role": "tool", "tool_call_id": "call_i", "content": "issue 7"},
    ]


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c1", "model": "deepseek-v4-pro", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _stream(tools: list[dict[str, Any]], fragments: list[dict[str, Any]]) -> list[Any]:
    translator = ChunkTranslator(reasoning_field="reasoning_content", summarize=False, tools=ToolMap.of(_request(tools=tools)))
    events = [e for f in fragments for e in translator.feed(_chunk({"tool_calls": [f]}))]
    events += list(translator.feed(_chunk({}, "tool_calls")))
    events += list(translator.finish())
    return events


def test_a_custom_tool_call_streams_as_custom_tool_call_events() -> None:
    patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch"
    arguments = orjson.dumps({"input": patch}).decode()
    events = _stream(
        CODEX_TOOLS,
        [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "apply_patch", "arguments": ""}},
            {"index": 0, "function": {"arguments": arguments[:10]}},
            {"index": 0, "function": {"arguments": arguments[10:]}},
        ],
    )
    assert [EVENT_TYPES[e.WhichOneof("event")] for e in events] == [
        "response.output_item.added",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
        "response.completed",
    ]
    added, delta, done, item_done, completed = (event_to_json(e) for e in events)
    assert added["item"]["type"] == "custom_tool_call" and added["item"]["id"].startswith("ctc_")
    assert delta["delta"] == patch and done["input"] == patch
    assert item_done["item"] == {"id": added["item"]["id"], "type": "custom_tool_call", "status": "completed", "call_id": "call_1", "name": "apply_patch", "input": patch}
    assert completed["response"]["output"] == [item_done["item"]]


def test_a_namespaced_call_comes_back_with_its_namespace() -> None:
    events = _stream(CODEX_TOOLS, [{"index": 0, "id": "call_9", "type": "function", "function": {"name": "mcp__github__get_issue", "arguments": '{"n":7}'}}])
    item = item_to_json(events[-1].completed.response.output[0])
    assert item == {"id": item["id"], "type": "function_call", "status": "completed", "call_id": "call_9", "name": "get_issue", "arguments": '{"n":7}', "namespace": "mcp__github"}


def test_the_terminal_response_lists_the_withheld_tools() -> None:
    events = _stream(CODEX_TOOLS, [{"index": 0, "id": "call_1", "function": {"name": "shell", "arguments": "{}"}}])
    assert list(events[-1].completed.response.withheld_tools) == ["web_search"]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [('{"input": "a\\nb"}', "a\nb"), ("plain text the model wrote", "plain text the model wrote"), ('{"input": 3}', '{"input": 3}'), ("{broken", "{broken")],
)
def test_a_custom_input_is_read_from_whatever_the_model_wrote(arguments: str, expected: str) -> None:
    assert custom_input(arguments) == expected
