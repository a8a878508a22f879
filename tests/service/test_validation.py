"""The value rules of a create request: what a client may send, and how a refusal names its param.

Requests are built from the JSON a client would POST (through the codec) unless the
codec already refuses the value; then the proto is built directly, as a gRPC caller would.
"""

from __future__ import annotations

from typing import Any

import pytest

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.codec import request_from_json
from responses_gateway.errors import InvalidRequest
from responses_gateway.ids import new_id
from responses_gateway.service.call import CallContext
from responses_gateway.service.reads import StoredResponses
from responses_gateway.service.validation import (
    validate_count,
    validate_create,
    validate_list_input_items,
    validate_response_id,
)

MODEL = "gpt-5.4"


def body(**fields: Any) -> dict[str, Any]:
    """A minimal valid client body with `fields` added or overriding."""
    return {"model": MODEL, "input": "hi", **fields}


def grpc_request(**fields: Any) -> pb.CreateResponseRequest:
    """A minimal valid proto request, as a gRPC caller builds it."""
    return pb.CreateResponseRequest(**{"model": MODEL, "input_text": "hi", **fields})


def with_items(*items: ipb.Item) -> pb.CreateResponseRequest:
    return pb.CreateResponseRequest(model=MODEL, input_items=ipb.ItemList(items=list(items)))


def refusal(req: pb.CreateResponseRequest) -> InvalidRequest:
    """The error validate_create raises for `req` (the request itself must already be built)."""
    with pytest.raises(InvalidRequest) as caught:
        validate_create(req)
    error = caught.value
    assert isinstance(error, InvalidRequest)
    assert error.http_status == 400
    return error


def assert_refused(req: pb.CreateResponseRequest, param: str, code: str) -> InvalidRequest:
    error = refusal(req)
    assert (error.param, error.code) == (param, code)
    return error


def user_message(text: str = "hi") -> dict[str, Any]:
    return {"role": "user", "content": text}


def function_tool(name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "function", "name": name, "parameters": {"type": "object", "properties": {}}, **extra}


# --------------------------------------------------------------------------- accepted


def test_a_minimal_request_is_accepted() -> None:
    validate_create(request_from_json(body()))


def test_a_full_agent_turn_with_tools_reasoning_and_structured_output_is_accepted() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    req = request_from_json(
        {
            "model": MODEL,
            "instructions": "Be brief.",
            "previous_response_id": "resp_123",
            "input": [
                {"role": "developer", "content": "Use tools."},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]},
                {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "look it up"}]},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
                {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
                {"type": "item_reference", "id": "msg_0"},
            ],
            "tools": [
                function_tool("get_weather", description="Weather by city", strict=True),
                function_tool("lookup-city_2"),
                {"type": "web_search"},
            ],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "parallel_tool_calls": True,
            "reasoning": {"effort": "high", "summary": "auto"},
            "text": {
                "verbosity": "low",
                "format": {"type": "json_schema", "name": "weather", "schema": schema, "strict": True},
            },
            "temperature": 0.7,
            "top_p": 0.9,
            "top_logprobs": 5,
            "max_output_tokens": 4096,
            "max_tool_calls": 3,
            "truncation": "auto",
            "service_tier": "flex",
            "include": ["reasoning.encrypted_content", "message.output_text.logprobs"],
            "metadata": {"session": "abc", "team": "search"},
            "user": "user-1",
            "safety_identifier": "hash-of-user",
            "prompt_cache_key": "weather-agent",
            "store": True,
            "stream": True,
            "stream_options": {"include_obfuscation": False},
            "background": False,
            "context_management": [{"type": "compaction"}],
        }
    )
    validate_create(req)


