"""A Responses upstream's stream as the adapter reads it, malformed events included."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import web

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.codec import request_from_json
from responses_gateway.config import ModelConfig, ProviderConfig
from responses_gateway.errors import UpstreamError
from responses_gateway.providers.base import ProviderCall
from responses_gateway.providers.openai_responses import OpenAIResponsesProvider
from tests.providers._aiohttp_upstream import serving

MODEL = ModelConfig(id="gpt-5.4", provider="openai", tokenizer="o200k")
DELTA = {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Hi", "sequence_number": 3}


def _frame(payload: object) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


@contextlib.asynccontextmanager
async def _provider(frames: list[bytes]) -> AsyncIterator[OpenAIResponsesProvider]:
    async def responses(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for frame in frames:
            await response.write(frame)
        await response.write_eof()
        return response

    async with serving(responses) as base_url:
        provider = OpenAIResponsesProvider(ProviderConfig(name="openai", type="openai_responses", base_url=base_url), "sk-test")
        try:
            yield provider
        finally:
            await provider.aclose()


async def _events(frames: list[bytes]) -> list[epb.ResponseStreamEvent]:
    call = ProviderCall(request=request_from_json({"model": "gpt-5.4", "input": "hi"}), model=MODEL, upstream_model="gpt-5.4")
    async with _provider(frames) as provider:
        return [event async for event in provider.stream(call)]


async def test_the_upstreams_early_snapshot_only_says_it_started() -> None:
    # The gateway sends its own response object; the upstream's is not even parsed.
    events = await _events([_frame({"type": "response.created", "response": "not an object"}), _frame(DELTA), b"data: [DONE]\n\n"])
    assert [e.WhichOneof("event") for e in events] == ["created", "output_text_delta"]
    assert events[0].created.response.id == ""
    assert events[1].output_text_delta.delta == "Hi"


async def test_an_event_that_is_not_a_json_object_is_an_unreadable_upstream() -> None:
    with pytest.raises(UpstreamError) as raised:
        await _events([_frame({"type": "response.created", "response": {}}), _frame([DELTA])])
    assert raised.value.code == "bad_upstream_response"


async def test_an_event_type_that_is_not_a_string_is_skipped_like_an_unknown_one() -> None:
    events = await _events([_frame({"type": {"nested": 1}}), _frame(DELTA)])
    assert [e.WhichOneof("event") for e in events] == ["output_text_delta"]
