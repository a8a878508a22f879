"""GET /openapi.json: a valid OpenAPI 3.1 document that says what the code does.

The bridge may not import the service, so the document restates the service's
value rules; these tests hold each of them equal to service/validation.py (by
value, or by what validate_create does at the boundaries), the paths and
methods equal to the app's routes, the bodies' fields equal to what the codec
reads, and what the codec writes valid against the answer schemas.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from schemathesis.specs.openapi.adapter.validators import validate_v3

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.bridge import app as bridge_app
from responses_gateway.bridge import openapi
from responses_gateway.bridge.openapi import openapi_document
from responses_gateway.codec import event_to_json, fields, request_from_json, response_to_json
from responses_gateway.codec import request as codec_request
from responses_gateway.codec.events import EVENT_TYPES
from responses_gateway.codec.items import ROLES
from responses_gateway.codec.response import delete_to_json, input_items_to_json, model_to_json, models_to_json
from responses_gateway.errors import InvalidRequest
from responses_gateway.service import validation
from responses_gateway.telemetry.metrics import Metrics
from tests.bridge.fakes import FakeBackend, completed, created, delta, message, response

Client = TestClient[web.Request, web.Application]
DOC = openapi_document()
SCHEMAS = DOC["components"]["schemas"]


def _validator(name: str) -> jsonschema_rs.Validator:
    """A JSON Schema 2020-12 validator for one component, its $refs resolved inside the document."""
    return jsonschema_rs.Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": DOC["components"]})


def _errors(name: str, instance: Any) -> list[str]:
    """What is wrong with `instance` (as it goes on the wire: orjson fragments spliced in) for component `name`."""
    wire = orjson.loads(orjson.dumps(instance))
    return [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in _validator(name).iter_errors(wire)]


# --- the document itself ------------------------------------------------------


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOC["openapi"].startswith("3.1.")
    validate_v3(DOC)  # schemathesis' validator, against the OpenAPI 3.1 meta-schema


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_component_is_a_valid_json_schema_whose_references_resolve(name: str) -> None:
    jsonschema_rs.meta.validate(SCHEMAS[name])
    _validator(name)  # compiling resolves every $ref


async def test_the_bridge_serves_the_document_without_a_key(client: Client, backend: FakeBackend) -> None:
    resp = await client.get("/openapi.json")

    assert resp.status == 200
    assert resp.content_type == "application/json"
    assert await resp.json() == DOC
    assert backend.calls == []  # nothing reached the service, so nothing asked who calls


def _routes() -> set[tuple[str, str]]:
    app = bridge_app.create_app(FakeBackend(), metrics=Metrics(process_collectors=False))
    routes = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        assert isinstance(path, str), info
        routes.add((route.method, re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)))
    return routes


def test_the_paths_and_methods_are_the_apps_routes() -> None:
    documented = {(method.upper(), path) for path, item in DOC["paths"].items() for method in item if method != "parameters"}
    routes = _routes()
    # aiohttp answers HEAD wherever it answers GET; OpenAPI has no need to say so.
    served = {(method, path) for method, path in routes if method != "HEAD"}
    assert {(m, p) for m, p in routes if m == "HEAD"} == {("HEAD", p) for m, p in served if m == "GET"}

    assert documented == served


def test_v1_operations_take_a_bearer_key_and_the_probes_and_document_need_none() -> None:
    assert DOC["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": DOC["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for path, item in DOC["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            expected: list[dict[str, list[str]]] = [{"bearerAuth": []}] if path.startswith("/v1/") else []
            assert operation["security"] == expected, (method, path)
            if path.startswith("/v1/"):
                assert {"400", "401", "429", "default"} <= set(operation["responses"]), (method, path)
                assert operation["responses"]["400"]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }


# --- the create body: the fields the codec reads, the values the service allows --------


def test_the_create_body_has_exactly_the_fields_the_codec_reads() -> None:
    body = SCHEMAS["CreateResponseBody"]

    assert set(body["properties"]) == set(codec_request._READERS) | codec_request.PASSTHROUGH_FIELDS
    assert body["additionalProperties"] is False
    assert body["required"] == ["model", "input"]


def test_the_count_body_has_exactly_the_fields_the_bridge_accepts() -> None:
    assert set(SCHEMAS["InputTokensBody"]["properties"]) == bridge_app._COUNT_FIELDS
    assert SCHEMAS["InputTokensBody"]["additionalProperties"] is False


def _enum_of(schema: dict[str, Any]) -> list[str]:
    """The string enum of a property, nullable or not."""
    if "anyOf" in schema:
        [schema] = [s for s in schema["anyOf"] if s.get("type") != "null"]
    if "$ref" in schema:
        return _enum_of(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]])
    return [v for v in schema["enum"] if v is not None]


def _prop(component: str, *path: str) -> dict[str, Any]:
    schema: dict[str, Any] = SCHEMAS[component]
    for name in path:
        schema = schema["properties"][name]
    return schema


@pytest.mark.parametrize(
    ("enum", "constant"),
    [
        (lambda: _enum_of(_prop("ReasoningConfig", "effort")), validation.EFFORTS),
        (lambda: _enum_of(_prop("ReasoningConfig", "summary")), validation.SUMMARIES),
        (lambda: _enum_of(_prop("ReasoningConfig", "generate_summary")), validation.SUMMARIES),
        (lambda: _enum_of(_prop("TextConfig", "verbosity")), validation.VERBOSITIES),
        (lambda: _enum_of(_prop("CreateResponseBody", "truncation")), validation.TRUNCATIONS),
        (lambda: _enum_of(_prop("CreateResponseBody", "service_tier")), validation.SERVICE_TIERS),
        (lambda: _enum_of(_prop("CreateResponseBody", "include")["items"]), validation.INCLUDABLE),
        (lambda: _enum_of(SCHEMAS["ToolChoice"]["oneOf"][0]), validation.TOOL_CHOICE_MODES),
        (lambda: [s["properties"]["type"]["const"] for s in SCHEMAS["TextFormat"]["oneOf"]], validation.TEXT_FORMATS),
        (lambda: _enum_of(_prop("MessageItem", "role")), ROLES),  # what validation._validate_item checks
    ],
    ids=["effort", "summary", "generate_summary", "verbosity", "truncation", "service_tier", "include", "tool_choice", "text_format", "role"],
)
def test_each_enum_of_the_create_body_is_the_services(enum: Callable[[], list[str]], constant: tuple[str, ...]) -> None:
    assert sorted(enum()) == sorted(constant)


def test_the_restated_constants_are_the_services() -> None:
    for name in ("EFFORTS", "SUMMARIES", "VERBOSITIES", "TRUNCATIONS", "TOOL_CHOICE_MODES", "SERVICE_TIERS", "TEXT_FORMATS", "INCLUDABLE"):
        assert getattr(openapi, name) == getattr(validation, name), name
    assert openapi.FUNCTION_NAME_PATTERN == f"^{validation.FUNCTION_NAME.pattern}$"
    assert openapi.ID_PATTERN == f"^{fields._ID.pattern}$"
    assert _prop("FunctionTool", "name")["pattern"] == openapi.FUNCTION_NAME_PATTERN
    assert _prop("CreateResponseBody", "include")["items"]["enum"] == list(validation.INCLUDABLE)


def test_every_id_a_client_sends_back_has_the_codecs_shape() -> None:
    ids = [
        _prop("CreateResponseBody", "previous_response_id"),
        _prop("ItemReference", "id"),
        *(_prop(item, "id") for item in ("MessageItem", "FunctionCallItem", "FunctionCallOutputItem", "ReasoningItem")),
        *(p["schema"] for p in DOC["paths"]["/v1/responses/{response_id}/input_items"]["get"]["parameters"] if p["name"] in ("after", "before")),
        *(item["parameters"][0]["schema"] for path, item in DOC["paths"].items() if "{response_id}" in path),
    ]
    assert len(ids) == 11
    for schema in ids:
        assert schema["pattern"] == openapi.ID_PATTERN, schema
    for good in ("resp_1", "a" * 64, "A-z_0"):
        fields.check_id("id", good)
        assert re.fullmatch(openapi.ID_PATTERN.strip("^$"), good)
    for bad in ("", "a" * 65, "resp 1", "resp/1", "résumé", "a\n"):
        with pytest.raises(InvalidRequest):
            fields.check_id("id", bad)
        assert not re.fullmatch(openapi.ID_PATTERN.strip("^$"), bad)


def _valid_request(**request_fields: Any) -> pb.CreateResponseRequest:
    return pb.CreateResponseRequest(model="gpt-test", input_text="hi", **request_fields)


def _accepted(req: pb.CreateResponseRequest) -> bool:
    try:
        validation.validate_create(req)
    except InvalidRequest:
        return False
    return True


@pytest.mark.parametrize("name", sorted(openapi.RANGES))
def test_each_documented_range_is_where_the_service_draws_the_line(name: str) -> None:
    schema = _prop("CreateResponseBody", name)
    low, high = schema["minimum"], schema["maximum"]
    step = 1 if "integer" in schema["type"] else 1e-9

    assert _accepted(_valid_request(**{name: low}))
    assert not _accepted(_valid_request(**{name: low - step}))
    assert _accepted(_valid_request(**{name: high}))
    if high < openapi.INT64_MAX:
        assert not _accepted(_valid_request(**{name: high + step}))
    assert not math.isnan(low)


@pytest.mark.parametrize("name", sorted(openapi.MAX_LENGTHS))
def test_each_documented_max_length_is_the_services(name: str) -> None:
    limit = _prop("CreateResponseBody", name)["maxLength"]

    assert _accepted(_valid_request(**{name: "x" * limit}))
    assert not _accepted(_valid_request(**{name: "x" * (limit + 1)}))


def test_the_documented_array_limits_are_the_services() -> None:
    most_items = _prop("CreateResponseBody", "input")["oneOf"][1]["maxItems"]
    most_tools = _prop("CreateResponseBody", "tools")["maxItems"]
    item = ipb.Item(message=ipb.MessageItem(role="user", text="hi"))
    tool = pb.Tool(hosted_json='{"type": "web_search"}')

    assert _accepted(pb.CreateResponseRequest(model="m", input_items=ipb.ItemList(items=[item] * most_items)))
    assert not _accepted(pb.CreateResponseRequest(model="m", input_items=ipb.ItemList(items=[item] * (most_items + 1))))
    assert _accepted(_valid_request(tools=[tool] * most_tools))
    assert not _accepted(_valid_request(tools=[tool] * (most_tools + 1)))


def test_the_documented_metadata_limits_are_the_services() -> None:
    schema = SCHEMAS["Metadata"]
    most, key_len, value_len = (
        schema["maxProperties"],
        schema["propertyNames"]["maxLength"],
        schema["additionalProperties"]["maxLength"],
    )

    assert _accepted(_valid_request(metadata={f"k{i}": "v" for i in range(most)}))
    assert not _accepted(_valid_request(metadata={f"k{i}": "v" for i in range(most + 1)}))
    assert _accepted(_valid_request(metadata={"k" * key_len: "v" * value_len}))
    assert not _accepted(_valid_request(metadata={"k" * (key_len + 1): "v"}))
    assert not _accepted(_valid_request(metadata={"k": "v" * (value_len + 1)}))


def test_the_documented_allowed_tools_modes_are_the_services() -> None:
    [allowed] = [s for s in SCHEMAS["ToolChoice"]["oneOf"] if s.get("properties", {}).get("type", {}).get("const") == "allowed_tools"]
    modes = _enum_of(allowed["properties"]["mode"])

    for mode in modes:
        assert _accepted(_valid_request(tool_choice=pb.ToolChoice(allowed_tools=pb.AllowedTools(mode=mode))))
    assert not _accepted(_valid_request(tool_choice=pb.ToolChoice(allowed_tools=pb.AllowedTools(mode="none"))))


def test_the_documented_input_items_limits_are_the_services() -> None:
    params = {p["name"]: p["schema"] for p in DOC["paths"]["/v1/responses/{response_id}/input_items"]["get"]["parameters"]}
    low, high = params["limit"]["minimum"], params["limit"]["maximum"]

    for limit in (low, high):
        assert validation.validate_list_input_items(spb.ListInputItemsRequest(id="r", limit=limit))[0] == limit
    for limit in (low - 1, high + 1):
        with pytest.raises(InvalidRequest):
            validation.validate_list_input_items(spb.ListInputItemsRequest(id="r", limit=limit))
    assert validation.validate_list_input_items(spb.ListInputItemsRequest(id="r")) == (params["limit"]["default"], params["order"]["default"])
    for order in params["order"]["enum"]:
        assert validation.validate_list_input_items(spb.ListInputItemsRequest(id="r", order=order))[1] == order
    with pytest.raises(InvalidRequest):
        validation.validate_list_input_items(spb.ListInputItemsRequest(id="r", order="sideways"))


def test_the_unsupported_create_fields_admit_only_what_the_service_accepts() -> None:
    assert _prop("CreateResponseBody", "background")["enum"] == [False, None]
    assert not _accepted(_valid_request(background=True))
    for name in ("conversation", "prompt"):
        assert _prop("CreateResponseBody", name)["type"] == "null"
    assert not _accepted(_valid_request(conversation="conv_1"))
    assert not _accepted(_valid_request(prompt=pb.Prompt(id="pmpt_1")))


# --- the document and the codec agree on real bodies --------------------------

_BODY = {
    "model": "gpt-5.4",
    "input": [
        {"role": "user", "content": "What is the weather?"},
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be brief."}]},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": [{"type": "input_text", "text": "sunny"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thinking"}]},
        {"id": "msg_1"},
        {"type": "message", "role": "user", "content": [{"type": "input_image", "image_url": "https://x/y.png", "detail": "low"}]},
    ],
    "instructions": "Answer in French.",
    "tools": [
        {"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": True},
        {"type": "web_search"},
    ],
    "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "get_weather"}]},
    "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}, "verbosity": "low"},
    "reasoning": {"effort": "low", "summary": "auto"},
    "max_output_tokens": 64,
    "temperature": 0.5,
    "top_p": 1,
    "store": False,
    "stream": True,
    "metadata": {"k": "v"},
    "previous_response_id": "resp_1",
    "truncation": "auto",
    "include": ["reasoning.encrypted_content"],
    "service_tier": "flex",
    "context_management": [{"type": "compaction"}],
}


def test_a_full_create_body_is_valid_for_the_document_and_the_service() -> None:
    assert _errors("CreateResponseBody", _BODY) == []
    validation.validate_create(request_from_json(_BODY))


@pytest.mark.parametrize(
    "change",
    [
        {"reasoning": {"effort": "extreme"}},
        {"truncation": "sometimes"},
        {"include": ["everything"]},
        {"temperature": 2.5},
        {"max_output_tokens": 15},
        {"tool_choice": "maybe"},
        {"tools": [{"type": "function", "name": "has space"}]},
        {"metadata": {f"k{i}": "v" for i in range(17)}},
        {"background": True},
    ],
    ids=lambda change: next(iter(change)),
)
def test_what_the_document_refuses_the_service_refuses(change: dict[str, Any]) -> None:
    body = {**_BODY, **change}

    assert _errors("CreateResponseBody", body) != []
    with pytest.raises(InvalidRequest):
        validation.validate_create(request_from_json(body))


def test_what_the_codec_writes_is_valid_for_the_answer_schemas() -> None:
    full = response("resp_9")
    full.truncation_details.dropped_items = 2
    full.error.code, full.error.message = "server_error", "boom"
    full.incomplete_details.reason = "max_output_tokens"
    full.tools.add().function.name = "f"
    full.tools.add().hosted_json = '{"type": "web_search"}'

    assert _errors("Response", response_to_json(response())) == []
    assert _errors("Response", response_to_json(full)) == []
    assert _errors("DeletedResponse", delete_to_json(spb.DeleteResponseResponse(id="resp_1", deleted=True))) == []
    page = spb.ListInputItemsResponse(data=[message("hi", role="user")], first_id="msg_1", last_id="msg_1")
    assert _errors("InputItemList", input_items_to_json(page)) == []
    model = spb.Model(id="gpt-5.4", object="model", created=1, owned_by="openai")
    assert _errors("Model", model_to_json(model)) == []
    assert _errors("ModelList", models_to_json(spb.ListModelsResponse(data=[model]))) == []
    assert _errors("Error", InvalidRequest("bad", param="model").to_json()) == []


def test_what_the_codec_streams_is_valid_for_the_event_schemas() -> None:
    error = epb.ResponseStreamEvent(sequence_number=9)
    error.error.error.CopyFrom(pb.ErrorDetail(message="boom", type="server_error", code="server_error"))
    events = [created(0), delta(1, "Hel"), completed(2), error]

    for event in events:
        body = event_to_json(event)
        assert _errors("StreamEvent", body) == [], body
    assert _errors("ServerSentEvent", {"event": "message", "data": "[DONE]"}) == []
    assert _errors("ServerSentEvent", {"event": "response.created", "data": "{}"}) == []
    assert _errors("ServerSentEvent", {"event": "response.bogus", "data": "{}"}) != []
    assert _prop("StreamEvent", "type")["enum"] == list(EVENT_TYPES.values())