def test_a_grpc_request_built_field_by_field_is_accepted() -> None:
    req = grpc_request(
        tools=[
            pb.Tool(function=pb.FunctionTool(name="f", parameters_json='{"type":"object"}')),
            pb.Tool(hosted_json='{"type":"file_search","vector_store_ids":["vs_1"]}'),
        ],
        tool_choice=pb.ToolChoice(
            allowed_tools=pb.AllowedTools(mode="required", tools_json=['{"type":"function","name":"f"}'])
        ),
        reasoning=pb.Reasoning(effort="minimal", generate_summary="concise"),
        text=pb.TextConfig(format=pb.TextFormat(type="json_object"), verbosity="high"),
        extra_json={"moderation": "true", "prompt_cache_options": '{"ttl":"1h"}'},
    )
    validate_create(req)


def test_an_input_of_exactly_10000_items_is_accepted() -> None:
    validate_create(request_from_json(body(input=[user_message()] * 10_000)))


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"temperature": 0}, id="temperature 0"),
        pytest.param({"temperature": 2}, id="temperature 2"),
        pytest.param({"top_p": 0}, id="top_p 0"),
        pytest.param({"top_p": 1}, id="top_p 1"),
        pytest.param({"max_output_tokens": 16}, id="max_output_tokens 16"),
        pytest.param({"max_output_tokens": 1_000_000_000}, id="max_output_tokens has no ceiling"),
        pytest.param({"max_tool_calls": 1}, id="max_tool_calls 1"),
        pytest.param({"top_logprobs": 0}, id="top_logprobs 0"),
        pytest.param({"top_logprobs": 20}, id="top_logprobs 20"),
        pytest.param({"safety_identifier": "s" * 128}, id="safety_identifier of 128 characters"),
        pytest.param({"prompt_cache_key": "k" * 1024}, id="prompt_cache_key of 1024 characters"),
        pytest.param({"user": "u" * 512}, id="user of 512 characters"),
        pytest.param({"metadata": {f"k{i}": "v" for i in range(16)}}, id="16 metadata entries"),
        pytest.param({"metadata": {"k" * 64: "v" * 512}}, id="metadata key of 64 and value of 512 characters"),
        pytest.param({"tools": [function_tool("f" * 64)]}, id="function name of 64 characters"),
        pytest.param({"tools": [function_tool("Get-Weather_v2")]}, id="function name with hyphen underscore digit"),
        pytest.param(
            {"tools": [{"type": "mcp", "server_label": "has space", "server_url": "https://mcp.example"}]},
            id="a hosted tool's own names are not held to the function pattern",
        ),
        pytest.param({"background": False}, id="background false"),
    ],
)
def test_values_at_the_edge_of_a_rule_are_accepted(fields: dict[str, Any]) -> None:
    validate_create(request_from_json(body(**fields)))


SUPPORTED_CHOICES: list[tuple[str, dict[str, Any]]] = [
    *((f"reasoning effort {v}", {"reasoning": {"effort": v}})
      for v in ("none", "minimal", "low", "medium", "high", "xhigh", "max")),
    *((f"reasoning summary {v}", {"reasoning": {"summary": v, "generate_summary": v}})
      for v in ("auto", "concise", "detailed")),
    *((f"text verbosity {v}", {"text": {"verbosity": v}}) for v in ("low", "medium", "high")),
    *((f"text format {v}", {"text": {"format": {"type": v}}}) for v in ("text", "json_object")),
    *((f"truncation {v}", {"truncation": v}) for v in ("auto", "disabled")),
    *((f"tool_choice {v}", {"tool_choice": v}) for v in ("none", "auto", "required")),
    *((f"service_tier {v}", {"service_tier": v})
      for v in ("auto", "default", "flex", "scale", "priority", "fast", "ultrafast")),
    *((f"include {v}", {"include": [v]}) for v in (
        "reasoning.encrypted_content",
        "message.output_text.logprobs",
        "message.input_image.image_url",
        "file_search_call.results",
        "web_search_call.action.sources",
        "web_search_call.results",
        "code_interpreter_call.outputs",
        "computer_call_output.output.image_url",
    )),
]


@pytest.mark.parametrize("fields", [pytest.param(fields, id=name) for name, fields in SUPPORTED_CHOICES])
def test_every_supported_choice_is_accepted(fields: dict[str, Any]) -> None:
    validate_create(request_from_json(body(**fields)))


