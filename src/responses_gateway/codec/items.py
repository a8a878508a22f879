"""Input/output items and content parts: Responses JSON ⇄ proto.

Decoding is lenient about unknown keys inside items (clients resend output
items with fields newer than ours) and strict about types and item kinds.
Encoding writes only what is present, so an item a client sent without an id
goes upstream without one, while output items (which the service always
fills) come out with `id`, `type` and `status`.
"""

from __future__ import annotations

from typing import Any

import orjson

from responses_gateway.api.v1 import items_pb2 as pb
from responses_gateway.codec.fields import (
    JSONObject,
    as_object,
    check_id,
    dumps,
    fragment,
    get_list,
    get_str,
    invalid_type,
    invalid_value,
    missing,
    req_str,
)

# The `include` value that asks for reasoning items' encrypted state.
ENCRYPTED_REASONING = "reasoning.encrypted_content"
ROLES = ("user", "assistant", "system", "developer")
ITEM_TYPES = (
    "message",
    "function_call",
    "function_call_output",
    "custom_tool_call",
    "custom_tool_call_output",
    "reasoning",
    "item_reference",
)
PART_TYPES = ("input_text", "input_image", "input_file", "output_text", "refusal")
IMAGE_DETAILS = ("auto", "low", "high", "original")


# --- JSON → proto -----------------------------------------------------------


def item_from_json(obj: JSONObject, path: str) -> pb.Item:
    """Decode one input or output item; `path` is the param prefix, e.g. `input[2]`."""
    kind = obj.get("type")
    prefix = f"{path}."
    if kind is None:
        if "role" in obj:
            return pb.Item(message=_message_from_json(obj, prefix, typed=False))
        if "id" in obj:
            return pb.Item(item_reference=pb.ItemReference(id=_item_id(obj, prefix, required=True)))
        raise missing(f"{prefix}type")
    if kind == "message":
        return pb.Item(message=_message_from_json(obj, prefix, typed=True))
    if kind == "function_call":
        call = pb.FunctionCallItem(
            id=_item_id(obj, prefix),
            call_id=req_str(obj, "call_id", prefix),
            name=req_str(obj, "name", prefix),
            arguments=req_str(obj, "arguments", prefix),
            status=get_str(obj, "status", prefix) or "",
        )
        namespace = get_str(obj, "namespace", prefix)
        if namespace is not None:
            call.namespace = namespace
        return pb.Item(function_call=call)
    if kind == "function_call_output":
        return pb.Item(function_call_output=_call_output_from_json(obj, prefix))
    if kind == "custom_tool_call":
        custom = pb.CustomToolCallItem(
            id=_item_id(obj, prefix),
            call_id=req_str(obj, "call_id", prefix),
            name=req_str(obj, "name", prefix),
            input=req_str(obj, "input", prefix),
            status=get_str(obj, "status", prefix) or "",
        )
        namespace = get_str(obj, "namespace", prefix)
        if namespace is not None:
            custom.namespace = namespace
        return pb.Item(custom_tool_call=custom)
    if kind == "custom_tool_call_output":
        return pb.Item(custom_tool_call_output=_call_output_from_json(obj, prefix))
    if kind == "reasoning":
        return pb.Item(reasoning=_reasoning_from_json(obj, prefix))
    if kind == "item_reference":
        return pb.Item(item_reference=pb.ItemReference(id=_item_id(obj, prefix, required=True)))
    if not isinstance(kind, str):
        raise invalid_type(f"{prefix}type", "a string", kind)
    raise invalid_value(f"{prefix}type", kind, ITEM_TYPES)


def _item_id(obj: JSONObject, prefix: str, *, required: bool = False) -> str:
    """An item's `id` ('' when absent): an id's shape, as it names stored items (empty is left to the service to refuse)."""
    value = get_str(obj, "id", prefix, required=required) or ""
    return check_id(f"{prefix}id", value) if value else value


def items_from_json(values: list[Any], path: str) -> list[pb.Item]:
    """Decode an array of items."""
    return [item_from_json(as_object(v, f"{path}[{i}]"), f"{path}[{i}]") for i, v in enumerate(values)]


