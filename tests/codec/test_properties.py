"""Properties of the JSON ⇄ proto codec, over generated bodies (hypothesis, derandomized).

- A body already in the form the codec writes comes back from JSON → proto → JSON
  unchanged: create bodies, items, and the fields of a response the codec reads.
- Any other valid body is normalised once: a second pass changes nothing.
- Whatever JSON a client sends, decoding it either succeeds or raises
  InvalidRequest (a 400 naming the param), never another exception (a 500).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.codec import request_from_json, request_to_json, response_from_json, response_to_json
from responses_gateway.codec.events import CASES_BY_TYPE
from responses_gateway.codec.fields import INT64_MAX, INT64_MIN
from responses_gateway.codec.items import IMAGE_DETAILS, ITEM_TYPES, PART_TYPES, ROLES, item_from_json, item_to_json
from responses_gateway.codec.request import PASSTHROUGH_FIELDS, _READERS
from responses_gateway.errors import InvalidRequest

PROPERTY = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings(PROPERTY, max_examples=150)


def wire(value: Any) -> Any:
    """What the client or upstream reads: orjson's bytes (fragments spliced in), parsed back."""
    return orjson.loads(orjson.dumps(value))


# --- JSON values --------------------------------------------------------------

text = st.text(max_size=12)
ids = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)  # the shape codec.fields.check_id allows
int64 = st.integers(INT64_MIN, INT64_MAX)
json_scalars = st.none() | st.booleans() | int64 | st.floats(allow_nan=False, allow_infinity=False) | text
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=12
)
json_objects = st.dictionaries(text, json_values, max_size=3)