# --------------------------------------------------------------------------- required and unsupported


@pytest.mark.parametrize(
    ("client_body", "param", "code"),
    [
        pytest.param({"input": "hi"}, "model", "missing_required_parameter", id="a request without a model"),
        pytest.param(body(model=""), "model", "missing_required_parameter", id="an empty model name"),
        pytest.param({"model": MODEL}, "input", "missing_required_parameter", id="a request without input"),
        pytest.param(
            {"model": MODEL, "input": None}, "input", "missing_required_parameter", id="a request with null input"
        ),
        pytest.param(
            body(conversation="conv_1"), "conversation", "unsupported_parameter", id="a conversation id"
        ),
        pytest.param(
            body(conversation={"id": "conv_1"}), "conversation", "unsupported_parameter", id="a conversation object"
        ),
        pytest.param(body(background=True), "background", "unsupported_parameter", id="background mode"),
        pytest.param(body(prompt={"id": "pmpt_1"}), "prompt", "unsupported_parameter", id="a stored prompt template"),
        pytest.param(
            body(previous_response_id=""), "previous_response_id", "invalid_value", id="an empty previous_response_id"
        ),
    ],
)
def test_missing_and_unsupported_parameters_are_refused(client_body: dict[str, Any], param: str, code: str) -> None:
    assert_refused(request_from_json(client_body), param, code)


def test_the_conversation_refusal_points_to_previous_response_id() -> None:
    error = assert_refused(request_from_json(body(conversation="conv_1")), "conversation", "unsupported_parameter")
    assert "previous_response_id" in error.message


def test_an_input_with_more_than_10000_items_is_refused() -> None:
    req = with_items(*[ipb.Item(message=ipb.MessageItem(role="user", text="hi"))] * 10_001)
    error = assert_refused(req, "input", "array_above_max_length")
    assert "10000" in error.message and "10001" in error.message


def test_more_than_128_tools_are_refused_before_any_is_looked_at() -> None:
    # Tools of no kind at all: the count is the first thing checked.
    error = assert_refused(grpc_request(tools=[pb.Tool()] * 129), "tools", "array_above_max_length")
    assert "128" in error.message and "129" in error.message
    validate_create(request_from_json(body(tools=[function_tool(f"f{i}") for i in range(128)])))


def test_content_parts_include_and_allowed_tools_are_bounded_for_grpc_callers_too() -> None:
    part = ipb.ContentPart(input_text=ipb.InputText(text="hi"))
    many_parts = ipb.Item(message=ipb.MessageItem(role="user", parts=ipb.ContentList(parts=[part] * 5_001)))
    error = assert_refused(with_items(many_parts, many_parts), "input[1].content", "array_above_max_length")
    assert "10000" in error.message
    assert_refused(grpc_request(include=["message.output_text.logprobs"] * 33), "include", "array_above_max_length")
    choice = pb.ToolChoice(allowed_tools=pb.AllowedTools(mode="auto", tools_json=["{}"] * 129))
    assert_refused(grpc_request(tool_choice=choice), "tool_choice.tools", "array_above_max_length")
    validate_create(with_items(many_parts))