def _message_from_json(obj: JSONObject, prefix: str, *, typed: bool) -> pb.MessageItem:
    role = req_str(obj, "role", prefix)
    if role not in ROLES:
        raise invalid_value(f"{prefix}role", role, ROLES)
    message = pb.MessageItem(
        id=_item_id(obj, prefix),
        role=role,
        status=get_str(obj, "status", prefix) or "",
        typed=typed,
    )
    phase = get_str(obj, "phase", prefix)
    if phase is not None:
        message.phase = phase
    content = obj.get("content")
    if isinstance(content, str):
        message.text = content
    elif isinstance(content, list):
        message.parts.parts.extend(parts_from_json(content, f"{prefix}content"))
    elif content is None:
        raise missing(f"{prefix}content")
    else:
        raise invalid_type(f"{prefix}content", "a string or an array", content)
    return message


def _call_output_from_json(obj: JSONObject, prefix: str) -> pb.FunctionCallOutputItem:
    item = pb.FunctionCallOutputItem(
        id=_item_id(obj, prefix),
        call_id=req_str(obj, "call_id", prefix),
        status=get_str(obj, "status", prefix) or "",
    )
    output = obj.get("output")
    if isinstance(output, str):
        item.text = output
    elif isinstance(output, list):
        item.parts.parts.extend(parts_from_json(output, f"{prefix}output"))
    elif output is None:
        raise missing(f"{prefix}output")
    else:
        raise invalid_type(f"{prefix}output", "a string or an array", output)
    return item


def _reasoning_from_json(obj: JSONObject, prefix: str) -> pb.ReasoningItem:
    item = pb.ReasoningItem(id=_item_id(obj, prefix))
    for i, part in enumerate(get_list(obj, "summary", prefix) or []):
        part = as_object(part, f"{prefix}summary[{i}]")
        item.summary.add(text=req_str(part, "text", f"{prefix}summary[{i}]."))
    for i, part in enumerate(get_list(obj, "content", prefix) or []):
        part = as_object(part, f"{prefix}content[{i}]")
        item.content.add(text=req_str(part, "text", f"{prefix}content[{i}]."))
    encrypted = get_str(obj, "encrypted_content", prefix)
    if encrypted is not None:
        item.encrypted_content = encrypted
    status = get_str(obj, "status", prefix)
    if status is not None:
        item.status = status
    return item


def parts_from_json(values: list[Any], path: str) -> list[pb.ContentPart]:
    """Decode a content-part array."""
    return [part_from_json(as_object(v, f"{path}[{i}]"), f"{path}[{i}].") for i, v in enumerate(values)]


def part_from_json(obj: JSONObject, prefix: str) -> pb.ContentPart:
    """Decode one content part."""
    kind = obj.get("type")
    if kind == "input_text":
        return pb.ContentPart(input_text=pb.InputText(text=req_str(obj, "text", prefix)))
    if kind == "output_text":
        return pb.ContentPart(
            output_text=pb.OutputText(
                text=req_str(obj, "text", prefix),
                annotations_json=[dumps(a) for a in get_list(obj, "annotations", prefix) or []],
                logprobs_json=[dumps(a) for a in get_list(obj, "logprobs", prefix) or []],
            )
        )
    if kind == "refusal":
        return pb.ContentPart(refusal=pb.Refusal(refusal=req_str(obj, "refusal", prefix)))
    if kind == "input_image":
        detail = get_str(obj, "detail", prefix) or "auto"
        if detail not in IMAGE_DETAILS:
            raise invalid_value(f"{prefix}detail", detail, IMAGE_DETAILS)
        image = pb.InputImage(detail=detail)
        for key in ("image_url", "file_id"):
            value = get_str(obj, key, prefix)
            if value is not None:
                setattr(image, key, value)
        return pb.ContentPart(input_image=image)
    if kind == "input_file":
        file = pb.InputFile()
        for key in ("file_id", "file_url", "file_data", "filename"):
            value = get_str(obj, key, prefix)
            if value is not None:
                setattr(file, key, value)
        return pb.ContentPart(input_file=file)
    if kind is None:
        raise missing(f"{prefix}type")
    if not isinstance(kind, str):
        raise invalid_type(f"{prefix}type", "a string", kind)
    raise invalid_value(f"{prefix}type", kind, PART_TYPES)


# --- proto → JSON -----------------------------------------------------------


