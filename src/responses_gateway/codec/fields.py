"""Typed reads from decoded JSON, failing with OpenAI's wording and the param path."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from responses_gateway.errors import InvalidRequest

JSONObject = Mapping[str, Any]
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Objects and arrays nest at most this deep in a request body (the body itself is
# level 1). Generous for JSON Schemas (OpenAI's strict schemas stop at 10 levels
# of nesting, about 20 JSON levels), far below what the JSON libraries and
# Python's recursion limit bear (orjson refuses to write past 254 levels).
MAX_JSON_DEPTH = 64
# The shape of every id a client sends back: response ids (in the URL and as
# `previous_response_id`), item ids, `item_reference` ids and list cursors.
# The gateway's own ids (ids.new_id: a prefix, "_" and 48 hex digits) and
# OpenAI's fit; 64 is the width of the store's id columns. Nothing outside it
# can name a stored object, and nothing outside it reaches a query, a URL or a log line.
MAX_ID_LENGTH = 64
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

_TYPE_NAMES: dict[type, str] = {
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


def describe(value: Any) -> str:
    """'a string', 'an array', … as OpenAI's error messages say it."""
    return _TYPE_NAMES.get(type(value), "a value of another type")


def invalid_type(param: str, expected: str, value: Any) -> InvalidRequest:
    """OpenAI's 400 for a value of the wrong JSON type."""
    return InvalidRequest(
        f"Invalid type for '{param}': expected {expected}, but got {describe(value)} instead.",
        code="invalid_type",
        param=param,
    )


def invalid_value(param: str, value: Any, supported: tuple[str, ...] = ()) -> InvalidRequest:
    """OpenAI's 400 for a value outside the allowed set."""
    shown = value if isinstance(value, str) else orjson.dumps(value).decode()[:100]
    if supported:
        names = ", ".join(f"'{s}'" for s in supported[:-1])
        names = f"{names}, and '{supported[-1]}'" if len(supported) > 1 else f"'{supported[0]}'"
        message = f"Invalid value: '{shown}'. Supported values are: {names}."
    else:
        message = f"Invalid value: '{shown}'."
    return InvalidRequest(message, code="invalid_value", param=param)


def array_too_long(param: str, limit: int, length: int) -> InvalidRequest:
    """OpenAI's 400 for an array over its maximum length."""
    return InvalidRequest(
        f"Invalid '{param}': array too long. Expected an array with maximum length {limit}, "
        f"but got an array with length {length} instead.",
        code="array_above_max_length",
        param=param,
    )


def too_many_parts(param: str, limit: int, count: int) -> InvalidRequest:
    """The 400 for more content parts across a request's input than the gateway takes."""
    return InvalidRequest(
        f"Invalid '{param}': the input holds at least {count} content parts; "
        f"at most {limit} are accepted in one request.",
        code="array_above_max_length",
        param=param,
    )


def too_many_properties(param: str, limit: int, count: int) -> InvalidRequest:
    """OpenAI's 400 for an object with more properties than allowed."""
    return InvalidRequest(
        f"Invalid '{param}': too many properties. Expected an object with at most {limit} properties, "
        f"but got an object with {count} properties instead.",
        code="object_above_max_properties",
        param=param,
    )


def missing(param: str) -> InvalidRequest:
    """OpenAI's 400 for a required parameter that is absent."""
    return InvalidRequest(f"Missing required parameter: '{param}'.", code="missing_required_parameter", param=param)


def unknown(param: str) -> InvalidRequest:
    """OpenAI's 400 for a parameter the API does not define."""
    return InvalidRequest(f"Unknown parameter: '{param}'.", code="unknown_parameter", param=param)


def check_id(param: str, value: str) -> str:
    """`value` if it has the shape of an id, else OpenAI's 400 naming `param` (the value is not echoed: it may be anything)."""
    if _ID.fullmatch(value) is None:
        raise InvalidRequest(
            f"Invalid '{param}': expected an ID of 1 to {MAX_ID_LENGTH} letters, digits, underscores or dashes.",
            code="invalid_value",
            param=param,
        )
    return value


