"""Decoding client bodies: what real clients send is accepted, mistakes name their param."""

from __future__ import annotations

import orjson
import pytest

from responses_gateway.codec import request_from_json, request_to_json
from responses_gateway.errors import InvalidRequest


def test_a_string_input_stays_a_string() -> None:
    req = request_from_json({"model": "gpt-5.4", "input": "hi"})
    assert req.WhichOneof("input") == "input_text" and req.input_text == "hi"


def test_short_form_messages_without_type_are_messages() -> None:
    req = request_from_json({"model": "m", "input": [{"role": "user", "content": "hi"}]})
    message = req.input_items.items[0].message
    assert (message.role, message.text, message.typed) == ("user", "hi", False)


def test_resent_output_items_are_accepted_as_input() -> None:
    """openai-agents resends function calls and reasoning items with ids and statuses."""
    body = {
        "model": "m",
        "input": [
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "function_call", "id": "fc_1", "status": "completed", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "42"},
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "ok", "annotations": [], "logprobs": []}],
            },
        ],
        "include": [],
        "tools": [],
    }
    req = request_from_json(body)
    assert [i.WhichOneof("item") for i in req.input_items.items] == [
        "reasoning",
        "function_call",
        "function_call_output",
        "message",
    ]


def test_free_form_json_round_trips_exactly() -> None:
    """Integers in a JSON Schema stay integers (google.protobuf.Struct would make them 1.0)."""
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}, "required": ["n"]}
    body = {"model": "m", "input": "x", "tools": [{"type": "function", "name": "f", "parameters": schema}]}
    out = orjson.loads(orjson.dumps(request_to_json(request_from_json(body))))
    assert out["tools"][0]["parameters"] == schema
    assert out["tools"][0]["strict"] is True


def test_newer_sdk_fields_pass_through() -> None:
    body = {"model": "m", "input": "x", "context_management": [{"type": "compaction"}]}
    out = orjson.loads(orjson.dumps(request_to_json(request_from_json(body))))
    assert out["context_management"] == [{"type": "compaction"}]


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"model": "m", "input": "x", "frobnicate": 1}, "frobnicate", "unknown_parameter"),
        ({"model": "m", "input": 42}, "input", "invalid_type"),
        ({"model": "m", "input": [{"role": "user", "content": 42}]}, "input[0].content", "invalid_type"),
        ({"model": "m", "input": [{"type": "message", "role": "wizard", "content": "x"}]}, "input[0].role", "invalid_value"),
        ({"model": "m", "input": "x", "temperature": "hot"}, "temperature", "invalid_type"),
        ({"model": "m", "input": "x", "max_output_tokens": True}, "max_output_tokens", "invalid_type"),
        ({"model": "m", "input": "x", "tools": [{"type": "function"}]}, "tools[0].name", "missing_required_parameter"),
        ({"model": "m", "input": "x", "metadata": {"k": 1}}, "metadata.k", "invalid_type"),
        ({"model": 7, "input": "x"}, "model", "invalid_type"),
    ],
)
def test_mistakes_name_their_param(body: dict[str, object], param: str, code: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        request_from_json(body)
    assert (caught.value.param, caught.value.code) == (param, code)
    assert caught.value.http_status == 400


def _nested(levels: int) -> object:
    value: object = "leaf"
    for _ in range(levels):
        value = {"a": value}
    return value


def test_a_body_nested_64_levels_deep_is_accepted() -> None:
    # The body (1), tools (2), tools[0] (3), parameters and 60 levels inside it (4-64).
    body = {"model": "m", "input": "x", "tools": [{"type": "function", "name": "f", "parameters": _nested(61)}]}
    assert orjson.loads(request_from_json(body).tools[0].function.parameters_json) == _nested(61)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "function", "name": "f", "parameters": _nested(62)}]}, "tools[0].parameters"),
        ({"text": {"format": {"type": "json_schema", "name": "x", "schema": _nested(200)}}}, "text.format.schema"),
        ({"tools": [{"type": "mcp", "headers": _nested(200)}]}, "tools[0].headers"),
        ({"context_management": _nested(200)}, "context_management.a.a"),
        ({"input": [{"role": "user", "content": "x", "unknown": [[[_nested(200)]]]}]}, "input[0].unknown"),
    ],
)
def test_json_nested_past_64_levels_is_refused_naming_where(extra: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        request_from_json({"model": "m", "input": "x", **extra})
    assert (caught.value.param, caught.value.code) == (param, "nesting_above_max_depth")
    assert "at most 64 levels" in caught.value.message