@pytest.mark.parametrize(
    ("extra", "param", "code"),
    [
        pytest.param({"input": [{"bad": "item"}] * 10_001}, "input", "array_above_max_length", id="10,001 input items"),
        pytest.param({"tools": [{"bad": "tool"}] * 129}, "tools", "array_above_max_length", id="129 tools"),
        pytest.param({"metadata": {f"k{i}": i for i in range(17)}}, "metadata", "object_above_max_properties", id="17 metadata entries"),
        pytest.param({"include": [7] * 33}, "include", "array_above_max_length", id="33 include values"),
        pytest.param(
            {"tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [7] * 129}},
            "tool_choice.tools",
            "array_above_max_length",
            id="129 allowed tools",
        ),
        pytest.param(
            {"input": [{"role": "user", "content": [7] * 6_000}, {"role": "user", "content": [7] * 4_001}]},
            "input[1].content",
            "array_above_max_length",
            id="10,001 content parts across two messages",
        ),
    ],
)
def test_the_codec_refuses_an_oversized_array_before_decoding_its_elements(extra: dict[str, Any], param: str, code: str) -> None:
    """Elements that would each be refused are not looked at: the count comes first."""
    with pytest.raises(InvalidRequest) as caught:
        request_from_json(body(**extra))
    assert (caught.value.param, caught.value.code) == (param, code)


def test_the_first_broken_rule_is_the_one_reported() -> None:
    req = request_from_json({"input": [{"type": "item_reference", "id": ""}], "temperature": 9})
    assert_refused(req, "model", "missing_required_parameter")
    req = request_from_json(body(input=[{"type": "item_reference", "id": ""}], temperature=9))
    assert_refused(req, "input[0].id", "missing_required_parameter")


# --------------------------------------------------------------------------- input items


@pytest.mark.parametrize(
    ("item", "param"),
    [
        pytest.param(
            {"type": "function_call", "call_id": "", "name": "f", "arguments": "{}"},
            "input[1].call_id",
            id="a function call with an empty call_id",
        ),
        pytest.param(
            {"type": "function_call", "call_id": "c1", "name": "", "arguments": "{}"},
            "input[1].name",
            id="a function call with an empty name",
        ),
        pytest.param(
            {"type": "function_call_output", "call_id": "", "output": "42"},
            "input[1].call_id",
            id="a function call output with an empty call_id",
        ),
        pytest.param({"type": "item_reference", "id": ""}, "input[1].id", id="an item reference with an empty id"),
        pytest.param({"id": ""}, "input[1].id", id="a short-form item reference with an empty id"),
    ],
)
def test_an_input_item_missing_its_identity_is_refused_at_its_index(item: dict[str, Any], param: str) -> None:
    req = request_from_json(body(input=[user_message(), item]))
    assert_refused(req, param, "missing_required_parameter")


@pytest.mark.parametrize(
    ("item", "param", "code"),
    [
        pytest.param(ipb.Item(), "input[0].type", "missing_required_parameter", id="an item of no kind"),
        pytest.param(
            ipb.Item(message=ipb.MessageItem(role="wizard", text="hi")),
            "input[0].role",
            "invalid_value",
            id="a message from an unknown role",
        ),
        pytest.param(
            ipb.Item(message=ipb.MessageItem(role="", text="hi")),
            "input[0].role",
            "invalid_value",
            id="a message with no role",
        ),
        pytest.param(
            ipb.Item(message=ipb.MessageItem(role="user")),
            "input[0].content",
            "missing_required_parameter",
            id="a message without content",
        ),
        pytest.param(
            ipb.Item(
                message=ipb.MessageItem(
                    role="user",
                    parts=ipb.ContentList(
                        parts=[ipb.ContentPart(input_text=ipb.InputText(text="hi")), ipb.ContentPart()]
                    ),
                )
            ),
            "input[0].content[1].type",
            "missing_required_parameter",
            id="a message content part of no type",
        ),
        pytest.param(
            ipb.Item(function_call_output=ipb.FunctionCallOutputItem(call_id="c1")),
            "input[0].output",
            "missing_required_parameter",
            id="a function call output without output",
        ),
    ],
)
def test_a_grpc_input_item_the_codec_would_have_refused_is_refused(item: ipb.Item, param: str, code: str) -> None:
    assert_refused(with_items(item), param, code)


def test_the_unknown_role_refusal_lists_the_roles() -> None:
    error = refusal(with_items(ipb.Item(message=ipb.MessageItem(role="wizard", text="hi"))))
    assert "'developer'" in error.message


# --------------------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        pytest.param({"temperature": 2.1}, "temperature", "decimal_above_max_value", id="a temperature above 2"),
        pytest.param({"temperature": -0.1}, "temperature", "decimal_below_min_value", id="a negative temperature"),
        pytest.param({"top_p": 1.01}, "top_p", "decimal_above_max_value", id="a top_p above 1"),
        pytest.param({"top_p": -0.5}, "top_p", "decimal_below_min_value", id="a negative top_p"),
        pytest.param(
            {"max_output_tokens": 15}, "max_output_tokens", "integer_below_min_value", id="max_output_tokens below 16"
        ),
        pytest.param(
            {"max_output_tokens": 0}, "max_output_tokens", "integer_below_min_value", id="max_output_tokens of 0"
        ),
        pytest.param({"max_tool_calls": 0}, "max_tool_calls", "integer_below_min_value", id="max_tool_calls of 0"),
        pytest.param(
            {"max_tool_calls": -3}, "max_tool_calls", "integer_below_min_value", id="negative max_tool_calls"
        ),
        pytest.param({"top_logprobs": 21}, "top_logprobs", "integer_above_max_value", id="top_logprobs above 20"),
        pytest.param({"top_logprobs": -1}, "top_logprobs", "integer_below_min_value", id="negative top_logprobs"),
    ],
)
def test_a_number_out_of_range_is_refused_naming_it(fields: dict[str, Any], param: str, code: str) -> None:
    assert_refused(request_from_json(body(**fields)), param, code)