def get_str(obj: JSONObject, key: str, path: str, *, required: bool = False) -> str | None:
    """A string field; null counts as absent."""
    value = obj.get(key)
    if value is None:
        if required:
            raise missing(f"{path}{key}")
        return None
    if not isinstance(value, str):
        raise invalid_type(f"{path}{key}", "a string", value)
    return value


def req_str(obj: JSONObject, key: str, path: str) -> str:
    """A required string field."""
    value = get_str(obj, key, path, required=True)
    assert value is not None
    return value


def get_bool(obj: JSONObject, key: str, path: str = "") -> bool | None:
    """A boolean field; null counts as absent."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid_type(f"{path}{key}", "a boolean", value)
    return value


def get_int(obj: JSONObject, key: str, path: str = "") -> int | None:
    """An integer field (bool is not an integer here, although Python says so)."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if not (isinstance(value, float) and value.is_integer()):
            raise invalid_type(f"{path}{key}", "an integer", value)
        value = int(value)
    if not INT64_MIN <= value <= INT64_MAX:
        bound = "above_max" if value > 0 else "below_min"
        raise InvalidRequest(
            f"Invalid '{path}{key}': integer out of range.", code=f"integer_{bound}_value", param=f"{path}{key}"
        )
    return value


def get_number(obj: JSONObject, key: str, path: str = "") -> float | None:
    """A number field."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid_type(f"{path}{key}", "a decimal", value)
    return float(value)


def get_list(obj: JSONObject, key: str, path: str = "") -> list[Any] | None:
    """An array field."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid_type(f"{path}{key}", "an array", value)
    return value


def get_object(obj: JSONObject, key: str, path: str = "") -> dict[str, Any] | None:
    """An object field."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_type(f"{path}{key}", "an object", value)
    return value


def as_object(value: Any, param: str) -> dict[str, Any]:
    """An array element that must be an object."""
    if not isinstance(value, dict):
        raise invalid_type(param, "an object", value)
    return value


def dumps(value: Any) -> str:
    """JSON text of a free-form value (stored in the proto `*_json` fields); a 400 for what JSON cannot carry."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        # An HTTP body cannot hold such a value (orjson reads a huge integer as a float); a Python caller's dict can.
        raise InvalidRequest(
            "The request holds a value JSON cannot carry here: an integer outside the 64-bit range, or a non-JSON type.",
            code="invalid_value",
        ) from None


def fragment(text: str) -> orjson.Fragment:
    """Embed already-encoded JSON into an orjson document without re-parsing it."""
    return orjson.Fragment(text)



_CONTAINERS = (dict, list)


def check_depth(value: Any, path: str = "", *, shown: int = 3, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON nested more than `limit` objects/arrays deep.

    The param named is `path` followed by the first `shown` steps towards the
    offending spot (e.g. `tools[0].parameters`).
    """
    if type(value) in _CONTAINERS and not _within(value, limit):
        raise too_deep(_deep_param(value, limit, path, shown), limit)


def _within(value: Any, levels: int) -> bool:
    """Whether `value` nests at most `levels` deep (recursing at most that far; ~3× faster than a loop with a stack)."""
    levels -= 1
    for child in value.values() if type(value) is dict else value:
        kind = type(child)
        if (kind is dict or kind is list) and (levels == 0 or not _within(child, levels)):
            return False
    return True


def too_deep(param: str | None, limit: int = MAX_JSON_DEPTH) -> InvalidRequest:
    """The 400 for JSON nested past the limit."""
    where = f"'{param}'" if param else "the request body"
    return InvalidRequest(
        f"Invalid {where}: objects and arrays nested too deep. Expected at most {limit} levels of nesting.",
        code="nesting_above_max_depth",
        param=param,
    )


def _deep_param(value: Any, limit: int, path: str, shown: int) -> str | None:
    """The first `shown` steps of the path to a container nested past `limit` (e.g. `tools[0].parameters`)."""
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(value, 1, ())]
    while stack:
        node, depth, steps = stack.pop()
        if depth > limit:
            return _param(path, steps[:shown]) or None
        items = node.items() if type(node) is dict else enumerate(node)
        stack.extend((child, depth + 1, steps + (key,)) for key, child in items if type(child) in _CONTAINERS)
    return None  # pragma: no cover - only called once check_depth found one


def _param(path: str, steps: tuple[str | int, ...]) -> str:
    out = path
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else step
    return out
