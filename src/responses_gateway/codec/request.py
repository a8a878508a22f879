"""The create request (POST /v1/responses body): Responses JSON ⇄ proto.

Decoding checks JSON types and the set of known parameters; value rules
(ranges, enums, combinations) belong to the service, so gRPC callers meet
them too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.codec.fields import (
    JSONObject,
    array_too_long,
    as_object,
    check_depth,
    check_id,
    dumps,
    fragment,
    get_bool,
    get_int,
    get_list,
    get_number,
    get_object,
    get_str,
    invalid_type,
    req_str,
    too_many_parts,
    too_many_properties,
    unknown,
)
from responses_gateway.codec.items import item_to_json, items_from_json

# Counts a create may not exceed (OpenAI's: 128 tools, 16 metadata entries; the
# gateway's own: 10,000 input items, 10,000 content parts across them, 32
# `include` values). Checked first (_check_counts), so an oversized body costs
# no more than its parse; the service checks them again for gRPC callers.
MAX_INPUT_ITEMS = 10_000
MAX_CONTENT_PARTS = 10_000
MAX_TOOLS = 128
MAX_METADATA = 16
MAX_INCLUDE = 32

# Fields newer SDKs know that the gateway does not interpret; accepted and
# passed through to Responses upstreams, never refused. `client_metadata` (the
# Codex CLI sends it on every request) only describes the caller: translated
# upstreams never see it.
PASSTHROUGH_FIELDS = frozenset(
    {
        "client_metadata",
        "context_management",
        "moderation",
        "prompt_cache_options",
        "image",
        "access_programs",
        "background_options",
    }
)


# The body of POST /v1/responses/input_tokens: these create fields only (all optional); the rest is refused.
COUNT_FIELDS = (
    "model",
    "input",
    "instructions",
    "previous_response_id",
    "conversation",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "text",
    "truncation",
)


def request_from_json(body: Any) -> pb.CreateResponseRequest:
    """Decode a client's create body; raises InvalidRequest naming the param."""
    if not isinstance(body, dict):
        raise invalid_type("body", "an object", body)
    _check_counts(body)
    check_depth(body)
    req = pb.CreateResponseRequest()
    for key, value in body.items():
        reader = _READERS.get(key)
        if reader is not None:
            if value is not None:
                reader(req, body)
        elif key in PASSTHROUGH_FIELDS:
            if value is not None:
                if key == "client_metadata":
                    check_client_metadata(value)
                req.extra_json[key] = dumps(value)
        else:
            raise unknown(key)
    return req


# client_metadata: a map of strings, bounded (OpenAI documents no limits; these leave Codex's few keys room).
MAX_CLIENT_METADATA = 64
MAX_CLIENT_METADATA_KEY = 256
MAX_CLIENT_METADATA_VALUE = 4096


def check_client_metadata(value: Any, param: str = "client_metadata") -> None:
    """`client_metadata` is an object of strings within the bounds above; else InvalidRequest naming it."""
    if not isinstance(value, dict):
        raise invalid_type(param, "an object", value)
    if len(value) > MAX_CLIENT_METADATA:
        raise too_many_properties(param, MAX_CLIENT_METADATA, len(value))
    for key, item in value.items():
        if len(key) > MAX_CLIENT_METADATA_KEY:
            raise invalid_type(f"{param}.{key[:32]}…", f"a key of at most {MAX_CLIENT_METADATA_KEY} characters", key)
        if not isinstance(item, str):
            raise invalid_type(f"{param}.{key}", "a string", item)
        if len(item) > MAX_CLIENT_METADATA_VALUE:
            raise invalid_type(f"{param}.{key}", f"a string of at most {MAX_CLIENT_METADATA_VALUE} characters", item[:32])