def test_an_infinite_temperature_from_grpc_is_refused() -> None:
    assert_refused(grpc_request(temperature=float("inf")), "temperature", "decimal_above_max_value")


def test_a_range_refusal_states_the_bound_and_the_value() -> None:
    error = refusal(request_from_json(body(temperature=2.5)))
    assert "<= 2" in error.message and "2.5" in error.message


# --------------------------------------------------------------------------- choices


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        pytest.param({"reasoning": {"effort": "extreme"}}, "reasoning.effort", "invalid_value",
                     id="an unknown reasoning effort"),
        pytest.param({"reasoning": {"effort": "High"}}, "reasoning.effort", "invalid_value",
                     id="a reasoning effort in the wrong case"),
        pytest.param({"reasoning": {"summary": "verbose"}}, "reasoning.summary", "invalid_value",
                     id="an unknown reasoning summary"),
        pytest.param({"reasoning": {"generate_summary": "always"}}, "reasoning.generate_summary", "invalid_value",
                     id="an unknown deprecated generate_summary"),
        pytest.param({"text": {"verbosity": "loud"}}, "text.verbosity", "invalid_value",
                     id="an unknown text verbosity"),
        pytest.param({"text": {"format": {"type": "yaml"}}}, "text.format.type", "invalid_value",
                     id="an unknown text format"),
        pytest.param({"text": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}, "text.format.name",
                     "missing_required_parameter", id="a json_schema format without a name"),
        pytest.param({"text": {"format": {"type": "json_schema", "name": "answer"}}}, "text.format.schema",
                     "missing_required_parameter", id="a json_schema format without a schema"),
        pytest.param({"truncation": "smart"}, "truncation", "invalid_value", id="an unknown truncation"),
        pytest.param({"service_tier": "gold"}, "service_tier", "invalid_value", id="an unknown service tier"),
        pytest.param({"include": ["reasoning.encrypted_content", "usage.details"]}, "include[1]", "invalid_value",
                     id="an unknown include value named by its index"),
        pytest.param({"tool_choice": "sometimes"}, "tool_choice", "invalid_value", id="an unknown tool_choice mode"),
        pytest.param({"tool_choice": {"type": "allowed_tools", "mode": "none", "tools": []}}, "tool_choice.mode",
                     "invalid_value", id="allowed_tools with mode none"),
    ],
)
def test_a_value_outside_its_choices_is_refused_naming_it(fields: dict[str, Any], param: str, code: str) -> None:
    assert_refused(request_from_json(body(**fields)), param, code)


def test_a_choice_refusal_lists_the_supported_values() -> None:
    error = refusal(request_from_json(body(truncation="smart")))
    assert "'auto', and 'disabled'" in error.message