def item_to_json(item: pb.Item) -> dict[str, Any]:
    """Encode one item as Responses JSON."""
    kind = item.WhichOneof("item")
    if kind == "message":
        return message_to_json(item.message)
    if kind == "function_call":
        return function_call_to_json(item.function_call)
    if kind == "function_call_output":
        return _call_output_to_json(item.function_call_output, "function_call_output")
    if kind == "custom_tool_call":
        return custom_tool_call_to_json(item.custom_tool_call)
    if kind == "custom_tool_call_output":
        return _call_output_to_json(item.custom_tool_call_output, "custom_tool_call_output")
    if kind == "reasoning":
        return reasoning_item_to_json(item.reasoning)
    if kind == "item_reference":
        return {"type": "item_reference", "id": item.item_reference.id}
    raise ValueError("empty item")


def message_to_json(message: pb.MessageItem) -> dict[str, Any]:
    """Encode a message item."""
    out: dict[str, Any] = {}
    if message.id:
        out["id"] = message.id
    if message.typed or message.id:
        out["type"] = "message"
    if message.status:
        out["status"] = message.status
    out["role"] = message.role
    if message.WhichOneof("content") == "text":
        out["content"] = message.text
    else:
        out["content"] = [part_to_json(p) for p in message.parts.parts]
    if message.HasField("phase"):
        out["phase"] = message.phase
    return out


def function_call_to_json(call: pb.FunctionCallItem) -> dict[str, Any]:
    """Encode a function_call item."""
    out: dict[str, Any] = {}
    if call.id:
        out["id"] = call.id
    out["type"] = "function_call"
    if call.status:
        out["status"] = call.status
    out["call_id"] = call.call_id
    out["name"] = call.name
    out["arguments"] = call.arguments
    if call.HasField("namespace"):
        out["namespace"] = call.namespace
    return out


def custom_tool_call_to_json(call: pb.CustomToolCallItem) -> dict[str, Any]:
    """Encode a custom_tool_call item."""
    out: dict[str, Any] = {}
    if call.id:
        out["id"] = call.id
    out["type"] = "custom_tool_call"
    if call.status:
        out["status"] = call.status
    out["call_id"] = call.call_id
    out["name"] = call.name
    out["input"] = call.input
    if call.HasField("namespace"):
        out["namespace"] = call.namespace
    return out


def _call_output_to_json(item: pb.FunctionCallOutputItem, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if item.id:
        out["id"] = item.id
    out["type"] = kind
    if item.status:
        out["status"] = item.status
    out["call_id"] = item.call_id
    if item.WhichOneof("output") == "parts":
        out["output"] = [part_to_json(p) for p in item.parts.parts]
    else:
        out["output"] = item.text
    return out


def reasoning_item_to_json(item: pb.ReasoningItem) -> dict[str, Any]:
    """Encode a reasoning item."""
    out: dict[str, Any] = {}
    if item.id:
        out["id"] = item.id
    out["type"] = "reasoning"
    if item.HasField("status"):
        out["status"] = item.status
    out["summary"] = [{"type": "summary_text", "text": s.text} for s in item.summary]
    if item.content:
        out["content"] = [{"type": "reasoning_text", "text": c.text} for c in item.content]
    if item.HasField("encrypted_content"):
        out["encrypted_content"] = item.encrypted_content
    return out


def part_to_json(part: pb.ContentPart) -> dict[str, Any]:
    """Encode one content part."""
    kind = part.WhichOneof("part")
    if kind == "output_text":
        text = part.output_text
        return {
            "type": "output_text",
            "text": text.text,
            "annotations": [fragment(a) for a in text.annotations_json],
            "logprobs": [fragment(a) for a in text.logprobs_json],
        }
    if kind == "input_text":
        return {"type": "input_text", "text": part.input_text.text}
    if kind == "refusal":
        return {"type": "refusal", "refusal": part.refusal.refusal}
    if kind == "input_image":
        image = part.input_image
        out: dict[str, Any] = {"type": "input_image", "detail": image.detail or "auto"}
        if image.HasField("image_url"):
            out["image_url"] = image.image_url
        if image.HasField("file_id"):
            out["file_id"] = image.file_id
        return out
    if kind == "input_file":
        file = part.input_file
        out = {"type": "input_file"}
        for key in ("file_id", "file_url", "file_data", "filename"):
            if file.HasField(key):
                out[key] = getattr(file, key)
        return out
    raise ValueError("empty content part")


def json_value(text: str) -> Any:
    """Decode a `*_json` field where a real value (not a Fragment) is needed."""
    return orjson.loads(text)