def _check_counts(body: JSONObject) -> None:
    """The arrays and objects the gateway bounds, checked before anything walks them."""
    for key, limit in (("input", MAX_INPUT_ITEMS), ("tools", MAX_TOOLS), ("include", MAX_INCLUDE)):
        value = body.get(key)
        if isinstance(value, list) and len(value) > limit:
            raise array_too_long(key, limit, len(value))
    items = body.get("input")
    if isinstance(items, list):
        parts = 0
        for i, item in enumerate(items):
            content = item.get("content") if isinstance(item, dict) else None
            if isinstance(content, list):
                parts += len(content)
                if parts > MAX_CONTENT_PARTS:
                    raise too_many_parts(f"input[{i}].content", MAX_CONTENT_PARTS, parts)
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and isinstance(allowed := choice.get("tools"), list) and len(allowed) > MAX_TOOLS:
        raise array_too_long("tool_choice.tools", MAX_TOOLS, len(allowed))
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and len(metadata) > MAX_METADATA:
        raise too_many_properties("metadata", MAX_METADATA, len(metadata))


def _read_input(req: pb.CreateResponseRequest, body: JSONObject) -> None:
    value = body["input"]
    if isinstance(value, str):
        req.input_text = value
    elif isinstance(value, list):
        req.input_items.items.extend(items_from_json(value, "input"))
    else:
        raise invalid_type("input", "a string or an array", value)


def _read_conversation(req: pb.CreateResponseRequest, body: JSONObject) -> None:
    value = body["conversation"]
    if isinstance(value, dict):
        req.conversation = req_str(value, "id", "conversation.")
    elif isinstance(value, str):
        req.conversation = value
    else:
        raise invalid_type("conversation", "a string or an object", value)


def _read_previous_response_id(req: pb.CreateResponseRequest, body: JSONObject) -> None:
    value = get_str(body, "previous_response_id", "")
    if value:  # an empty one is the service's to refuse
        check_id("previous_response_id", value)
    req.previous_response_id = value or ""


def _read_metadata(req: pb.CreateResponseRequest, body: JSONObject) -> None:
    for key, value in (get_object(body, "metadata") or {}).items():
        if not isinstance(value, str):
            raise invalid_type(f"metadata.{key}", "a string", value)
        req.metadata[key] = value


def _read_include(req: pb.CreateResponseRequest, body: JSONObject) -> None:
    for i, value in enumerate(get_list(body, "include") or []):
        if not isinstance(value, str):
            raise invalid_type(f"include[{i}]", "a string", value)
        req.include.append(value)


def _read_tools(req: pb.CreateResponseRequest, body: JSONObject) -> None:
    for i, value in enumerate(get_list(body, "tools") or []):
        req.tools.append(tool_from_json(as_object(value, f"tools[{i}]"), f"tools[{i}]."))


def tool_from_json(obj: JSONObject, prefix: str) -> pb.Tool:
    """Decode one tool: function tools by field, any other type kept as JSON."""
    kind = req_str(obj, "type", prefix)
    if kind != "function":
        return pb.Tool(hosted_json=dumps(obj))
    tool = pb.FunctionTool(name=req_str(obj, "name", prefix))
    description = get_str(obj, "description", prefix)
    if description is not None:
        tool.description = description
    parameters = get_object(obj, "parameters", prefix)
    if parameters is not None:
        tool.parameters_json = dumps(parameters)
    strict = get_bool(obj, "strict", prefix)
    if strict is not None:
        tool.strict = strict
    return pb.Tool(function=tool)


def tool_choice_from_json(value: Any, param: str = "tool_choice") -> pb.ToolChoice:
    """Decode `tool_choice`: a mode string or one of the object forms."""
    if isinstance(value, str):
        return pb.ToolChoice(mode=value)
    if not isinstance(value, dict):
        raise invalid_type(param, "a string or an object", value)
    kind = req_str(value, "type", f"{param}.")
    if kind == "function":
        return pb.ToolChoice(function_name=req_str(value, "name", f"{param}."))
    if kind == "allowed_tools":
        tools = get_list(value, "tools", f"{param}.") or []
        return pb.ToolChoice(
            allowed_tools=pb.AllowedTools(
                mode=get_str(value, "mode", f"{param}.") or "auto",
                tools_json=[dumps(as_object(t, f"{param}.tools[{i}]")) for i, t in enumerate(tools)],
            )
        )
    return pb.ToolChoice(other_json=dumps(value))