def test_allowed_tools_from_grpc_without_a_mode_is_refused() -> None:
    req = grpc_request(tool_choice=pb.ToolChoice(allowed_tools=pb.AllowedTools(tools_json=[])))
    assert_refused(req, "tool_choice.mode", "invalid_value")


@pytest.mark.parametrize(
    "tools",
    [
        pytest.param([], id="no tools at all"),
        pytest.param([function_tool("get_time")], id="only other functions"),
        pytest.param([{"type": "custom", "name": "get_weather"}], id="a hosted tool of that name"),
    ],
)
def test_a_tool_choice_naming_a_function_not_in_tools_is_refused(tools: list[dict[str, Any]]) -> None:
    req = request_from_json(body(tools=tools, tool_choice={"type": "function", "name": "get_weather"}))
    error = assert_refused(req, "tool_choice", "invalid_value")
    assert "get_weather" in error.message


# --------------------------------------------------------------------------- function tools


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("get weather", id="a function name with a space"),
        pytest.param("weather.get", id="a function name with a dot"),
        pytest.param("", id="an empty function name"),
        pytest.param("f" * 65, id="a function name of 65 characters"),
        pytest.param("météo", id="a function name with accents"),
        pytest.param("get/weather", id="a function name with a slash"),
    ],
)
def test_a_function_name_outside_the_pattern_is_refused(name: str) -> None:
    req = request_from_json(body(tools=[function_tool("ok"), function_tool(name)]))
    assert_refused(req, "tools[1].name", "invalid_value")


def test_two_functions_with_the_same_name_are_refused_at_the_second() -> None:
    req = request_from_json(body(tools=[function_tool("f"), {"type": "web_search"}, function_tool("f")]))
    error = assert_refused(req, "tools[2].name", "invalid_value")
    assert "Duplicate" in error.message


# --------------------------------------------------------------------------- free-form JSON (gRPC callers)


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        pytest.param({"tools": [pb.Tool()]}, "tools[0].type", "missing_required_parameter", id="a tool of no kind"),
        pytest.param({"tools": [pb.Tool(hosted_json="{web_search")]}, "tools[0]", "invalid_json",
                     id="a hosted tool that is not JSON"),
        pytest.param({"tools": [pb.Tool(hosted_json='["web_search"]')]}, "tools[0]", "invalid_type",
                     id="a hosted tool that is not an object"),
        pytest.param({"tools": [pb.Tool(function=pb.FunctionTool(name="f", parameters_json="{"))]},
                     "tools[0].parameters", "invalid_json", id="function parameters that are not JSON"),
        pytest.param({"tools": [pb.Tool(function=pb.FunctionTool(name="f", parameters_json="[]"))]},
                     "tools[0].parameters", "invalid_type", id="function parameters that are not an object"),
        pytest.param({"text": pb.TextConfig(format=pb.TextFormat(type="json_schema", name="a", schema_json="{"))},
                     "text.format.schema", "invalid_json", id="a response schema that is not JSON"),
        pytest.param({"text": pb.TextConfig(format=pb.TextFormat(type="json_schema", name="a", schema_json="1"))},
                     "text.format.schema", "invalid_type", id="a response schema that is not an object"),
        pytest.param({"tool_choice": pb.ToolChoice(other_json="mcp")}, "tool_choice", "invalid_json",
                     id="a tool_choice object that is not JSON"),
        pytest.param({"tool_choice": pb.ToolChoice(allowed_tools=pb.AllowedTools(mode="auto", tools_json=["x"]))},
                     "tool_choice.tools[0]", "invalid_json", id="an allowed tool reference that is not JSON"),
        pytest.param({"extra_json": {"frobnicate": "1"}}, "frobnicate", "unknown_parameter",
                     id="an extra field the gateway does not pass through"),
        pytest.param({"extra_json": {"moderation": "{"}}, "moderation", "invalid_json",
                     id="a pass-through field that is not JSON"),
    ],
)
def test_free_form_json_from_grpc_must_parse(fields: dict[str, Any], param: str, code: str) -> None:
    assert_refused(grpc_request(**fields), param, code)