def fixed(**required: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(required)


def with_optional(
    required: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(required, optional=optional)


# --- items in the form the codec writes them ----------------------------------

parts = st.one_of(
    fixed(type=st.just("input_text"), text=text),
    fixed(
        type=st.just("output_text"),
        text=text,
        annotations=st.lists(json_objects, max_size=2),
        logprobs=st.lists(json_values, max_size=2),
    ),
    fixed(type=st.just("refusal"), refusal=text),
    with_optional(
        {"type": st.just("input_image"), "detail": st.sampled_from(IMAGE_DETAILS)}, {"image_url": text, "file_id": text}
    ),
    with_optional({"type": st.just("input_file")}, {k: text for k in ("file_id", "file_url", "file_data", "filename")}),
)
contents = text | st.lists(parts, max_size=3)


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    """`{role, content}`, or typed: with `type`, and maybe `id` and `status` (an id always comes with its type)."""
    out: dict[str, Any] = {"role": draw(st.sampled_from(ROLES)), "content": draw(contents)}
    if draw(st.booleans()):
        out["type"] = "message"
        out.update(draw(with_optional({}, {"id": ids, "status": ids})))
    out.update(draw(with_optional({}, {"phase": text})))
    return out


summaries = st.lists(fixed(type=st.just("summary_text"), text=text), max_size=2)
reasoning_texts = st.lists(fixed(type=st.just("reasoning_text"), text=text), min_size=1, max_size=2)

canonical_items = st.one_of(
    messages(),
    with_optional(
        {"type": st.just("function_call"), "call_id": text, "name": text, "arguments": text}, {"id": ids, "status": ids}
    ),
    with_optional(
        {"type": st.just("function_call_output"), "call_id": text, "output": text | st.lists(parts, max_size=2)},
        {"id": ids, "status": ids},
    ),
    with_optional(
        {"type": st.just("reasoning"), "summary": summaries},
        {"id": ids, "status": text, "content": reasoning_texts, "encrypted_content": text},
    ),
    fixed(type=st.just("item_reference"), id=ids),
)

# --- items as clients send them: short forms, defaults left out, extra keys, nulls --------

extra_keys = st.dictionaries(st.sampled_from(["x_extra", "annotations_v2", "created_by"]), json_values, max_size=1)
loose_parts = st.one_of(
    parts,
    with_optional({"type": st.just("input_image")}, {"image_url": text, "file_id": text, "detail": st.none()}),
    with_optional(
        {"type": st.just("output_text"), "text": text}, {"annotations": st.none() | st.just([]), "logprobs": st.none()}
    ),
)
loose_items = st.one_of(
    canonical_items,
    fixed(role=st.sampled_from(ROLES), content=text | st.lists(loose_parts, max_size=2), id=ids),
    fixed(id=ids),
    with_optional(
        {"type": st.just("function_call"), "call_id": text, "name": text, "arguments": text},
        {"id": st.none() | st.just(""), "status": st.none() | st.just("")},
    ),
    with_optional({"type": st.just("reasoning")}, {"summary": st.none(), "content": st.just([]), "status": st.none()}),
).flatmap(lambda item: extra_keys.map(lambda extra: {**extra, **item}))


# --- create bodies ------------------------------------------------------------

function_tools = fixed(
    type=st.just("function"),
    name=text,
    description=st.none() | text,
    parameters=st.none() | json_objects,
    strict=st.booleans(),
)
hosted_tools = json_objects.flatmap(
    lambda obj: st.text(min_size=1, max_size=12).filter(lambda t: t != "function").map(lambda t: {**obj, "type": t})
)
tool_choices = st.one_of(
    st.text(min_size=1, max_size=12),  # a mode; "" reads as unset, written back as "auto"
    fixed(type=st.just("function"), name=text),
    fixed(
        type=st.just("allowed_tools"),
        mode=st.text(min_size=1, max_size=8),
        tools=st.lists(json_objects, max_size=2),
    ),
    json_objects.flatmap(
        lambda obj: st.text(min_size=1, max_size=12)
        .filter(lambda t: t not in ("function", "allowed_tools"))
        .map(lambda t: {**obj, "type": t})
    ),
)
formats = with_optional(
    {"type": text}, {"name": text, "description": text, "schema": json_objects, "strict": st.booleans()}
)
_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "instructions": text,
    "previous_response_id": ids,
    "store": st.booleans(),
    "parallel_tool_calls": st.booleans(),
    "max_output_tokens": int64,
    "max_tool_calls": int64,
    "temperature": st.floats(allow_nan=False, allow_infinity=False),
    "top_p": st.floats(allow_nan=False, allow_infinity=False),
    "truncation": text,
    "user": text,
    "safety_identifier": text,
    "prompt_cache_key": text,
    "service_tier": text,
    "top_logprobs": int64,
    "prompt_cache_retention": text,
}
_CONFIGS: dict[str, st.SearchStrategy[Any]] = {
    "tools": st.lists(function_tools | hosted_tools, min_size=1, max_size=3),
    "tool_choice": tool_choices,
    "reasoning": with_optional({}, {"effort": text, "summary": text}),
    "text": fixed(format=formats, verbosity=text),
    "metadata": st.dictionaries(text, text, min_size=1, max_size=3),
    "include": st.lists(text, min_size=1, max_size=3),
    "prompt": with_optional({"id": text}, {"version": text, "variables": json_objects}),
    **{name: json_values.filter(lambda v: v is not None) for name in sorted(PASSTHROUGH_FIELDS - {"client_metadata"})},
    "client_metadata": st.dictionaries(text, text, max_size=3),
}


def some_of(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]], most: int = 6) -> dict[str, Any]:
    """A few of `fields` (any few, so every field is met without drawing them all each time)."""
    names = draw(st.sets(st.sampled_from(sorted(fields)), max_size=most))
    return {name: draw(fields[name]) for name in sorted(names)}


@st.composite
def canonical_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A create body as request_to_json writes it: every field it would fill is filled, defaults included."""
    body: dict[str, Any] = {"model": draw(text), "input": draw(text | st.lists(canonical_items, max_size=4))}
    body.update(some_of(draw, {**_SCALARS, **_CONFIGS}))
    if draw(st.booleans()):
        body["stream"] = True
        body.update(draw(with_optional({}, {"stream_options": fixed(include_obfuscation=st.booleans())})))
    return body


@st.composite
def valid_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A create body as clients write it: nulls for absent fields, short forms, defaults left out."""
    body: dict[str, Any] = {"model": draw(text), "input": draw(text | st.lists(loose_items, max_size=4))}
    loose: dict[str, st.SearchStrategy[Any]] = {
        **{name: strategy | st.none() for name, strategy in _SCALARS.items()},
        **_CONFIGS,
        "tools": st.lists(function_tools | fixed(type=st.just("function"), name=text) | hosted_tools, max_size=3),
        "tool_choice": tool_choices | fixed(type=st.just("allowed_tools")),
        "reasoning": with_optional({}, {"effort": text, "summary": text, "generate_summary": text | st.none()}),
        "text": with_optional({}, {"format": formats, "verbosity": text}),
        "metadata": st.dictionaries(text, text, max_size=3),
        "include": st.lists(text, max_size=3),
        "stream": st.booleans() | st.none(),
        "stream_options": with_optional({}, {"include_obfuscation": st.booleans()}),
        "background": st.booleans(),
        "conversation": text | fixed(id=text),
    }
    body.update(some_of(draw, loose))
    return body


