"""Ids and canonical forms of items as the gateway stores and returns them."""

from __future__ import annotations

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.ids import new_id

_ID_PREFIX = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "custom_tool_call": "ctc",
    "custom_tool_call_output": "ctco",
    "reasoning": "rs",
}


def item_id(item: ipb.Item) -> str:
    """The id of any item kind ('' when it has none)."""
    kind = item.WhichOneof("item")
    return getattr(item, kind).id if kind else ""


def item_type(item: ipb.Item) -> str:
    """The JSON `type` of an item."""
    return item.WhichOneof("item") or ""


def ensure_id(item: ipb.Item) -> str:
    """Give the item an id if it has none; return the id."""
    kind = item.WhichOneof("item")
    if kind is None:
        return ""
    payload = getattr(item, kind)
    if not payload.id:
        payload.id = new_id(_ID_PREFIX.get(kind, "item"))
    return str(payload.id)


def set_status(item: ipb.Item, status: str, *, only_if_missing: bool = False) -> None:
    """Set the status of every item kind that has one."""
    kind = item.WhichOneof("item")
    if kind is None or kind == "item_reference":
        return
    payload = getattr(item, kind)
    has_status = payload.HasField("status") if kind == "reasoning" else bool(payload.status)
    if only_if_missing and has_status:
        return
    payload.status = status


def canonical_input(req: pb.CreateResponseRequest) -> list[ipb.Item]:
    """The request's own input as stored items: ids, statuses, content as parts."""
    if req.WhichOneof("input") == "input_text":
        message = ipb.MessageItem(role="user", typed=True)
        message.parts.parts.add(input_text=ipb.InputText(text=req.input_text))
        items = [ipb.Item(message=message)]
    else:
        items = [ipb.Item.FromString(i.SerializeToString()) for i in req.input_items.items]
    for item in items:
        ensure_id(item)
        set_status(item, "completed", only_if_missing=True)
        if item.WhichOneof("item") == "message":
            _content_as_parts(item.message)
    return items


def _content_as_parts(message: ipb.MessageItem) -> None:
    message.typed = True
    if message.WhichOneof("content") != "text":
        return
    text = message.text
    part = ipb.ContentPart()
    if message.role == "assistant":
        part.output_text.text = text
    else:
        part.input_text.text = text
    message.parts.parts.append(part)


def client_visible(item: ipb.Item, include_encrypted: bool) -> ipb.Item:
    """The item as the client sees it: encrypted reasoning only when asked for."""
    if include_encrypted or item.WhichOneof("item") != "reasoning" or not item.reasoning.HasField("encrypted_content"):
        return item
    visible = ipb.Item()
    visible.CopyFrom(item)
    visible.reasoning.ClearField("encrypted_content")
    return visible
