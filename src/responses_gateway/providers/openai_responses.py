"""OpenAI Responses API upstream: the request goes out nearly as the client sent it.

The gateway's store is the source of truth, so the upstream call is always
`store: false` with the whole conversation in `input`, and asks for
`reasoning.encrypted_content` so reasoning carries across turns.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator

import orjson

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.codec import event_from_json, request_to_json, response_from_json
from responses_gateway.codec.items import item_to_json
from responses_gateway.config import ProviderConfig
from responses_gateway.errors import InvalidRequest, UpstreamError
from responses_gateway.providers.base import ProviderCall
from responses_gateway.providers.http import UpstreamHTTP

ENCRYPTED_REASONING = "reasoning.encrypted_content"


def _unreadable() -> UpstreamError:
    return UpstreamError("The upstream provider sent an unreadable response.", code="bad_upstream_response", http_status=502)


class OpenAIResponsesProvider:
    """Speaks POST {base}/responses, JSON and SSE."""

    def __init__(self, config: ProviderConfig, api_key: str) -> None:
        self._http = UpstreamHTTP(config, api_key)
        self._encoded = EncodedItems()

    def _body(self, call: ProviderCall, *, stream: bool) -> bytes:
        # Encoded from the caller's request as is (no copy of a long conversation);
        # the fields the upstream must see differently are set on the JSON.
        body = request_to_json(call.request, self._encoded.get)
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
            raise _unreadable() from exc

    async def stream(self, call: ProviderCall) -> AsyncIterator[epb.ResponseStreamEvent]:
        """POST with stream:true and translate each SSE event to proto."""
        async for data in self._http.stream_sse("/responses", orjson.Fragment(self._body(call, stream=True))):
            if data == b"[DONE]":
                return
            try:
                event = event_from_json(orjson.loads(data))
            except (orjson.JSONDecodeError, InvalidRequest) as exc:
                raise _unreadable() from exc
            if event is not None:
                yield event

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()


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


class EncodedItems:
    """Upstream JSON of items, remembered by their serialized form.

    A continuation resends the whole conversation every turn; encoding each
    stored item once instead of once per turn keeps a long conversation's
    turn about as cheap as a short one's. Bounded; oldest first out.
    """

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self._memo: OrderedDict[bytes, orjson.Fragment | None] = OrderedDict()
        self._bytes = 0
        self._max = max_bytes

    def get(self, item: ipb.Item) -> orjson.Fragment | None:
        """The item's upstream JSON, or None when it must not be sent."""
        key = item.SerializeToString(deterministic=True)
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        encoded = item_to_json(item)
        value = orjson.Fragment(orjson.dumps(_for_stateless_upstream(encoded))) if _replayable(encoded) else None
        self._memo[key] = value
        self._bytes += 2 * len(key) + 64
        while self._bytes > self._max:
            old, _ = self._memo.popitem(last=False)
            self._bytes -= 2 * len(old) + 64
        return value


def create(config: ProviderConfig, api_key: str) -> OpenAIResponsesProvider:
    """Provider factory registered under the type `openai_responses`."""
    return OpenAIResponsesProvider(config, api_key)