def _nested_json(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        pytest.param({"tools": [pb.Tool(function=pb.FunctionTool(name="f", parameters_json=_nested_json(300)))]},
                     "tools[0].parameters", id="function parameters"),
        pytest.param({"tools": [pb.Tool(hosted_json='{"type":"web_search","x":' + _nested_json(300) + "}")]},
                     "tools[0]", id="a hosted tool"),
        pytest.param({"text": pb.TextConfig(format=pb.TextFormat(type="json_schema", name="a", schema_json=_nested_json(65)))},
                     "text.format.schema", id="a response schema one level too deep"),
        pytest.param({"extra_json": {"context_management": "[" + _nested_json(300) + "]"}}, "context_management",
                     id="a pass-through field"),
    ],
)
def test_free_form_json_from_grpc_nested_too_deep_is_refused(fields: dict[str, Any], param: str) -> None:
    error = assert_refused(grpc_request(**fields), param, "nesting_above_max_depth")
    assert "64" in error.message


def test_free_form_json_from_grpc_at_the_nesting_limit_is_accepted() -> None:
    schema = pb.TextConfig(format=pb.TextFormat(type="json_schema", name="a", schema_json=_nested_json(64)))
    validate_create(grpc_request(text=schema))


# --------------------------------------------------------------------------- string lengths and metadata


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        pytest.param({"safety_identifier": "s" * 129}, "safety_identifier", id="a safety_identifier of 129 characters"),
        pytest.param({"prompt_cache_key": "k" * 1025}, "prompt_cache_key", id="a prompt_cache_key of 1025 characters"),
        pytest.param({"user": "u" * 513}, "user", id="a user of 513 characters"),
        pytest.param({"metadata": {"k" * 65: "v"}}, "metadata." + "k" * 65, id="a metadata key of 65 characters"),
        pytest.param({"metadata": {"note": "v" * 513}}, "metadata.note", id="a metadata value of 513 characters"),
    ],
)
def test_a_string_too_long_is_refused_naming_it(fields: dict[str, Any], param: str) -> None:
    assert_refused(request_from_json(body(**fields)), param, "string_above_max_length")


def test_metadata_with_more_than_16_entries_is_refused() -> None:
    req = grpc_request(metadata={f"k{i}": "v" for i in range(17)})
    error = assert_refused(req, "metadata", "object_above_max_properties")
    assert "17" in error.message


# --------------------------------------------------------------------------- values only a gRPC caller (or a careless client) can send


def test_a_function_name_ending_in_a_newline_is_refused() -> None:
    req = request_from_json(body(tools=[function_tool("get_weather\n")]))
    assert_refused(req, "tools[0].name", "invalid_value")


@pytest.mark.parametrize("field", ["temperature", "top_p"])
def test_a_nan_sampling_value_from_grpc_is_refused(field: str) -> None:
    refusal(grpc_request(**{field: float("nan")}))


def test_a_function_call_output_part_of_no_type_from_grpc_is_refused() -> None:
    item = ipb.Item(
        function_call_output=ipb.FunctionCallOutputItem(call_id="c1", parts=ipb.ContentList(parts=[ipb.ContentPart()]))
    )
    assert_refused(with_items(item), "input[0].output[0].type", "missing_required_parameter")


# --------------------------------------------------------------------------- ids


BAD_IDS = {
    "crlf": "resp_abc\r\nX: 1",
    "nul": "resp_\x00",
    "a path": "../../etc/passwd",
    "an encoded path": "resp%2F..",
    "a space": "resp abc",
    "non-ASCII": "resp_é",
    "65 characters": "resp_" + "a" * 60,
    "5000 characters": "r" * 5000,
    "a trailing newline": "resp_abc\n",
}
GOOD_IDS = [
    "resp_6b11973e46ae70b4871b4889cac248561fd92201fa630b0e",  # the gateway's (ids.new_id)
    "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",  # OpenAI's
    "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b",
    "fc_1",
    "call-2",
    "a" * 64,
]


