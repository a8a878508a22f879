"""GET /openapi.json: the OpenAPI 3.1 document of the bridge's HTTP surface.

The document is what the code accepts, so it cannot drift silently:
- the item, part, role and event enums, the pass-through fields, the id
  shape and the count limits (input items, tools, metadata) come from the
  codec, which decodes and bounds them;
- the value rules the service enforces (efforts, truncation modes, include
  values, ranges, lengths…) are restated below, because the bridge may not
  import the service (pyproject.toml, [tool.importlinter]);
  tests/bridge/test_openapi.py holds each of them equal to
  `service.validation` and the paths and methods equal to the app's routes;
- tests/e2e/test_schemathesis.py sends requests generated from it to a live
  gateway and checks every answer against it.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson
from aiohttp import web

from responses_gateway.codec.events import EVENT_TYPES, LIFECYCLE_CASES
from responses_gateway.codec.fields import MAX_ID_LENGTH
from responses_gateway.codec.items import IMAGE_DETAILS, ITEM_TYPES, PART_TYPES, ROLES
from responses_gateway.codec.request import (
    COUNT_FIELDS,
    MAX_CLIENT_METADATA,
    MAX_CLIENT_METADATA_KEY,
    MAX_CLIENT_METADATA_VALUE,
    MAX_INCLUDE,
    MAX_INPUT_ITEMS,
    MAX_METADATA,
    MAX_TOOLS,
    PASSTHROUGH_FIELDS,
)

# --- the service's value rules (service/validation.py), restated -------------

EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
SUMMARIES = ("auto", "concise", "detailed")
VERBOSITIES = ("low", "medium", "high")
TRUNCATIONS = ("auto", "disabled")
TOOL_CHOICE_MODES = ("none", "auto", "required")
ALLOWED_TOOLS_MODES = ("auto", "required")
SERVICE_TIERS = ("auto", "default", "flex", "scale", "priority", "fast", "ultrafast")
TEXT_FORMATS = ("text", "json_schema", "json_object")
INCLUDABLE = (
    "reasoning.encrypted_content",
    "message.output_text.logprobs",
    "message.input_image.image_url",
    "file_search_call.results",
    "web_search_call.action.sources",
    "web_search_call.results",
    "code_interpreter_call.outputs",
    "computer_call_output.output.image_url",
)
FUNCTION_NAME_PATTERN = "^[a-zA-Z0-9_-]{1,64}$"
METADATA_KEY_MAX_LENGTH = 64
METADATA_VALUE_MAX_LENGTH = 512
# Parameter → (minimum, maximum or None), as validation._validate_sampling checks them.
RANGES: dict[str, tuple[float, float | None]] = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "max_output_tokens": (16, None),
    "max_tool_calls": (1, None),
    "top_logprobs": (0, 20),
}
MAX_LENGTHS = {"safety_identifier": 128, "prompt_cache_key": 1024, "user": 512}
LIST_LIMIT = (1, 100)
LIST_ORDERS = ("asc", "desc")
RESPONSE_STATUSES = ("queued", "in_progress", "completed", "incomplete", "failed", "cancelled")


INT64_MAX = 2**63 - 1
# Every id a client sends back (codec.fields.check_id): response ids, previous_response_id, item ids, cursors.
ID_PATTERN = f"^[A-Za-z0-9_-]{{1,{MAX_ID_LENGTH}}}$"

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _enum(values: tuple[str, ...], *, nullable: bool = False) -> Schema:
    schema: Schema = {"type": "string", "enum": list(values)}
    return _nullable(schema) if nullable else schema


def _string(*, nullable: bool = False, **extra: Any) -> Schema:
    return {"type": ["string", "null"] if nullable else "string", **extra}


def _obj(properties: dict[str, Schema], required: tuple[str, ...] = (), **extra: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = list(required)
    return schema


def _typed(kind: str, *, optional: bool = False) -> Schema:
    """The `type` discriminator of an item or part (`optional`: the short forms may leave it out)."""
    return {"type": "string", "const": kind} if not optional else {"type": ["string", "null"], "enum": [kind, None]}


# --- items and content parts --------------------------------------------------


def _part_schemas() -> dict[str, Schema]:
    opt = _string(nullable=True)
    return {
        "InputTextPart": _obj({"type": _typed("input_text"), "text": _string()}, ("type", "text")),
        "OutputTextPart": _obj(
            {
                "type": _typed("output_text"),
                "text": _string(),
                "annotations": _nullable({"type": "array", "items": {}}),
                "logprobs": _nullable({"type": "array", "items": {}}),
            },
            ("type", "text"),
        ),
        "RefusalPart": _obj({"type": _typed("refusal"), "refusal": _string()}, ("type", "refusal")),
        "InputImagePart": _obj(
            {
                "type": _typed("input_image"),
                "detail": _enum(IMAGE_DETAILS, nullable=True),
                "image_url": opt,
                "file_id": opt,
            },
            ("type",),
        ),
        "InputFilePart": _obj(
            {"type": _typed("input_file"), "file_id": opt, "file_url": opt, "file_data": opt, "filename": opt},
            ("type",),
        ),
        "ContentPart": {
            "description": f"One content part; `type` is one of {', '.join(PART_TYPES)}.",
            "oneOf": [_ref(name) for name in ("InputTextPart", "OutputTextPart", "RefusalPart", "InputImagePart", "InputFilePart")],
        },
    }


def _item_schemas() -> dict[str, Schema]:
    opt = _string(nullable=True)
    item_id = _string(nullable=True, pattern=ID_PATTERN)
    parts = {"type": "array", "items": _ref("ContentPart")}
    text_list = {
        "type": ["array", "null"],
        "items": _obj({"type": _string(), "text": _string()}, ("text",)),
    }
    return {
        "MessageItem": _obj(
            {
                "type": _typed("message", optional=True),
                "id": item_id,
                "role": _enum(ROLES),
                "content": {"oneOf": [_string(), parts]},
                "status": opt,
                "phase": opt,
            },
            ("role", "content"),
            description="A message; `type` may be left out (the short form `{role, content}`).",
        ),
        "FunctionCallItem": _obj(
            {
                "type": _typed("function_call"),
                "id": item_id,
                "call_id": _string(minLength=1),
                "name": _string(minLength=1),
                "arguments": _string(description="The arguments as JSON text."),
                "status": opt,
                "namespace": opt,
            },
            ("type", "call_id", "name", "arguments"),
        ),
        "CustomToolCallItem": _obj(
            {
                "type": _typed("custom_tool_call"),
                "id": item_id,
                "call_id": _string(minLength=1),
                "name": _string(minLength=1),
                "input": _string(description="The tool's free-form input."),
                "status": opt,
                "namespace": opt,
            },
            ("type", "call_id", "name", "input"),
        ),
        "CustomToolCallOutputItem": _obj(
            {
                "type": _typed("custom_tool_call_output"),
                "id": item_id,
                "call_id": _string(minLength=1),
                "output": {"oneOf": [_string(), parts]},
                "status": opt,
            },
            ("type", "call_id", "output"),
        ),
        "FunctionCallOutputItem": _obj(
            {
                "type": _typed("function_call_output"),
                "id": item_id,
                "call_id": _string(minLength=1),
                "output": {"oneOf": [_string(), parts]},
                "status": opt,
            },
            ("type", "call_id", "output"),
        ),
        "ReasoningItem": _obj(
            {
                "type": _typed("reasoning"),
                "id": item_id,
                "summary": text_list,
                "content": text_list,
                "encrypted_content": opt,
                "status": opt,
            },
            ("type",),
        ),
        "ItemReference": _obj(
            {"type": _typed("item_reference", optional=True), "id": _string(pattern=ID_PATTERN)},
            ("id",),
            description="A stored item by id; `type` may be left out.",
        ),
        "Item": {
            "description": f"An input or output item; `type` is one of {', '.join(ITEM_TYPES)}.",
            "anyOf": [
                _ref(name)
                for name in (
                    "MessageItem",
                    "FunctionCallItem",
                    "FunctionCallOutputItem",
                    "CustomToolCallItem",
                    "CustomToolCallOutputItem",
                    "ReasoningItem",
                    "ItemReference",
                )
            ],
        },
    }


# --- the create body ----------------------------------------------------------


def _ranged(name: str, kind: str) -> Schema:
    low, high = RANGES[name]
    schema: Schema = {"type": [kind, "null"], "minimum": low}
    schema["maximum"] = high if high is not None else INT64_MAX
    return schema


def _config_schemas() -> dict[str, Schema]:
    return {
        "FunctionTool": _obj(
            {
                "type": _typed("function"),
                "name": _string(pattern=FUNCTION_NAME_PATTERN),
                "description": _string(nullable=True),
                "parameters": {"type": ["object", "null"], "description": "A JSON Schema object."},
                "strict": {"type": ["boolean", "null"]},
            },
            ("type", "name"),
        ),
        "HostedTool": _obj(
            {"type": {"type": "string", "not": {"const": "function"}}},
            ("type",),
            description="Any other tool type, passed to Responses upstreams as sent.",
        ),
        "Tool": {"oneOf": [_ref("FunctionTool"), _ref("HostedTool")]},
        "ToolChoice": {
            "oneOf": [
                _enum(TOOL_CHOICE_MODES),
                _obj({"type": _typed("function"), "name": _string()}, ("type", "name")),
                _obj(
                    {
                        "type": _typed("allowed_tools"),
                        "mode": _enum(ALLOWED_TOOLS_MODES, nullable=True),
                        "tools": {"type": ["array", "null"], "items": {"type": "object"}, "maxItems": MAX_TOOLS},
                    },
                    ("type",),
                ),
                _obj(
                    {"type": {"type": "string", "not": {"enum": ["function", "allowed_tools"]}}},
                    ("type",),
                    description="A hosted tool type, passed to Responses upstreams as sent.",
                ),
            ]
        },
        "ReasoningConfig": _obj(
            {
                "effort": _enum(EFFORTS, nullable=True),
                "summary": _enum(SUMMARIES, nullable=True),
                "generate_summary": _enum(SUMMARIES, nullable=True),
            }
        ),
        "TextFormat": {
            "oneOf": [
                _obj({"type": _typed("text")}, ("type",)),
                _obj({"type": _typed("json_object")}, ("type",)),
                _obj(
                    {
                        "type": _typed("json_schema"),
                        "name": _string(),
                        "schema": {"type": "object"},
                        "description": _string(nullable=True),
                        "strict": {"type": ["boolean", "null"]},
                    },
                    ("type", "name", "schema"),
                ),
            ],
            "description": f"`type` is one of {', '.join(TEXT_FORMATS)}.",
        },
        "TextConfig": _obj({"format": _nullable(_ref("TextFormat")), "verbosity": _enum(VERBOSITIES, nullable=True)}),
        "Metadata": {
            "type": ["object", "null"],
            "maxProperties": MAX_METADATA,
            "propertyNames": {"maxLength": METADATA_KEY_MAX_LENGTH},
            "additionalProperties": {"type": "string", "maxLength": METADATA_VALUE_MAX_LENGTH},
        },
    }


def _create_properties() -> dict[str, Schema]:
    bool_ = {"type": ["boolean", "null"]}
    properties: dict[str, Schema] = {
        "model": _string(minLength=1, description="A model id from GET /v1/models.", examples=["gpt-5.4"]),
        "input": {
            "oneOf": [
                _string(description="One user message."),
                {"type": "array", "items": _ref("Item"), "maxItems": MAX_INPUT_ITEMS},
            ]
        },
        "instructions": _string(nullable=True),
        "previous_response_id": _string(nullable=True, pattern=ID_PATTERN),
        "conversation": {"type": "null", "description": "Not supported by this gateway: any value is a 400."},
        "store": bool_,
        "stream": bool_,
        "stream_options": _nullable(_obj({"include_obfuscation": bool_})),
        "background": {"enum": [False, None], "description": "Background mode is not supported yet: true is a 400."},
        "tools": {"type": ["array", "null"], "items": _ref("Tool"), "maxItems": MAX_TOOLS},
        "tool_choice": _nullable(_ref("ToolChoice")),
        "parallel_tool_calls": bool_,
        "max_output_tokens": _ranged("max_output_tokens", "integer"),
        "max_tool_calls": _ranged("max_tool_calls", "integer"),
        "temperature": _ranged("temperature", "number"),
        "top_p": _ranged("top_p", "number"),
        "top_logprobs": _ranged("top_logprobs", "integer"),
        "reasoning": _nullable(_ref("ReasoningConfig")),
        "text": _nullable(_ref("TextConfig")),
        "truncation": _enum(TRUNCATIONS, nullable=True),
        "metadata": _ref("Metadata"),
        "include": {"type": ["array", "null"], "items": _enum(INCLUDABLE), "maxItems": MAX_INCLUDE},
        "service_tier": _enum(SERVICE_TIERS, nullable=True),
        "prompt": {"type": "null", "description": "Stored prompt templates are not supported: any value is a 400."},
        "prompt_cache_retention": _string(nullable=True),
    }
    for name, limit in MAX_LENGTHS.items():
        properties[name] = _string(nullable=True, maxLength=limit)
    for name in sorted(PASSTHROUGH_FIELDS):
        properties[name] = {"description": "Accepted and passed to Responses upstreams unchanged."}
    properties["client_metadata"] = {
        "type": ["object", "null"],
        "maxProperties": MAX_CLIENT_METADATA,
        "propertyNames": {"maxLength": MAX_CLIENT_METADATA_KEY},
        "additionalProperties": {"type": "string", "maxLength": MAX_CLIENT_METADATA_VALUE},
        "description": "What the client says of itself (the Codex CLI sends it): passed to Responses upstreams, "
        "never to translated ones.",
    }
    return properties


def _body_schemas() -> dict[str, Schema]:
    create = _create_properties()
    return {
        "CreateResponseBody": {
            "type": "object",
            "properties": create,
            "required": ["model", "input"],
            "additionalProperties": False,
        },
        "InputTokensBody": {
            "type": "object",
            "properties": {name: create[name] for name in COUNT_FIELDS},
            "additionalProperties": False,
        },
    }


# --- what the bridge answers --------------------------------------------------


def _answer_schemas() -> dict[str, Schema]:
    int_ = {"type": "integer"}
    opt_int = {"type": ["integer", "null"]}
    opt_str = _string(nullable=True)
    usage = _obj(
        {
            "input_tokens": int_,
            "input_tokens_details": _obj({"cached_tokens": int_}, ("cached_tokens",)),
            "output_tokens": int_,
            "output_tokens_details": _obj({"reasoning_tokens": int_}, ("reasoning_tokens",)),
            "total_tokens": int_,
        },
        ("input_tokens", "input_tokens_details", "output_tokens", "output_tokens_details", "total_tokens"),
    )
    response_properties: dict[str, Schema] = {
        "id": _string(),
        "object": {"const": "response"},
        "created_at": int_,
        "status": _enum(RESPONSE_STATUSES),
        "background": {"type": "boolean"},
        "completed_at": opt_int,
        "error": _nullable(_obj({"code": _string(), "message": _string()}, ("code", "message"))),
        "frequency_penalty": {"type": "number"},
        "incomplete_details": _nullable(_obj({"reason": _string()}, ("reason",))),
        "instructions": opt_str,
        "max_output_tokens": opt_int,
        "max_tool_calls": opt_int,
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "model": _string(),
        "output": {"type": "array", "items": _ref("Item")},
        "parallel_tool_calls": {"type": "boolean"},
        "presence_penalty": {"type": "number"},
        "previous_response_id": opt_str,
        "prompt_cache_key": opt_str,
        "prompt_cache_retention": opt_str,
        "reasoning": _obj({"effort": opt_str, "summary": opt_str}, ("effort", "summary")),
        "safety_identifier": opt_str,
        "service_tier": _string(),
        "store": {"type": "boolean"},
        "temperature": {"type": "number"},
        "text": _obj({"format": {"type": "object"}, "verbosity": _string()}, ("format", "verbosity")),
        "tool_choice": {"type": ["string", "object"]},
        "tools": {"type": "array", "items": _obj({"type": _string()}, ("type",))},
        "top_logprobs": int_,
        "top_p": {"type": "number"},
        "truncation": _string(),
        "usage": _nullable(usage),
        "user": opt_str,
    }
    model = _obj(
        {"id": _string(), "object": {"const": "model"}, "created": int_, "owned_by": _string()},
        ("id", "object", "created", "owned_by"),
    )
    return {
        "Response": _obj(
            {
                **response_properties,
                "truncation_details": _obj({"dropped_items": int_}, ("dropped_items",)),
                "withheld_tools": {"type": "array", "items": _string(), "description": "Hosted tool types the model's provider cannot run: not offered to it."},
            },
            tuple(response_properties),
        ),
        "DeletedResponse": _obj(
            {"id": _string(), "object": {"const": "response"}, "deleted": {"type": "boolean"}},
            ("id", "object", "deleted"),
        ),
        "InputItemList": _obj(
            {
                "object": {"const": "list"},
                "data": {"type": "array", "items": _ref("Item")},
                "first_id": opt_str,
                "last_id": opt_str,
                "has_more": {"type": "boolean"},
            },
            ("object", "data", "first_id", "last_id", "has_more"),
        ),
        "InputTokens": _obj(
            {"object": {"const": "response.input_tokens"}, "input_tokens": int_}, ("object", "input_tokens")
        ),
        "Model": model,
        "ModelList": _obj(
            {"object": {"const": "list"}, "data": {"type": "array", "items": _ref("Model")}}, ("object", "data")
        ),
        "Health": _obj({"status": _string()}, ("status",)),
        "Error": _obj(
            {
                "error": _obj(
                    {"message": _string(), "type": _string(), "param": opt_str, "code": opt_str},
                    ("message", "type", "param", "code"),
                )
            },
            ("error",),
            description="OpenAI's error body.",
        ),
    }


# --- server-sent events -----------------------------------------------------


def _when(types: list[str], then: Schema) -> Schema:
    return {"if": {"properties": {"type": {"enum": types}}}, "then": then}


def _stream_schemas() -> dict[str, Schema]:
    index = {"type": "integer", "minimum": 0}
    by_case = {case: [kind] for case, kind in EVENT_TYPES.items()}
    lifecycle = sorted(EVENT_TYPES[case] for case in LIFECYCLE_CASES)
    items = by_case["output_item_added"] + by_case["output_item_done"]
    parts = by_case["content_part_added"] + by_case["content_part_done"]
    error = {"type": ["string", "null"]}
    return {
        "StreamEvent": {
            "type": "object",
            "properties": {"type": {"enum": list(EVENT_TYPES.values())}, "sequence_number": index},
            "required": ["type", "sequence_number"],
            "allOf": [
                _when(lifecycle, _obj({"response": _ref("Response")}, ("response",))),
                _when(items, _obj({"output_index": index, "item": _ref("Item")}, ("output_index", "item"))),
                _when(
                    parts,
                    _obj(
                        {"item_id": _string(), "output_index": index, "content_index": index, "part": _ref("ContentPart")},
                        ("item_id", "output_index", "content_index", "part"),
                    ),
                ),
                _when(
                    by_case["error"],
                    _obj(
                        {
                            "message": _string(),
                            "code": error,
                            "param": error,
                            "error": _obj(
                                {"type": _string(), "message": _string(), "code": error, "param": error},
                                ("type", "message", "code", "param"),
                            ),
                        },
                        ("message", "code", "param", "error"),
                        description="Both shapes: the flat one the SDK types, the nested one the live API sends.",
                    ),
                ),
            ],
        },
        "ServerSentEvent": {
            "type": "object",
            "description": "One event of the stream: `event: <type>` and `data: <json>`; the last is `data: [DONE]`.",
            "required": ["data"],
            "if": {"properties": {"data": {"const": "[DONE]"}}},
            "then": {"properties": {"event": {"const": "message"}}, "description": "An SSE event without a name."},
            "else": {
                "required": ["event", "data"],
                "properties": {
                    "event": {"enum": list(EVENT_TYPES.values())},
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": _ref("StreamEvent"),
                    },
                },
            },
        },
    }


# --- paths --------------------------------------------------------------------


def _json_content(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json_content(_ref("Error"))}


_V1_ERRORS = {
    "400": _error("Invalid request."),
    "401": _error("Missing or wrong API key (not in the loopback open mode)."),
    "429": _error("Rate limited, or the gateway's own queue is full; see retry-after."),
    "default": _error("Another error, in OpenAI's shape (a 5xx is the gateway's or an upstream's fault)."),
}


def _op(
    operation_id: str,
    summary: str,
    ok: dict[str, Any],
    *,
    body: str | None = None,
    not_found: bool = False,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A /v1 operation: `ok` is the 200 content, `body` the name of the JSON body's schema."""
    responses: dict[str, Any] = {"200": {"description": "OK", "content": ok}, **_V1_ERRORS}
    operation: dict[str, Any] = {"operationId": operation_id, "summary": summary, "security": [{"bearerAuth": []}]}
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": True, "content": _json_content(_ref(body))}
        responses["413"] = _error("The body is over the gateway's size limit.")
    if not_found:
        responses["404"] = _error("No such object (for this API key's tenant).")
    operation["responses"] = responses
    return operation


