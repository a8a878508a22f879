"""Chat Completions translation, on recorded DeepSeek v4 chunk shapes (upstreams.md §A.5–A.6)."""

from __future__ import annotations

from typing import Any

import pytest

from responses_gateway.codec import request_from_json
from responses_gateway.codec.events import EVENT_TYPES
from responses_gateway.config import ChatDialect
from responses_gateway.errors import InvalidRequest, UpstreamError
from responses_gateway.providers.chat_completions.convert import to_chat_request
from responses_gateway.providers.chat_completions.stream import ChunkTranslator

DEEPSEEK = ChatDialect()


def _chat(body: dict[str, Any], dialect: ChatDialect = DEEPSEEK) -> dict[str, Any]:
    return to_chat_request(request_from_json(body), "deepseek-v4-pro", dialect, stream=False)


def test_a_tool_turn_becomes_one_assistant_message_with_its_reasoning() -> None:
    chat = _chat(
        {
            "model": "deepseek-v4-pro",
            "instructions": "Be brief",
            "input": [
                {"role": "user", "content": "weather?"},
                {"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "think"}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me look."}]},
                {"type": "function_call", "call_id": "call_a", "name": "w", "arguments": "{}"},
                {"type": "function_call", "call_id": "call_b", "name": "w", "arguments": "{\"x\":1}"},
                {"type": "function_call_output", "call_id": "call_a", "output": "sunny"},
                {"type": "function_call_output", "call_id": "call_b", "output": [{"type": "input_text", "text": "rain"}]},
            ],
        }
    )
    assert chat["messages"] == [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": "Let me look.",
            "reasoning_content": "think",
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "w", "arguments": "{}"}},
                {"id": "call_b", "type": "function", "function": {"name": "w", "arguments": "{\"x\":1}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_b", "content": "rain"},
    ]


def test_tool_calls_without_reasoning_still_carry_the_key_in_thinking_mode() -> None:
    chat = _chat(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": "x"},
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c", "output": "1"},
            ],
        }
    )
    assert chat["messages"][1]["reasoning_content"] == ""
    assert chat["thinking"] == {"type": "enabled"}


def test_effort_and_sampling_follow_deepseek_rules() -> None:
    thinking = _chat({"model": "m", "input": "x", "reasoning": {"effort": "medium"}, "temperature": 0.2})
    assert thinking["reasoning_effort"] == "high" and "temperature" not in thinking
    plain = _chat({"model": "m", "input": "x", "reasoning": {"effort": "none"}, "temperature": 0.2})
    assert plain["thinking"] == {"type": "disabled"} and plain["temperature"] == 0.2
    assert "reasoning_effort" not in plain


def test_empty_tools_are_dropped_with_tool_choice() -> None:
    chat = _chat({"model": "m", "input": "x", "tools": [], "tool_choice": "auto"})
    assert "tools" not in chat and "tool_choice" not in chat


def test_an_output_for_an_unknown_call_is_our_400() -> None:
    with pytest.raises(InvalidRequest) as caught:
        _chat({"model": "m", "input": [{"type": "function_call_output", "call_id": "nope", "output": "1"}]})
    assert caught.value.param == "input[0].call_id"


def _chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": "0b5c",
        "object": "chat.completion.chunk",
        "model": "deepseek-v4-pro",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": usage,
    }


USAGE = {
    "prompt_tokens": 306,
    "completion_tokens": 85,
    "total_tokens": 391,
    "prompt_tokens_details": {"cached_tokens": 256},
    "completion_tokens_details": {"reasoning_tokens": 31},
    "prompt_cache_hit_tokens": 256,
    "prompt_cache_miss_tokens": 50,
}


def _run(chunks: list[dict[str, Any]], *, summarize: bool = False) -> list[Any]:
    translator = ChunkTranslator(reasoning_field="reasoning_content", summarize=summarize)
    events = [e for c in chunks for e in translator.feed(c)]
    events.extend(translator.finish())
    return events


def _types(events: list[Any]) -> list[str]:
    return [EVENT_TYPES[e.WhichOneof("event")] for e in events]


def test_thinking_then_answer_makes_two_items_in_order() -> None:
    events = _run(
        [
            _chunk({"role": "assistant", "content": None, "reasoning_content": ""}),
            _chunk({"content": None, "reasoning_content": "We"}),
            _chunk({"content": None, "reasoning_content": " think"}),
            _chunk({"content": "Hel", "reasoning_content": None}),
            _chunk({"content": "lo", "reasoning_content": None}),
            _chunk({"content": "", "reasoning_content": None}, "stop", USAGE),
        ]
    )
    assert _types(events) == [
        "response.output_item.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    final = events[-1].completed.response
    assert [i.WhichOneof("item") for i in final.output] == ["reasoning", "message"]
    assert final.output[0].reasoning.content[0].text == "We think"
    assert final.output[1].message.parts.parts[0].output_text.text == "Hello"
    usage = final.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (306, 85, 391)
    assert usage.input_tokens_details.cached_tokens == 256
    assert usage.output_tokens_details.reasoning_tokens == 31


def test_tool_call_fragments_join_by_index() -> None:
    events = _run(
        [
            _chunk({"role": "assistant", "content": None, "reasoning_content": ""}),
            _chunk({"content": None, "reasoning_content": "need tool"}),
            _chunk({"tool_calls": [{"index": 0, "id": "call_00_a", "type": "function", "function": {"name": "w", "arguments": ""}}]}),
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\""}}]}),
            _chunk({"tool_calls": [{"index": 1, "id": "call_01_b", "type": "function", "function": {"name": "v", "arguments": "{}"}}]}),
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "city\": 1}"}}]}),
            _chunk({"content": "", "reasoning_content": None}, "tool_calls", USAGE),
        ]
    )
    final = events[-1].completed.response
    calls = [i.function_call for i in final.output if i.WhichOneof("item") == "function_call"]
    assert [(c.call_id, c.name, c.arguments) for c in calls] == [("call_00_a", "w", '{"city": 1}'), ("call_01_b", "v", "{}")]
    deltas = [e.function_call_arguments_delta for e in events if e.WhichOneof("event") == "function_call_arguments_delta"]
    assert {d.output_index for d in deltas} == {1, 2}


def test_length_and_content_filter_are_incomplete() -> None:
    for reason, expected in (("length", "max_output_tokens"), ("content_filter", "content_filter")):
        events = _run([_chunk({"content": "partial"}), _chunk({"content": ""}, reason)])
        terminal = events[-1]
        assert terminal.WhichOneof("event") == "incomplete"
        assert terminal.incomplete.response.incomplete_details.reason == expected
        assert terminal.incomplete.response.output[0].message.status == "incomplete"


def test_a_stream_without_finish_reason_is_truncated() -> None:
    translator = ChunkTranslator(reasoning_field="reasoning_content", summarize=False)
    list(translator.feed(_chunk({"content": "Hel"})))
    with pytest.raises(UpstreamError):
        list(translator.finish())


def test_usage_may_come_in_a_trailing_chunk() -> None:
    events = _run([_chunk({"content": "a"}), _chunk({"content": ""}, "stop"), {"choices": [], "usage": USAGE}])
    assert events[-1].completed.response.usage.input_tokens == 306


def test_summary_mode_streams_summary_events() -> None:
    events = _run([_chunk({"reasoning_content": "hm"}), _chunk({"content": "ok"}), _chunk({}, "stop")], summarize=True)
    assert _types(events)[:5] == [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
    ]