@pytest.mark.parametrize("bad", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_a_previous_response_id_without_an_ids_shape_is_refused(bad: str) -> None:
    assert_refused(grpc_request(previous_response_id=bad), "previous_response_id", "invalid_value")
    with pytest.raises(InvalidRequest) as caught:
        request_from_json(body(previous_response_id=bad))
    assert (caught.value.param, caught.value.code) == ("previous_response_id", "invalid_value")


@pytest.mark.parametrize("bad", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_item_ids_and_item_references_without_an_ids_shape_are_refused(bad: str) -> None:
    reference = ipb.Item(item_reference=ipb.ItemReference(id=bad))
    message = ipb.Item(message=ipb.MessageItem(id=bad, role="user", text="x"))
    assert_refused(with_items(message, reference), "input[0].id", "invalid_value")
    assert_refused(with_items(ipb.Item(message=ipb.MessageItem(role="user", text="x")), reference), "input[1].id", "invalid_value")


@pytest.mark.parametrize("good", GOOD_IDS)
def test_ids_of_the_gateway_and_of_openai_are_accepted(good: str) -> None:
    validate_create(grpc_request(previous_response_id=good))
    validate_create(with_items(ipb.Item(message=ipb.MessageItem(id=good, role="user", text="x")), ipb.Item(item_reference=ipb.ItemReference(id=good))))
    validate_list_input_items(spb.ListInputItemsRequest(id=good, after=good, before=good))
    validate_response_id(good)


def test_the_gateways_own_ids_have_an_ids_shape() -> None:
    for prefix in ("resp", "msg", "fc", "fco", "rs", "item"):
        validate_response_id(new_id(prefix))


@pytest.mark.parametrize("bad", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_listing_input_items_checks_the_id_and_the_cursors(bad: str) -> None:
    for req, param in [
        (spb.ListInputItemsRequest(id=bad), "response_id"),
        (spb.ListInputItemsRequest(id="resp_1", after=bad), "after"),
        (spb.ListInputItemsRequest(id="resp_1", before=bad), "before"),
    ]:
        with pytest.raises(InvalidRequest) as caught:
            validate_list_input_items(req)
        assert (caught.value.param, caught.value.code) == (param, "invalid_value")


def test_counting_tokens_checks_ids_and_input_too() -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_count(pb.CreateResponseRequest(input_text="x", previous_response_id="resp_\n"))
    assert caught.value.param == "previous_response_id"
    with pytest.raises(InvalidRequest) as caught:
        validate_count(with_items(ipb.Item(item_reference=ipb.ItemReference(id="x" * 100))))
    assert caught.value.param == "input[0].id"
    validate_count(pb.CreateResponseRequest(input_text="x"))  # no model needed to count


class _Untouchable:
    """A store, cache or writer that fails the test when used."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"reached the store ({name}) with a malformed id")


async def test_a_malformed_response_id_is_refused_before_the_store_is_touched() -> None:
    stored = StoredResponses(_Untouchable(), _Untouchable(), _Untouchable())  # type: ignore[arg-type]
    ctx = CallContext(tenant_id="t")
    for call in (
        stored.get("resp_\r\n", ctx),
        stored.delete("../resp", ctx),
        stored.cancel("r" * 5000, ctx),
        stored.list_input_items(spb.ListInputItemsRequest(id="resp_1", after="\x00"), ctx),
    ):
        with pytest.raises(InvalidRequest) as caught:
            await call
        assert caught.value.code == "invalid_value"


def test_grpc_callers_client_metadata_is_held_to_the_same_shape() -> None:
    assert_refused(grpc_request(extra_json={"client_metadata": '["x"]'}), "client_metadata", "invalid_type")
    assert_refused(grpc_request(extra_json={"client_metadata": '{"a": 1}'}), "client_metadata.a", "invalid_type")
    validate_create(grpc_request(extra_json={"client_metadata": '{"originator": "codex_exec"}'}))