def reasoning_from_json(obj: JSONObject, prefix: str = "reasoning.") -> pb.Reasoning:
    """Decode `reasoning`."""
    reasoning = pb.Reasoning()
    for key in ("effort", "summary", "generate_summary"):
        value = get_str(obj, key, prefix)
        if value is not None:
            setattr(reasoning, key, value)
    return reasoning


def text_from_json(obj: JSONObject, prefix: str = "text.") -> pb.TextConfig:
    """Decode `text` (format and verbosity)."""
    text = pb.TextConfig()
    verbosity = get_str(obj, "verbosity", prefix)
    if verbosity is not None:
        text.verbosity = verbosity
    fmt = get_object(obj, "format", prefix)
    if fmt is not None:
        fprefix = f"{prefix}format."
        text.format.type = req_str(fmt, "type", fprefix)
        for key in ("name", "description"):
            value = get_str(fmt, key, fprefix)
            if value is not None:
                setattr(text.format, key, value)
        schema = get_object(fmt, "schema", fprefix)
        if schema is not None:
            text.format.schema_json = dumps(schema)
        strict = get_bool(fmt, "strict", fprefix)
        if strict is not None:
            text.format.strict = strict
    return text


def _read_prompt(req: pb.CreateResponseRequest, body: JSONObject) -> None:
    obj = get_object(body, "prompt") or {}
    req.prompt.id = req_str(obj, "id", "prompt.")
    version = get_str(obj, "version", "prompt.")
    if version is not None:
        req.prompt.version = version
    variables = get_object(obj, "variables", "prompt.")
    if variables is not None:
        req.prompt.variables_json = dumps(variables)


def _read_stream_options(req: pb.CreateResponseRequest, body: JSONObject) -> None:
    obj = get_object(body, "stream_options") or {}
    req.stream_options.SetInParent()
    value = get_bool(obj, "include_obfuscation", "stream_options.")
    if value is not None:
        req.stream_options.include_obfuscation = value


def _scalar(key: str, getter: Callable[..., Any]) -> Callable[[pb.CreateResponseRequest, JSONObject], None]:
    def read(req: pb.CreateResponseRequest, body: JSONObject) -> None:
        setattr(req, key, getter(body, key, ""))

    return read


_Reader = Callable[[pb.CreateResponseRequest, JSONObject], None]
_READERS: dict[str, _Reader] = {
    "model": _scalar("model", get_str),
    "input": _read_input,
    "instructions": _scalar("instructions", get_str),
    "previous_response_id": _read_previous_response_id,
    "store": _scalar("store", get_bool),
    "stream": _scalar("stream", get_bool),
    "stream_options": _read_stream_options,
    "background": _scalar("background", get_bool),
    "tools": _read_tools,
    "tool_choice": lambda req, body: req.tool_choice.CopyFrom(tool_choice_from_json(body["tool_choice"])),
    "parallel_tool_calls": _scalar("parallel_tool_calls", get_bool),
    "max_output_tokens": _scalar("max_output_tokens", get_int),
    "max_tool_calls": _scalar("max_tool_calls", get_int),
    "temperature": _scalar("temperature", get_number),
    "top_p": _scalar("top_p", get_number),
    "reasoning": lambda req, body: req.reasoning.CopyFrom(reasoning_from_json(get_object(body, "reasoning") or {})),
    "text": lambda req, body: req.text.CopyFrom(text_from_json(get_object(body, "text") or {})),
    "truncation": _scalar("truncation", get_str),
    "metadata": _read_metadata,
    "include": _read_include,
    "user": _scalar("user", get_str),
    "safety_identifier": _scalar("safety_identifier", get_str),
    "prompt_cache_key": _scalar("prompt_cache_key", get_str),
    "service_tier": _scalar("service_tier", get_str),
    "top_logprobs": _scalar("top_logprobs", get_int),
    "prompt": _read_prompt,
    "conversation": _read_conversation,
    "prompt_cache_retention": _scalar("prompt_cache_retention", get_str),
}


# --- proto → JSON (what a Responses upstream receives) ----------------------


def tool_to_json(tool: pb.Tool) -> Any:
    """Encode one tool."""
    if tool.WhichOneof("tool") == "hosted_json":
        return fragment(tool.hosted_json)
    fn = tool.function
    return {
        "type": "function",
        "name": fn.name,
        "description": fn.description if fn.HasField("description") else None,
        "parameters": fragment(fn.parameters_json) if fn.HasField("parameters_json") else None,
        "strict": fn.strict if fn.HasField("strict") else True,
    }


