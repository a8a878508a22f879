"""Value rules of the create request, shared by the gRPC and HTTP faces."""

from __future__ import annotations

import math
import re
from typing import Literal

import orjson

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.codec.fields import (
    array_too_long,
    check_depth,
    check_id,
    invalid_type,
    invalid_value,
    missing,
    too_many_parts,
    too_many_properties,
    unknown,
)
from responses_gateway.codec.items import ENCRYPTED_REASONING, ROLES
from responses_gateway.codec.request import (
    MAX_CONTENT_PARTS,
    MAX_INCLUDE,
    MAX_INPUT_ITEMS,
    MAX_METADATA,
    MAX_TOOLS,
    PASSTHROUGH_FIELDS,
    check_client_metadata,
)
from responses_gateway.errors import InvalidRequest

EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
SUMMARIES = ("auto", "concise", "detailed")
VERBOSITIES = ("low", "medium", "high")
TRUNCATIONS = ("auto", "disabled")
TOOL_CHOICE_MODES = ("none", "auto", "required")
SERVICE_TIERS = ("auto", "default", "flex", "scale", "priority", "fast", "ultrafast")
TEXT_FORMATS = ("text", "json_schema", "json_object")
INCLUDABLE = (
    ENCRYPTED_REASONING,
    "message.output_text.logprobs",
    "message.input_image.image_url",
    "file_search_call.results",
    "web_search_call.action.sources",
    "web_search_call.results",
    "code_interpreter_call.outputs",
    "computer_call_output.output.image_url",
)
FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def _range(param: str, value: float, low: float, high: float | None, kind: str = "decimal") -> None:
    if math.isnan(value):  # only a gRPC caller can send one; every comparison below would let it through
        raise InvalidRequest(f"Invalid '{param}': expected a number, but got NaN instead.", code="invalid_value", param=param)
    if value < low:
        raise InvalidRequest(
            f"Invalid '{param}': {kind} below minimum value. Expected a value >= {low:g}, but got {value:g} instead.",
            code=f"{kind}_below_min_value",
            param=param,
        )
    if high is not None and value > high:
        raise InvalidRequest(
            f"Invalid '{param}': {kind} above maximum value. Expected a value <= {high:g}, but got {value:g} instead.",
            code=f"{kind}_above_max_value",
            param=param,
        )