def _id_param(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": _string(**schema)}


_INCLUDE_QUERY = {
    "name": "include[]",
    "in": "query",
    "description": "Extra fields to include; repeat the parameter for several.",
    "schema": {"type": "array", "items": _enum(INCLUDABLE)},
    "style": "form",
    "explode": True,
}


def _paths() -> dict[str, Any]:
    response_id = _id_param("response_id", "A response id (resp_…).", pattern=ID_PATTERN)
    sse = {"schema": _ref("ServerSentEvent")}
    return {
        "/v1/responses": {
            "post": _op(
                "createResponse",
                "Create a model response: JSON, or server-sent events when `stream` is true.",
                {**_json_content(_ref("Response")), "text/event-stream": sse},
                body="CreateResponseBody",
            )
        },
        "/v1/responses/input_tokens": {
            "post": _op(
                "countInputTokens",
                "Count the input tokens a create request would send.",
                _json_content(_ref("InputTokens")),
                body="InputTokensBody",
            )
        },
        "/v1/responses/{response_id}": {
            "parameters": [response_id],
            "get": _op(
                "getResponse",
                "A stored response.",
                _json_content(_ref("Response")),
                not_found=True,
                parameters=[
                    _INCLUDE_QUERY,
                    {
                        "name": "stream",
                        "in": "query",
                        "description": "Only `false`: streaming a stored response needs background mode (400).",
                        "schema": {"type": "boolean", "enum": [False]},
                    },
                ],
            ),
            "delete": _op(
                "deleteResponse", "Delete a stored response.", _json_content(_ref("DeletedResponse")), not_found=True
            ),
        },
        "/v1/responses/{response_id}/input_items": {
            "parameters": [response_id],
            "get": _op(
                "listInputItems",
                "The input items of a stored response, a page at a time.",
                _json_content(_ref("InputItemList")),
                not_found=True,
                parameters=[
                    _query("after", _string(pattern=ID_PATTERN), "An item id: the page starts after it."),
                    _query("before", _string(pattern=ID_PATTERN), "An item id: the page ends before it."),
                    _query("limit", {"type": "integer", "minimum": LIST_LIMIT[0], "maximum": LIST_LIMIT[1], "default": 20}),
                    _query("order", {**_enum(LIST_ORDERS), "default": "desc"}),
                    _INCLUDE_QUERY,
                ],
            ),
        },
        "/v1/responses/{response_id}/cancel": {
            "parameters": [response_id],
            "post": _op(
                "cancelResponse", "Cancel a background response.", _json_content(_ref("Response")), not_found=True
            ),
        },
        "/v1/models": {"get": _op("listModels", "The models this gateway routes.", _json_content(_ref("ModelList")))},
        "/v1/models/{model_id}": {
            "parameters": [_id_param("model_id", "A model id; it may contain '/'.")],
            "get": _op("getModel", "One model.", _json_content(_ref("Model")), not_found=True),
        },
        "/healthz": {"get": _unauthenticated("liveness", "Liveness: the process answers.", _ref("Health"))},
        "/readyz": {
            "get": _unauthenticated(
                "readiness", "Readiness: the service behind the bridge answers.", _ref("Health"), not_ready=True
            )
        },
        "/openapi.json": {"get": _unauthenticated("openapi", "This document (OpenAPI 3.1).", {"type": "object"})},
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (OpenMetrics when asked for); on `metrics_port` instead when that is set.",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {"text/plain": {"schema": {"type": "string"}}, "application/openmetrics-text": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }


def _query(name: str, schema: Schema, description: str | None = None) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "schema": schema}
    if description:
        param["description"] = description
    return param


def _unauthenticated(operation_id: str, summary: str, ok: Schema, *, not_ready: bool = False) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": "OK", "content": _json_content(ok)}}
    if not_ready:
        responses["503"] = _error("The service is not ready.")
    return {"operationId": operation_id, "summary": summary, "security": [], "responses": responses}


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The document (built once; callers must not mutate it)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "responses-gateway",
            "version": "1",
            "description": "OpenAI's Responses API (REST and server-sent events) as this gateway serves it.",
        },
        "paths": _paths(),
        "components": {
            "schemas": {
                **_part_schemas(),
                **_item_schemas(),
                **_config_schemas(),
                **_body_schemas(),
                **_answer_schemas(),
                **_stream_schemas(),
            },
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`Authorization: Bearer <API key>`. A gateway bound to loopback and configured "
                    "for open access needs no key.",
                },
            },
        },
    }


@functools.cache
def _document_bytes() -> bytes:
    return orjson.dumps(openapi_document())


async def openapi(request: web.Request) -> web.Response:
    """GET /openapi.json"""
    return web.Response(body=_document_bytes(), content_type="application/json")
