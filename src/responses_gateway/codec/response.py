"""The response object and the small list/model objects: proto ⇄ Responses JSON.

Encoding fills every field the API always sends (null where unset) so strict
clients and Open Responses validators see the full object. Decoding reads what
an upstream reports (output, usage, status, errors) and ignores the echoes:
the gateway echoes the client's own request, not what it sent upstream.
"""

from __future__ import annotations

from typing import Any

from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.codec.fields import JSONObject, get_int, get_list, get_object, get_str
from responses_gateway.codec.items import item_to_json, items_from_json
from responses_gateway.codec.request import reasoning_config_to_json, text_to_json, tool_choice_to_json, tool_to_json


def usage_to_json(usage: pb.Usage) -> dict[str, Any]:
    """Encode usage with both details objects always present."""
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.input_tokens_details.cached_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.output_tokens_details.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def _opt(message: Any, field: str) -> Any:
    return getattr(message, field) if message.HasField(field) else None


def response_to_json(resp: pb.Response) -> dict[str, Any]:
    """Encode a response object exactly as the API returns it."""
    body = _response_fields(resp)
    if resp.HasField("truncation_details"):
        body["truncation_details"] = {"dropped_items": resp.truncation_details.dropped_items}
    if resp.withheld_tools:
        body["withheld_tools"] = list(resp.withheld_tools)
    return body


def _response_fields(resp: pb.Response) -> dict[str, Any]:
    return {
        "id": resp.id,
        "object": "response",
        "created_at": resp.created_at,
        "status": resp.status,
        "background": resp.background,
        "completed_at": _opt(resp, "completed_at"),
        "error": {"code": resp.error.code, "message": resp.error.message} if resp.HasField("error") else None,
        "frequency_penalty": resp.frequency_penalty,
        "incomplete_details": {"reason": resp.incomplete_details.reason}
        if resp.HasField("incomplete_details")
        else None,
        "instructions": _opt(resp, "instructions"),
        "max_output_tokens": _opt(resp, "max_output_tokens"),
        "max_tool_calls": _opt(resp, "max_tool_calls"),
        "metadata": dict(resp.metadata),
        "model": resp.model,
        "output": [item_to_json(i) for i in resp.output],
        "parallel_tool_calls": resp.parallel_tool_calls,
        "presence_penalty": resp.presence_penalty,
        "previous_response_id": _opt(resp, "previous_response_id"),
        "prompt_cache_key": _opt(resp, "prompt_cache_key"),
        "prompt_cache_retention": _opt(resp, "prompt_cache_retention"),
        "reasoning": reasoning_config_to_json(resp.reasoning),
        "safety_identifier": _opt(resp, "safety_identifier"),
        "service_tier": resp.service_tier,
        "store": resp.store,
        "temperature": resp.temperature,
        "text": text_to_json(resp.text),
        "tool_choice": tool_choice_to_json(resp.tool_choice),
        "tools": [tool_to_json(t) for t in resp.tools],
        "top_logprobs": resp.top_logprobs,
        "top_p": resp.top_p,
        "truncation": resp.truncation,
        "usage": usage_to_json(resp.usage) if resp.HasField("usage") else None,
        "user": _opt(resp, "user"),
    }


def usage_from_json(obj: JSONObject) -> pb.Usage:
    """Decode an upstream's usage object (details may be missing or null)."""
    usage = pb.Usage(
        input_tokens=get_int(obj, "input_tokens") or 0,
        output_tokens=get_int(obj, "output_tokens") or 0,
        total_tokens=get_int(obj, "total_tokens") or 0,
    )
    usage.input_tokens_details.cached_tokens = get_int(get_object(obj, "input_tokens_details") or {}, "cached_tokens") or 0
    usage.output_tokens_details.reasoning_tokens = (
        get_int(get_object(obj, "output_tokens_details") or {}, "reasoning_tokens") or 0
    )
    if not usage.total_tokens:
        usage.total_tokens = usage.input_tokens + usage.output_tokens
    return usage


def response_from_json(obj: JSONObject) -> pb.Response:
    """Decode what an upstream reports in a response object."""
    resp = pb.Response(
        id=get_str(obj, "id", "response.") or "",
        object="response",
        status=get_str(obj, "status", "response.") or "completed",
        model=get_str(obj, "model", "response.") or "",
        created_at=get_int(obj, "created_at") or 0,
    )
    resp.output.extend(items_from_json(get_list(obj, "output") or [], "output"))
    usage = get_object(obj, "usage")
    if usage is not None:
        resp.usage.CopyFrom(usage_from_json(usage))
    error = get_object(obj, "error")
    if error is not None:
        resp.error.code = get_str(error, "code", "error.") or "server_error"
        resp.error.message = get_str(error, "message", "error.") or ""
    incomplete = get_object(obj, "incomplete_details")
    if incomplete is not None:
        resp.incomplete_details.reason = get_str(incomplete, "reason", "incomplete_details.") or ""
    completed_at = get_int(obj, "completed_at")
    if completed_at is not None:
        resp.completed_at = completed_at
    return resp


def delete_to_json(resp: spb.DeleteResponseResponse) -> dict[str, Any]:
    """Encode the deletion object."""
    return {"id": resp.id, "object": "response", "deleted": resp.deleted}


def model_to_json(model: spb.Model) -> dict[str, Any]:
    """Encode a model object."""
    return {"id": model.id, "object": "model", "created": model.created, "owned_by": model.owned_by}


def models_to_json(models: spb.ListModelsResponse) -> dict[str, Any]:
    """Encode the model list."""
    return {"object": "list", "data": [model_to_json(m) for m in models.data]}


def input_items_to_json(page: spb.ListInputItemsResponse) -> dict[str, Any]:
    """Encode an input-items page in OpenAI's list shape."""
    return {
        "object": "list",
        "data": [item_to_json(i) for i in page.data],
        "first_id": _opt(page, "first_id"),
        "last_id": _opt(page, "last_id"),
        "has_more": page.has_more,
    }

