"""Stream events: proto ⇄ Responses SSE JSON.

The oneof case of `ResponseStreamEvent` names the SSE event type; this module
owns that table. `event_to_sse` is on the hot path (once per streamed token),
so it builds the frame with one orjson call and no intermediate copies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from responses_gateway.api.v1 import events_pb2 as pb
from responses_gateway.codec.fields import JSONObject, as_object, dumps, fragment, get_int, get_object, get_str
from responses_gateway.codec.items import item_from_json, item_to_json, part_from_json, part_to_json
from responses_gateway.codec.response import response_from_json, response_to_json

EVENT_TYPES: dict[str, str] = {
    "created": "response.created",
    "in_progress": "response.in_progress",
    "queued": "response.queued",
    "completed": "response.completed",
    "incomplete": "response.incomplete",
    "failed": "response.failed",
    "output_item_added": "response.output_item.added",
    "output_item_done": "response.output_item.done",
    "content_part_added": "response.content_part.added",
    "content_part_done": "response.content_part.done",
    "output_text_delta": "response.output_text.delta",
    "output_text_done": "response.output_text.done",
    "output_text_annotation_added": "response.output_text.annotation.added",
    "refusal_delta": "response.refusal.delta",
    "refusal_done": "response.refusal.done",
    "function_call_arguments_delta": "response.function_call_arguments.delta",
    "function_call_arguments_done": "response.function_call_arguments.done",
    "reasoning_summary_part_added": "response.reasoning_summary_part.added",
    "reasoning_summary_part_done": "response.reasoning_summary_part.done",
    "reasoning_summary_text_delta": "response.reasoning_summary_text.delta",
    "reasoning_summary_text_done": "response.reasoning_summary_text.done",
    "reasoning_text_delta": "response.reasoning_text.delta",
    "reasoning_text_done": "response.reasoning_text.done",
    "custom_tool_call_input_delta": "response.custom_tool_call_input.delta",
    "custom_tool_call_input_done": "response.custom_tool_call_input.done",
    "error": "error",
}
CASES_BY_TYPE: dict[str, str] = {v: k for k, v in EVENT_TYPES.items()}
LIFECYCLE_CASES = frozenset({"created", "in_progress", "queued", "completed", "incomplete", "failed"})


def _lifecycle(e: pb.ResponseLifecycleEvent) -> dict[str, Any]:
    return {"response": response_to_json(e.response)}


def _output_item(e: pb.OutputItemEvent) -> dict[str, Any]:
    return {"output_index": e.output_index, "item": item_to_json(e.item)}


def _content_part(e: pb.ContentPartEvent) -> dict[str, Any]:
    return {
        "item_id": e.item_id,
        "output_index": e.output_index,
        "content_index": e.content_index,
        "part": part_to_json(e.part),
    }


def _text_delta(e: pb.TextDeltaEvent) -> dict[str, Any]:
    out: dict[str, Any] = {
        "item_id": e.item_id,
        "output_index": e.output_index,
        "content_index": e.content_index,
        "delta": e.delta,
        "logprobs": [fragment(x) for x in e.logprobs_json],
    }
    if e.HasField("obfuscation"):
        out["obfuscation"] = e.obfuscation
    return out


def _text_done(e: pb.TextDoneEvent) -> dict[str, Any]:
    return {
        "item_id": e.item_id,
        "output_index": e.output_index,
        "content_index": e.content_index,
        "text": e.text,
        "logprobs": [fragment(x) for x in e.logprobs_json],
    }


def _refusal_delta(e: pb.TextDeltaEvent) -> dict[str, Any]:
    return {"item_id": e.item_id, "output_index": e.output_index, "content_index": e.content_index, "delta": e.delta}


def _refusal_done(e: pb.TextDoneEvent) -> dict[str, Any]:
    return {"item_id": e.item_id, "output_index": e.output_index, "content_index": e.content_index, "refusal": e.text}


def _reasoning_text_delta(e: pb.TextDeltaEvent) -> dict[str, Any]:
    return {"item_id": e.item_id, "output_index": e.output_index, "content_index": e.content_index, "delta": e.delta}


def _reasoning_text_done(e: pb.TextDoneEvent) -> dict[str, Any]:
    return {"item_id": e.item_id, "output_index": e.output_index, "content_index": e.content_index, "text": e.text}


def _annotation(e: pb.AnnotationAddedEvent) -> dict[str, Any]:
    return {
        "item_id": e.item_id,
        "output_index": e.output_index,
        "content_index": e.content_index,
        "annotation_index": e.annotation_index,
        "annotation": fragment(e.annotation_json),
    }


def _arguments_delta(e: pb.ArgumentsDeltaEvent) -> dict[str, Any]:
    out: dict[str, Any] = {"item_id": e.item_id, "output_index": e.output_index, "delta": e.delta}
    if e.HasField("obfuscation"):
        out["obfuscation"] = e.obfuscation
    return out


def _arguments_done(e: pb.ArgumentsDoneEvent) -> dict[str, Any]:
    out: dict[str, Any] = {"item_id": e.item_id, "output_index": e.output_index, "arguments": e.arguments}
    if e.HasField("name"):
        out["name"] = e.name
    return out


def _custom_input_done(e: pb.CustomToolInputDoneEvent) -> dict[str, Any]:
    return {"item_id": e.item_id, "output_index": e.output_index, "input": e.input}


def _summary_part(e: pb.SummaryPartEvent) -> dict[str, Any]:
    return {
        "item_id": e.item_id,
        "output_index": e.output_index,
        "summary_index": e.summary_index,
        "part": {"type": "summary_text", "text": e.part.text},
    }


def _summary_delta(e: pb.SummaryTextDeltaEvent) -> dict[str, Any]:
    out: dict[str, Any] = {
        "item_id": e.item_id,
        "output_index": e.output_index,
        "summary_index": e.summary_index,
        "delta": e.delta,
    }
    if e.HasField("obfuscation"):
        out["obfuscation"] = e.obfuscation
    return out


def _summary_done(e: pb.SummaryTextDoneEvent) -> dict[str, Any]:
    return {"item_id": e.item_id, "output_index": e.output_index, "summary_index": e.summary_index, "text": e.text}


def _error(e: pb.ErrorEvent) -> dict[str, Any]:
    # Both shapes at once: the flat fields are the documented/SDK-typed event,
    # the nested `error` object is what the live API sends and what makes the
    # openai SDK raise APIError; Open Responses requires the nested form.
    err = e.error
    code = err.code if err.HasField("code") else None
    param = err.param if err.HasField("param") else None
    return {
        "code": code,
        "message": err.message,
        "param": param,
        "error": {"type": err.type, "code": code, "message": err.message, "param": param},
    }


_ENCODERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    **{case: _lifecycle for case in LIFECYCLE_CASES},
    "output_item_added": _output_item,
    "output_item_done": _output_item,
    "content_part_added": _content_part,
    "content_part_done": _content_part,
    "output_text_delta": _text_delta,
    "output_text_done": _text_done,
    "output_text_annotation_added": _annotation,
    "refusal_delta": _refusal_delta,
    "refusal_done": _refusal_done,
    "function_call_arguments_delta": _arguments_delta,
    "function_call_arguments_done": _arguments_done,
    "reasoning_summary_part_added": _summary_part,
    "reasoning_summary_part_done": _summary_part,
    "reasoning_summary_text_delta": _summary_delta,
    "reasoning_summary_text_done": _summary_done,
    "reasoning_text_delta": _reasoning_text_delta,
    "reasoning_text_done": _reasoning_text_done,
    "custom_tool_call_input_delta": _arguments_delta,
    "custom_tool_call_input_done": _custom_input_done,
    "error": _error,
}


def event_to_json(event: pb.ResponseStreamEvent) -> dict[str, Any]:
    """Encode one event as its JSON object (`type` first, `sequence_number` last)."""
    case = event.WhichOneof("event")
    if case is None:
        raise ValueError("empty stream event")
    body: dict[str, Any] = {"type": EVENT_TYPES[case]}
    body.update(_ENCODERS[case](getattr(event, case)))
    body["sequence_number"] = event.sequence_number
    return body


def event_to_sse(event: pb.ResponseStreamEvent) -> bytes:
    """One SSE frame: `event: <type>` equal to the JSON `type`, one `data:` line."""
    body = event_to_json(event)
    kind: str = body["type"]
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(body) + b"\n\n"


# --- JSON → proto (an upstream's stream) -------------------------------------


def _read_lifecycle(obj: JSONObject, out: pb.ResponseLifecycleEvent) -> None:
    out.response.CopyFrom(response_from_json(get_object(obj, "response") or {}))


def _read_output_item(obj: JSONObject, out: pb.OutputItemEvent) -> None:
    out.output_index = get_int(obj, "output_index") or 0
    out.item.CopyFrom(item_from_json(as_object(obj.get("item"), "item"), "item"))


def _read_content_part(obj: JSONObject, out: pb.ContentPartEvent) -> None:
    _read_locator(obj, out)
    out.part.CopyFrom(part_from_json(as_object(obj.get("part"), "part"), "part."))


def _read_locator(obj: JSONObject, out: Any) -> None:
    out.item_id = get_str(obj, "item_id", "") or ""
    out.output_index = get_int(obj, "output_index") or 0
    if "content_index" in out.DESCRIPTOR.fields_by_name:
        out.content_index = get_int(obj, "content_index") or 0
    if "summary_index" in out.DESCRIPTOR.fields_by_name:
        out.summary_index = get_int(obj, "summary_index") or 0


def _read_delta(obj: JSONObject, out: Any) -> None:
    _read_locator(obj, out)
    out.delta = get_str(obj, "delta", "") or ""
    obfuscation = get_str(obj, "obfuscation", "")
    if obfuscation is not None:
        out.obfuscation = obfuscation
    if "logprobs_json" in out.DESCRIPTOR.fields_by_name:
        out.logprobs_json.extend(dumps(x) for x in obj.get("logprobs") or [])


def _read_text_done(key: str) -> Callable[[JSONObject, Any], None]:
    def read(obj: JSONObject, out: Any) -> None:
        _read_locator(obj, out)
        out.text = get_str(obj, key, "") or ""
        if "logprobs_json" in out.DESCRIPTOR.fields_by_name:
            out.logprobs_json.extend(dumps(x) for x in obj.get("logprobs") or [])

    return read


def _read_annotation(obj: JSONObject, out: pb.AnnotationAddedEvent) -> None:
    _read_locator(obj, out)
    out.annotation_index = get_int(obj, "annotation_index") or 0
    out.annotation_json = dumps(obj.get("annotation"))


def _read_arguments_done(obj: JSONObject, out: pb.ArgumentsDoneEvent) -> None:
    _read_locator(obj, out)
    out.arguments = get_str(obj, "arguments", "") or ""
    name = get_str(obj, "name", "")
    if name is not None:
        out.name = name


def _read_custom_input_done(obj: JSONObject, out: pb.CustomToolInputDoneEvent) -> None:
    _read_locator(obj, out)
    out.input = get_str(obj, "input", "") or ""


def _read_summary_part(obj: JSONObject, out: pb.SummaryPartEvent) -> None:
    _read_locator(obj, out)
    out.part.text = get_str(get_object(obj, "part") or {}, "text", "part.") or ""


def _read_error(obj: JSONObject, out: pb.ErrorEvent) -> None:
    # Accept both the nested (live API) and the flat (documented) shape.
    inner = obj.get("error")
    nested: JSONObject = inner if isinstance(inner, dict) else obj
    out.error.message = get_str(nested, "message", "") or "The upstream stream failed."
    out.error.type = (get_str(nested, "type", "") if nested is not obj else None) or "server_error"
    code = get_str(nested, "code", "")
    if code is not None:
        out.error.code = code
    param = get_str(nested, "param", "")
    if param is not None:
        out.error.param = param


_DECODERS: dict[str, Callable[[JSONObject, Any], None]] = {
    **{case: _read_lifecycle for case in LIFECYCLE_CASES},
    "output_item_added": _read_output_item,
    "output_item_done": _read_output_item,
    "content_part_added": _read_content_part,
    "content_part_done": _read_content_part,
    "output_text_delta": _read_delta,
    "output_text_done": _read_text_done("text"),
    "output_text_annotation_added": _read_annotation,
    "refusal_delta": _read_delta,
    "refusal_done": _read_text_done("refusal"),
    "function_call_arguments_delta": _read_delta,
    "function_call_arguments_done": _read_arguments_done,
    "reasoning_summary_part_added": _read_summary_part,
    "reasoning_summary_part_done": _read_summary_part,
    "reasoning_summary_text_delta": _read_delta,
    "reasoning_summary_text_done": _read_text_done("text"),
    "reasoning_text_delta": _read_delta,
    "reasoning_text_done": _read_text_done("text"),
    "custom_tool_call_input_delta": _read_delta,
    "custom_tool_call_input_done": _read_custom_input_done,
    "error": _read_error,
}


def event_from_json(obj: JSONObject) -> pb.ResponseStreamEvent | None:
    """Decode one upstream event; None for event types the gateway does not model."""
    kind = obj.get("type")
    case = CASES_BY_TYPE.get(kind) if isinstance(kind, str) else None
    if case is None:
        return None
    event = pb.ResponseStreamEvent(sequence_number=get_int(obj, "sequence_number") or 0)
    payload = getattr(event, case)
    payload.SetInParent()
    _DECODERS[case](obj, payload)
    return event