def normalised(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = wire(request_to_json(request_from_json(body)))
    return out


@PROPERTY
@given(canonical_bodies())
def test_a_canonical_create_body_round_trips_exactly(body: dict[str, Any]) -> None:
    assert normalised(body) == wire(body)


@PROPERTY
@given(valid_bodies())
def test_any_valid_create_body_is_normalised_once(body: dict[str, Any]) -> None:
    once = normalised(body)

    assert normalised(once) == once
    kinds = [item.WhichOneof("item") for item in request_from_json(body).input_items.items]
    assert [item.WhichOneof("item") for item in request_from_json(once).input_items.items] == kinds


@PROPERTY
@given(canonical_items)
def test_a_canonical_item_round_trips_exactly(item: dict[str, Any]) -> None:
    assert wire(item_to_json(item_from_json(item, "input[0]"))) == wire(item)


@PROPERTY
@given(loose_items)
def test_any_valid_item_is_normalised_once_and_keeps_its_kind(item: dict[str, Any]) -> None:
    decoded = item_from_json(item, "input[0]")
    once = wire(item_to_json(decoded))

    assert wire(item_to_json(item_from_json(once, "input[0]"))) == once
    assert item_from_json(once, "input[0]").WhichOneof("item") == decoded.WhichOneof("item")


# --- responses: what response_from_json reads survives response_to_json -------

non_negative = st.integers(0, INT64_MAX // 4)


@st.composite
def responses(draw: st.DrawFn) -> pb.Response:
    """A response with the fields an upstream reports (the rest are echoes the gateway fills itself)."""
    resp = pb.Response(
        id=draw(text),
        object="response",
        status=draw(st.text(min_size=1, max_size=12)),
        model=draw(text),
        created_at=draw(int64),
        output=[item_from_json(item, "output[0]") for item in draw(st.lists(canonical_items, max_size=3))],
    )
    if draw(st.booleans()):
        inp, out, cached, reasoning = (draw(non_negative) for _ in range(4))
        resp.usage.input_tokens, resp.usage.output_tokens = inp, out
        resp.usage.total_tokens = draw(st.integers(1, INT64_MAX)) if draw(st.booleans()) else inp + out
        resp.usage.input_tokens_details.cached_tokens = cached
        resp.usage.output_tokens_details.reasoning_tokens = reasoning
    if draw(st.booleans()):
        resp.error.code, resp.error.message = draw(st.text(min_size=1, max_size=12)), draw(text)
    if draw(st.booleans()):
        resp.incomplete_details.reason = draw(text)
    if draw(st.booleans()):
        resp.completed_at = draw(int64)
    return resp


@PROPERTY
@given(responses())
def test_what_an_upstream_reports_in_a_response_round_trips(resp: pb.Response) -> None:
    if resp.HasField("usage") and resp.usage.total_tokens == 0:  # 0 means "not reported": the sum is filled in
        resp.usage.total_tokens = resp.usage.input_tokens + resp.usage.output_tokens
    assert response_from_json(wire(response_to_json(resp))) == resp


# --- hostile JSON: InvalidRequest or a request, nothing else -------------------

# Every integer orjson.loads yields (it reads larger ones as floats) and beyond (a Python caller's dict can hold
# any), and every float, NaN and infinities included.
JSON_INTEGERS = st.integers(INT64_MIN, 2**64 - 1) | st.integers()
# Strings the codec branches on, so generated objects get past the first check.
_WORDS = sorted({*ITEM_TYPES, *PART_TYPES, *ROLES, *CASES_BY_TYPE, "function", "allowed_tools", "json_schema"})
hostile_scalars = (
    st.none() | st.booleans() | JSON_INTEGERS | st.floats() | st.text(max_size=8) | st.sampled_from(_WORDS)
)
hostile_values = st.recursive(
    hostile_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def hostile_objects(
    draw: st.DrawFn, keys: tuple[str, ...], values: st.SearchStrategy[Any], kinds: tuple[str, ...] = ()
) -> dict[str, Any]:
    """An object with a few of `keys` (what the codec reads), each holding anything, and maybe a stray key;
    most of the time of one of `kinds`, so the reader of that kind gets to read the rest."""
    obj: dict[str, Any] = draw(st.dictionaries(st.text(max_size=4), hostile_scalars, max_size=1))
    obj.update(some_of(draw, {key: values for key in keys}, most=4))
    typed: bool = draw(st.integers(0, 3)) > 0
    if kinds and typed:
        obj["type"] = draw(st.sampled_from(kinds))
    return obj


_PART_KEYS = ("text", "annotations", "logprobs", "refusal", "detail", "image_url", "file_id", "file_url", "filename")
_ITEM_KEYS = ("type", "role", "id", "status", "phase", "call_id", "name", "arguments", "summary", "encrypted_content")
words_or_anything = st.sampled_from(_WORDS) | hostile_values
hostile_parts = hostile_objects(_PART_KEYS, words_or_anything, PART_TYPES)
hostile_contents = hostile_values | st.lists(hostile_parts | hostile_values, max_size=3)
hostile_items = hostile_objects((*_ITEM_KEYS, "content", "output"), words_or_anything | hostile_contents, ITEM_TYPES)
_CONFIG_KEYS: tuple[str, ...] = ("type", "name", "mode", "tools", "format", "schema", "strict", "parameters")
_CONFIG_KEYS += ("description", "effort", "summary", "generate_summary", "verbosity", "id", "version", "variables")
_CONFIG_KEYS += ("include_obfuscation",)
tool_refs = st.lists(hostile_objects(("type", "name"), words_or_anything), max_size=2)
hostile_configs = hostile_objects(_CONFIG_KEYS, words_or_anything | tool_refs)
hostile_bodies = st.dictionaries(
    st.sampled_from(sorted({*_READERS, *PASSTHROUGH_FIELDS})),
    hostile_values | hostile_configs | st.lists(hostile_items | hostile_configs, max_size=3),
    max_size=4,
)


def _decodes_or_refuses(decode: Any, value: Any) -> None:
    try:
        decode(value)
    except InvalidRequest:
        pass


@FUZZ
@given(hostile_bodies | hostile_values)
def test_any_json_body_decodes_or_is_an_invalid_request(body: Any) -> None:
    _decodes_or_refuses(request_from_json, body)


@st.composite
def valid_bodies_with_one_part_replaced(draw: st.DrawFn) -> Any:
    """A valid body with one value somewhere inside it replaced by arbitrary JSON."""
    body = draw(valid_bodies())
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for key, child in node.items():
                walk(child, (*path, key))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, (*path, index))

    walk(body, ())
    path = draw(st.sampled_from(paths[1:])) if len(paths) > 1 else ()
    if not path:
        return draw(hostile_values)
    node = body
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = draw(hostile_values)
    return body


@FUZZ
@given(valid_bodies_with_one_part_replaced())
def test_a_valid_body_with_any_part_replaced_decodes_or_is_an_invalid_request(body: Any) -> None:
    _decodes_or_refuses(request_from_json, body)


@FUZZ
@given(hostile_items)
def test_any_json_item_decodes_or_is_an_invalid_request(item: dict[str, Any]) -> None:
    _decodes_or_refuses(lambda obj: item_from_json(obj, "input[0]"), item)


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "input": "hi", "context_management": -(2**63) - 1},
        {"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f", "parameters": {"n": 2**64}}]},
    ],
    ids=["pass-through", "tool parameters"],
)
def test_an_integer_beyond_64_bits_in_a_free_form_value_is_an_invalid_request(body: dict[str, Any]) -> None:
    _decodes_or_refuses(request_from_json, body)


def test_a_body_nested_deeper_than_any_parser_allows_is_an_invalid_request() -> None:
    deep: Any = "x"
    for _ in range(100_000):
        deep = [deep]
    bodies = [{"model": "m", "input": "hi", "metadata": {"k": deep}}, {"model": "m", "input": [deep]}, {"image": deep}]
    for body in bodies:
        try:
            request_from_json(body)
        except InvalidRequest as exc:
            assert exc.code in ("nesting_above_max_depth", "invalid_type")
        else:
            raise AssertionError("a 100,000-deep body was accepted")
