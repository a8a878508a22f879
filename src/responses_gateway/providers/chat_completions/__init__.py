"""Chat Completions upstreams (DeepSeek and any OpenAI-compatible chat API)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import orjson

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.config import ProviderConfig
from responses_gateway.errors import BadUpstreamResponse
from responses_gateway.providers.base import ProviderCall
from responses_gateway.providers.chat_completions.convert import to_chat_request
from responses_gateway.providers.chat_completions.stream import ChunkTranslator
from responses_gateway.providers.chat_completions.tools import ToolMap
from responses_gateway.providers.http import UpstreamHTTP

__all__ = ["ChatCompletionsProvider", "create"]


class ChatCompletionsProvider:
    """POST {base}/chat/completions, translated both ways."""

    def __init__(self, config: ProviderConfig, api_key: str, *, keep_alive: bool = True) -> None:
        self._dialect = config.chat
        self._http = UpstreamHTTP(config, api_key, keep_alive=keep_alive)

    def _translator(self, call: ProviderCall, tools: ToolMap) -> ChunkTranslator:
        req = call.request
        summarize = req.HasField("reasoning") and (
            req.reasoning.HasField("summary") or req.reasoning.HasField("generate_summary")
        )
        return ChunkTranslator(reasoning_field=self._dialect.reasoning_field, summarize=summarize, tools=tools)

    async def complete(self, call: ProviderCall) -> pb.Response:
        """A non-streamed completion, translated through the same state machine."""
        tools = ToolMap.of(call.request)
        body = to_chat_request(call.request, call.upstream_model, self._dialect, stream=False, items=call.items(), tools=tools)
        payload = await self._http.post_json("/chat/completions", body)
        try:
            # DeepSeek may send blank keep-alive lines before the JSON body.
            chunk = orjson.loads(payload.strip())
        except orjson.JSONDecodeError as exc:
            raise BadUpstreamResponse() from exc
        if not isinstance(chunk, dict):
            raise BadUpstreamResponse()
        translator = self._translator(call, tools)
        for _ in translator.feed(chunk):
            pass
        terminal = list(translator.finish())[-1]
        return terminal.completed.response if terminal.HasField("completed") else terminal.incomplete.response

    async def stream(self, call: ProviderCall) -> AsyncGenerator[epb.ResponseStreamEvent, None]:
        """Stream chunks; yield Responses events as soon as each chunk allows."""
        tools = ToolMap.of(call.request)
        body = to_chat_request(call.request, call.upstream_model, self._dialect, stream=True, items=call.items(), tools=tools)
        translator = self._translator(call, tools)
        async for data in self._http.stream_sse("/chat/completions", body):
            if data == b"[DONE]":
                break
            try:
                chunk = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                raise BadUpstreamResponse() from exc
            if isinstance(chunk, dict):
                for event in translator.feed(chunk):
                    yield event
        for event in translator.finish():
            yield event

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()


def create(config: ProviderConfig, api_key: str) -> ChatCompletionsProvider:
    """Provider factory registered under the type `chat_completions`."""
    return ChatCompletionsProvider(config, api_key)