def _max_length(param: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise InvalidRequest(
            f"Invalid '{param}': string too long. Expected a string with maximum length {limit}, "
            f"but got a string with length {len(value)} instead.",
            code="string_above_max_length",
            param=param,
        )


def _choice(param: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise invalid_value(param, value, allowed)


def validate_create(req: pb.CreateResponseRequest) -> None:
    """Raise InvalidRequest (param named) for the first rule the request breaks."""
    if not req.model:
        raise missing("model")
    if req.WhichOneof("input") is None:
        raise missing("input")
    _validate_counts(req)
    if req.HasField("conversation"):
        raise InvalidRequest(
            "The 'conversation' parameter is not supported by this gateway; use 'previous_response_id'.",
            code="unsupported_parameter",
            param="conversation",
        )
    if req.background:
        raise InvalidRequest(
            "Background mode is not supported by this gateway yet.", code="unsupported_parameter", param="background"
        )
    if req.HasField("prompt"):
        raise InvalidRequest(
            "Stored prompt templates are not supported by this gateway.", code="unsupported_parameter", param="prompt"
        )
    _validate_items(req)
    _validate_sampling(req)
    _validate_config(req)
    _validate_tools(req)
    _validate_metadata(req)


def validate_count(req: pb.CreateResponseRequest) -> None:
    """What counting input tokens checks before it loads anything: the input as a create checks it, and the ids' shape."""
    _validate_counts(req)
    _validate_items(req)
    if req.HasField("previous_response_id"):
        check_id("previous_response_id", req.previous_response_id)


def _validate_counts(req: pb.CreateResponseRequest) -> None:
    if len(req.input_items.items) > MAX_INPUT_ITEMS:
        raise array_too_long("input", MAX_INPUT_ITEMS, len(req.input_items.items))
    if len(req.tools) > MAX_TOOLS:
        raise array_too_long("tools", MAX_TOOLS, len(req.tools))
    if len(req.include) > MAX_INCLUDE:
        raise array_too_long("include", MAX_INCLUDE, len(req.include))
    allowed = req.tool_choice.allowed_tools.tools_json
    if len(allowed) > MAX_TOOLS:
        raise array_too_long("tool_choice.tools", MAX_TOOLS, len(allowed))
    parts = 0
    for i, item in enumerate(req.input_items.items):
        if item.WhichOneof("item") == "message":
            parts += len(item.message.parts.parts)
            if parts > MAX_CONTENT_PARTS:
                raise too_many_parts(f"input[{i}].content", MAX_CONTENT_PARTS, parts)


def _validate_items(req: pb.CreateResponseRequest) -> None:
    for index, item in enumerate(req.input_items.items):
        _validate_item(item, f"input[{index}]")


def _validate_item(item: ipb.Item, path: str) -> None:
    """Structure the JSON codec guarantees, checked again for gRPC callers."""
    kind = item.WhichOneof("item")
    if kind is None:
        raise missing(f"{path}.type")
    if getattr(item, kind).id:
        check_id(f"{path}.id", getattr(item, kind).id)
    if kind == "message":
        message = item.message
        _choice(f"{path}.role", message.role, ROLES)
        if message.WhichOneof("content") is None:
            raise missing(f"{path}.content")
        for i, part in enumerate(message.parts.parts):
            if part.WhichOneof("part") is None:
                raise missing(f"{path}.content[{i}].type")
    elif kind == "function_call":
        for field in ("call_id", "name"):
            if not getattr(item.function_call, field):
                raise missing(f"{path}.{field}")
    elif kind == "custom_tool_call":
        for field in ("call_id", "name"):
            if not getattr(item.custom_tool_call, field):
                raise missing(f"{path}.{field}")
    elif kind in ("function_call_output", "custom_tool_call_output"):
        output = getattr(item, kind)
        if not output.call_id:
            raise missing(f"{path}.call_id")
        if output.WhichOneof("output") is None:
            raise missing(f"{path}.output")
        for i, part in enumerate(output.parts.parts):
            if part.WhichOneof("part") is None:
                raise missing(f"{path}.output[{i}].type")
    elif kind == "item_reference" and not item.item_reference.id:
        raise missing(f"{path}.id")


def _validate_sampling(req: pb.CreateResponseRequest) -> None:
    if req.HasField("temperature"):
        _range("temperature", req.temperature, 0, 2)
    if req.HasField("top_p"):
        _range("top_p", req.top_p, 0, 1)
    if req.HasField("max_output_tokens"):
        _range("max_output_tokens", req.max_output_tokens, 16, None, "integer")
    if req.HasField("max_tool_calls"):
        _range("max_tool_calls", req.max_tool_calls, 1, None, "integer")
    if req.HasField("top_logprobs"):
        _range("top_logprobs", req.top_logprobs, 0, 20, "integer")


def _validate_config(req: pb.CreateResponseRequest) -> None:
    if req.HasField("truncation"):
        _choice("truncation", req.truncation, TRUNCATIONS)
    if req.HasField("service_tier"):
        _choice("service_tier", req.service_tier, SERVICE_TIERS)
    if req.HasField("reasoning"):
        if req.reasoning.HasField("effort"):
            _choice("reasoning.effort", req.reasoning.effort, EFFORTS)
        if req.reasoning.HasField("summary"):
            _choice("reasoning.summary", req.reasoning.summary, SUMMARIES)
        if req.reasoning.HasField("generate_summary"):
            _choice("reasoning.generate_summary", req.reasoning.generate_summary, SUMMARIES)
    if req.HasField("text"):
        if req.text.HasField("verbosity"):
            _choice("text.verbosity", req.text.verbosity, VERBOSITIES)
        if req.text.HasField("format"):
            _choice("text.format.type", req.text.format.type, TEXT_FORMATS)
            if req.text.format.type == "json_schema":
                if not req.text.format.HasField("name"):
                    raise missing("text.format.name")
                if not req.text.format.HasField("schema_json"):
                    raise missing("text.format.schema")
    for i, value in enumerate(req.include):
        _choice(f"include[{i}]", value, INCLUDABLE)
    if req.HasField("safety_identifier"):
        _max_length("safety_identifier", req.safety_identifier, 128)
    if req.HasField("prompt_cache_key"):
        _max_length("prompt_cache_key", req.prompt_cache_key, 1024)
    if req.HasField("user"):
        _max_length("user", req.user, 512)
    if req.HasField("previous_response_id"):
        check_id("previous_response_id", req.previous_response_id)


def _json_text(param: str, text: str, *, want_object: bool = True) -> None:
    """gRPC callers send free-form JSON as text; it must parse and nest no deeper than a body may (the HTTP face checked both)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidRequest(f"Invalid '{param}': not valid JSON.", code="invalid_json", param=param) from None
    if want_object and not isinstance(value, dict):
        raise invalid_type(param, "an object", value)
    check_depth(value, param, shown=0)


def _validate_json_fields(req: pb.CreateResponseRequest) -> None:
    for i, tool in enumerate(req.tools):
        kind = tool.WhichOneof("tool")
        if kind is None:
            raise missing(f"tools[{i}].type")
        if kind == "hosted_json":
            _json_text(f"tools[{i}]", tool.hosted_json)
        elif tool.function.HasField("parameters_json"):
            _json_text(f"tools[{i}].parameters", tool.function.parameters_json)
    if req.HasField("text") and req.text.HasField("format") and req.text.format.HasField("schema_json"):
        _json_text("text.format.schema", req.text.format.schema_json)
    if req.HasField("tool_choice"):
        choice = req.tool_choice
        if choice.WhichOneof("choice") == "other_json":
            _json_text("tool_choice", choice.other_json)
        for i, ref in enumerate(choice.allowed_tools.tools_json):
            _json_text(f"tool_choice.tools[{i}]", ref)
    for key, value in req.extra_json.items():
        if key not in PASSTHROUGH_FIELDS:
            raise unknown(key)
        _json_text(key, value, want_object=False)
        if key == "client_metadata":
            check_client_metadata(orjson.loads(value))


def _validate_tools(req: pb.CreateResponseRequest) -> None:
    _validate_json_fields(req)
    names: set[str] = set()
    for i, tool in enumerate(req.tools):
        if tool.WhichOneof("tool") != "function":
            _validate_named_tool(tool.hosted_json, f"tools[{i}]")
            continue
        name = tool.function.name
        _check_tool_name(name, f"tools[{i}].name")
        if name in names:
            raise InvalidRequest(
                f"Duplicate function name '{name}' in 'tools'.", code="invalid_value", param=f"tools[{i}].name"
            )
        names.add(name)
    if req.HasField("tool_choice"):
        choice = req.tool_choice
        kind = choice.WhichOneof("choice")
        if kind == "mode":
            _choice("tool_choice", choice.mode, TOOL_CHOICE_MODES)
        elif kind == "function_name" and choice.function_name not in names:
            raise InvalidRequest(
                f"Tool choice '{choice.function_name}' not found in 'tools' parameter.",
                code="invalid_value",
                param="tool_choice",
            )
        elif kind == "allowed_tools":
            _choice("tool_choice.mode", choice.allowed_tools.mode, ("auto", "required"))


def _check_tool_name(name: object, param: str) -> None:
    if not isinstance(name, str):
        raise missing(param) if name is None else InvalidRequest(f"Invalid type for '{param}': expected a string.", code="invalid_type", param=param)
    if not FUNCTION_NAME.fullmatch(name):
        raise InvalidRequest(
            f"Invalid '{param}': string does not match pattern. "
            f"Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$' of at most 64 characters.",
            code="invalid_value",
            param=param,
        )


def _validate_named_tool(hosted_json: str, path: str) -> None:
    """Custom and namespace tools: names every upstream accepts, a bounded list of function or custom tools."""
    if '"custom"' not in hosted_json and '"namespace"' not in hosted_json:
        return
    spec = orjson.loads(hosted_json)
    kind = spec.get("type")
    if kind == "custom":
        _check_tool_name(spec.get("name"), f"{path}.name")
    elif kind == "namespace":
        _check_tool_name(spec.get("name"), f"{path}.name")
        inner = spec.get("tools")
        if not isinstance(inner, list):
            raise missing(f"{path}.tools")
        if len(inner) > MAX_TOOLS:
            raise array_too_long(f"{path}.tools", MAX_TOOLS, len(inner))
        for j, tool in enumerate(inner):
            if not isinstance(tool, dict) or tool.get("type") not in ("function", "custom"):
                raise InvalidRequest(
                    f"Invalid value for '{path}.tools[{j}].type': a namespace holds function and custom tools.",
                    code="invalid_value",
                    param=f"{path}.tools[{j}].type",
                )
            _check_tool_name(tool.get("name"), f"{path}.tools[{j}].name")


def _validate_metadata(req: pb.CreateResponseRequest) -> None:
    if len(req.metadata) > MAX_METADATA:
        raise too_many_properties("metadata", MAX_METADATA, len(req.metadata))
    for key, value in req.metadata.items():
        _max_length(f"metadata.{key}", key, 64)
        _max_length(f"metadata.{key}", value, 512)


def validate_response_id(response_id: str) -> None:
    """A response id from a caller (GET, DELETE, cancel, input items) must have an id's shape: checked before any query."""
    check_id("response_id", response_id)


def validate_list_input_items(req: spb.ListInputItemsRequest) -> tuple[int, Literal["asc", "desc"]]:
    """The page size (1-100, default 20) and order (default desc) of an input-items listing; the ids have an id's shape."""
    validate_response_id(req.id)
    if req.HasField("after"):
        check_id("after", req.after)
    if req.HasField("before"):
        check_id("before", req.before)
    limit = req.limit if req.HasField("limit") else 20
    if not 1 <= limit <= 100:
        raise InvalidRequest(
            f"Invalid 'limit': expected a value between 1 and 100, but got {limit} instead.",
            code="invalid_value",
            param="limit",
        )
    if not req.HasField("order") or req.order == "desc":
        return limit, "desc"
    if req.order == "asc":
        return limit, "asc"
    raise invalid_value("order", req.order, ("asc", "desc"))
