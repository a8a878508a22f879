"""OpenAI Responses API upstream: the request goes out nearly as the client sent it.

The gateway's store is the source of truth, so the upstream call is always
`store: false` with the whole conversation in `input`, and asks for
`reasoning.encrypted_content` so reasoning carries across turns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import orjson

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.codec import event_from_json, request_to_json, response_from_json
from responses_gateway.codec.items import ENCRYPTED_REASONING, item_to_json
from responses_gateway.config import ProviderConfig
from responses_gateway.errors import BadUpstreamResponse, InvalidRequest
from responses_gateway.providers.base import ProviderCall
from responses_gateway.providers.http import UpstreamHTTP



class OpenAIResponsesProvider:
    """Speaks POST {base}/responses, JSON and SSE."""

    def __init__(self, config: ProviderConfig, api_key: str) -> None:
        self._http = UpstreamHTTP(config, api_key)

    def _body(self, call: ProviderCall, *, stream: bool) -> bytes:
        # Encoded from the caller's request as is (no copy of a long conversation);
        # the fields the upstream must see differently are set on the JSON.
        body = request_to_json(call.request, _encoded_separately)
        body["input"] = input_json(call)
        body["model"] = call.upstream_model
        body["store"] = False
        body.pop("previous_response_id", None)
        body.pop("stream_options", None)
        if stream:
            body["stream"] = True
            options = call.request.stream_options
            if call.request.HasField("stream_options") and options.HasField("include_obfuscation"):
                body["stream_options"] = {"include_obfuscation": options.include_obfuscation}
        else:
            body.pop("stream", None)
        include = body.setdefault("include", [])
        if ENCRYPTED_REASONING not in include:
            include.append(ENCRYPTED_REASONING)
        return orjson.dumps(body)

    async def complete(self, call: ProviderCall) -> pb.Response:
        """One JSON request, one response object."""
        payload = await self._http.post_json("/responses", orjson.Fragment(self._body(call, stream=False)))
        try:
            return response_from_json(orjson.loads(payload))
        except (orjson.JSONDecodeError, InvalidRequest) as exc:
            raise BadUpstreamResponse() from exc

    async def stream(self, call: ProviderCall) -> AsyncIterator[epb.ResponseStreamEvent]:
        """POST with stream:true and translate each SSE event to proto."""
        async for data in self._http.stream_sse("/responses", orjson.Fragment(self._body(call, stream=True))):
            if data == b"[DONE]":
                return
            try:
                obj = orjson.loads(data)
                if not isinstance(obj, dict):
                    raise BadUpstreamResponse()
                kind = obj.get("type")
                # The gateway announces its own response object (service/assembler);
                # the upstream's, a full snapshot, is only a sign that it started.
                announcement = _ANNOUNCEMENTS.get(kind) if isinstance(kind, str) else None
                event = announcement() if announcement is not None else event_from_json(obj)
            except (orjson.JSONDecodeError, InvalidRequest) as exc:
                raise BadUpstreamResponse() from exc
            if event is not None:
                yield event

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()


def _announcement(case: str) -> Callable[[], epb.ResponseStreamEvent]:
    def make() -> epb.ResponseStreamEvent:
        event = epb.ResponseStreamEvent()
        getattr(event, case).SetInParent()
        return event

    return make


# Upstream lifecycle events before the outcome, read for their type alone.
_ANNOUNCEMENTS = {f"response.{case}": _announcement(case) for case in ("created", "in_progress", "queued")}


def _encoded_separately(item: ipb.Item) -> None:
    return None  # see input_json


def _replayable(item: dict[str, object]) -> bool:
    # With store:false a reasoning item without its encrypted state is looked
    # up by id upstream and fails; it carries nothing usable anyway.
    return item.get("type") != "reasoning" or "encrypted_content" in item


def _for_stateless_upstream(item: dict[str, object]) -> dict[str, object]:
    # Our item ids mean nothing to an upstream that stores nothing; only
    # reasoning items need theirs (paired with encrypted_content).
    if item.get("type") != "reasoning":
        item.pop("id", None)
    return item


class StatelessItems:
    """Input items as a Responses upstream that stores nothing takes them."""

    name = "openai_responses/stateless"

    def encode(self, item: ipb.Item) -> bytes | None:
        """The item's JSON, or None when it must not be sent."""
        encoded = item_to_json(item)
        return orjson.dumps(_for_stateless_upstream(encoded)) if _replayable(encoded) else None


STATELESS_ITEMS = StatelessItems()


def input_json(call: ProviderCall) -> orjson.Fragment:
    """The `input` array: the stored history's memoised JSON, then the new items."""
    history = call.history.encoded(STATELESS_ITEMS).from_item(call.history_start) if call.history.items else b""
    new = [e for e in map(STATELESS_ITEMS.encode, call.request.input_items.items) if e is not None]
    if new:
        return orjson.Fragment(b"[" + history + b",".join(new) + b"]")
    return orjson.Fragment(b"[" + history[:-1] + b"]")


def create(config: ProviderConfig, api_key: str) -> OpenAIResponsesProvider:
    """Provider factory registered under the type `openai_responses`."""
    return OpenAIResponsesProvider(config, api_key)