def tool_choice_to_json(choice: pb.ToolChoice) -> Any:
    """Encode `tool_choice`."""
    kind = choice.WhichOneof("choice")
    if kind == "function_name":
        return {"type": "function", "name": choice.function_name}
    if kind == "allowed_tools":
        allowed = choice.allowed_tools
        return {"type": "allowed_tools", "mode": allowed.mode, "tools": [fragment(t) for t in allowed.tools_json]}
    if kind == "other_json":
        return fragment(choice.other_json)
    return choice.mode or "auto"


def reasoning_config_to_json(reasoning: pb.Reasoning) -> dict[str, Any]:
    """Encode `reasoning` with nulls for unset fields."""
    return {
        "effort": reasoning.effort if reasoning.HasField("effort") else None,
        "summary": reasoning.summary if reasoning.HasField("summary") else None,
    }


def text_to_json(text: pb.TextConfig) -> dict[str, Any]:
    """Encode `text` with the API's defaults filled in."""
    fmt: dict[str, Any] = {"type": "text"}
    if text.HasField("format"):
        f = text.format
        fmt = {"type": f.type}
        if f.HasField("name"):
            fmt["name"] = f.name
        if f.HasField("description"):
            fmt["description"] = f.description
        if f.HasField("schema_json"):
            fmt["schema"] = fragment(f.schema_json)
        if f.HasField("strict"):
            fmt["strict"] = f.strict
    return {"format": fmt, "verbosity": text.verbosity if text.HasField("verbosity") else "medium"}


_OPTIONAL_SCALARS = (
    "instructions",
    "parallel_tool_calls",
    "max_output_tokens",
    "max_tool_calls",
    "temperature",
    "top_p",
    "truncation",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "service_tier",
    "top_logprobs",
    "prompt_cache_retention",
)


def request_to_json(
    req: pb.CreateResponseRequest, encode_item: Callable[[ipb.Item], Any] = item_to_json
) -> dict[str, Any]:
    """Encode a request for a Responses upstream: only what is set is sent.

    `encode_item` may return a ready JSON fragment (or None to leave the item out).
    """
    out: dict[str, Any] = {"model": req.model}
    if req.WhichOneof("input") == "input_text":
        out["input"] = req.input_text
    else:
        encoded = (encode_item(i) for i in req.input_items.items)
        out["input"] = [e for e in encoded if e is not None]
    for key in _OPTIONAL_SCALARS:
        if req.HasField(key):  # type: ignore[arg-type]
            out[key] = getattr(req, key)
    if req.HasField("previous_response_id"):
        out["previous_response_id"] = req.previous_response_id
    if req.HasField("store"):
        out["store"] = req.store
    if req.stream:
        out["stream"] = True
        if req.HasField("stream_options") and req.stream_options.HasField("include_obfuscation"):
            out["stream_options"] = {"include_obfuscation": req.stream_options.include_obfuscation}
    if req.tools:
        out["tools"] = [tool_to_json(t) for t in req.tools]
    if req.HasField("tool_choice"):
        out["tool_choice"] = tool_choice_to_json(req.tool_choice)
    if req.HasField("reasoning"):
        out["reasoning"] = {k: v for k, v in reasoning_config_to_json(req.reasoning).items() if v is not None}
    if req.HasField("text"):
        out["text"] = text_to_json(req.text)
    if req.metadata:
        out["metadata"] = dict(req.metadata)
    if req.include:
        out["include"] = list(req.include)
    if req.HasField("prompt"):
        prompt: dict[str, Any] = {"id": req.prompt.id}
        if req.prompt.HasField("version"):
            prompt["version"] = req.prompt.version
        if req.prompt.HasField("variables_json"):
            prompt["variables"] = fragment(req.prompt.variables_json)
        out["prompt"] = prompt
    for key, value in req.extra_json.items():
        if key in PASSTHROUGH_FIELDS:
            out.setdefault(key, fragment(value))
    return out
