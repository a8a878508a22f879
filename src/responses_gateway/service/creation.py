"""Creating a response, streamed or unary: one path from the request to the stored answer.

validate → load the conversation → count and truncate → route → read the
provider's events through the assembler → persist. A unary create takes the
provider's one-call answer through the same router loop and assembler.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.codec.items import ENCRYPTED_REASONING
from responses_gateway.config import ModelConfig
from responses_gateway.context.transcript import EMPTY, Transcript
from responses_gateway.errors import ContextOverflow, GatewayError, InternalError, InvalidRequest, UpstreamServerError
from responses_gateway.ids import new_id
from responses_gateway.router import Route, Router
from responses_gateway.service import conversation
from responses_gateway.service.admission import Admission
from responses_gateway.service.assembler import StreamAssembler
from responses_gateway.service.call import CallContext
from responses_gateway.service.conversation import StoredHistory
from responses_gateway.service.history import HistoryLoader
from responses_gateway.service.items import canonical_input, item_id
from responses_gateway.service.observed import CreateObserver, ObservedCreate
from responses_gateway.service.persistence import ResponseWriter
from responses_gateway.service.validation import validate_count, validate_create

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(slots=True)
class _Prepared:
    route: Route
    upstream: pb.CreateResponseRequest
    conversation: conversation.Conversation
    snapshot: pb.Response
    store: bool
    include_encrypted: bool
    # Tokens taken from the key's per-minute budget before the call: the input and the output budget.
    reserved_tokens: int

    def assembler(self) -> StreamAssembler:
        return StreamAssembler(self.snapshot, include_encrypted=self.include_encrypted)


class ResponseCreation:
    """CreateResponse, StreamResponse and CountInputTokens."""

    def __init__(
        self,
        router: Router,
        history: HistoryLoader,
        writer: ResponseWriter,
        admission: Admission,
        observer: CreateObserver | None = None,
    ) -> None:
        self._router = router
        self._observer = observer or CreateObserver(None)
        self._history = history
        self._writer = writer
        self._admission = admission

    async def create(self, req: pb.CreateResponseRequest, ctx: CallContext) -> pb.Response:
        """Create a response and return it finished.

        The provider answers in one non-streamed call, through the same router
        loop as a stream. Nothing reaches the client before the end, so a
        failure is an error status and nothing is stored (no claim row: one
        write at the end).
        """
        observed = self._observer.begin(req, ctx, streamed=False)
        try:
            with observed.current():
                prep = await self._prepare(req, ctx, observed)
                conv = prep.conversation
                upstream = await self._trimming_on_overflow(
                    prep, lambda: self._router.complete(prep.route, prep.upstream, conv.history, conv.history_start)
                )
                assembler = prep.assembler()
                final = assembler.complete(upstream)
                self._admission.settle(ctx, req.model, prep.reserved_tokens, final.usage)
                if prep.store:
                    await self._writer.finish(conv, None, final, assembler.stored_output, ctx)
        except BaseException as exc:
            observed.failed(exc)
            raise
        observed.finished(final)
        return final

    async def stream(self, req: pb.CreateResponseRequest, ctx: CallContext) -> AsyncIterator[epb.ResponseStreamEvent]:
        """Create a response and yield its events; errors before the first event raise."""
        observed = self._observer.begin(req, ctx, streamed=True)
        try:
            with observed.current():
                prep = await self._prepare(req, ctx, observed)
                first, upstream = await self._open(prep)
        except BaseException as exc:
            observed.failed(exc)
            raise
        assembler = prep.assembler()
        begun: asyncio.Task[bool] | None = None
        try:
            try:
                with observed.current():
                    begun = self._writer.begin(prep.snapshot, prep.conversation, ctx) if prep.store else None
                try:
                    for event in assembler.start():
                        yield event
                    async for event in _relay(first, upstream, assembler):
                        observed.saw(event)
                        yield event
                except (GeneratorExit, asyncio.CancelledError):
                    # The client went away mid-stream: keep what it saw, as a failed response.
                    if prep.store:
                        with observed.current():
                            await asyncio.shield(self._interrupted(prep, begun, assembler, ctx))
                    if assembler.final is not None:
                        observed.finished(assembler.final)
                    raise
            finally:
                await upstream.aclose()
            assert assembler.final is not None
            self._admission.settle(ctx, req.model, prep.reserved_tokens, assembler.final.usage)
            if prep.store:
                with observed.current():
                    await self._writer.finish(prep.conversation, begun, assembler.final, assembler.stored_output, ctx)
        except BaseException as exc:
            observed.failed(exc)  # nothing when the response was already observed
            raise
        observed.finished(assembler.final)
        yield assembler.terminal()

    async def count_input_tokens(self, req: pb.CreateResponseRequest, ctx: CallContext) -> spb.CountInputTokensResponse:
        """Tokens the input of a would-be request takes (after `auto` truncation), without calling a model."""
        validate_count(req)
        model = self._router.model(req.model) if req.model else _COUNT_ONLY_MODEL
        history, new_items = await self._inputs(req, ctx)
        conv = await conversation.build(model, req, history, new_items, enforce=False)
        return spb.CountInputTokensResponse(object="response.input_tokens", input_tokens=conv.input_tokens)

    async def _interrupted(
        self, prep: _Prepared, begun: asyncio.Task[bool] | None, assembler: StreamAssembler, ctx: CallContext
    ) -> None:
        if assembler.final is None:
            detail = pb.ErrorDetail(
                message="The client disconnected before the response finished.", type="server_error", code="client_disconnected"
            )
            for _ in assembler.fail_with(detail):
                pass
        assert assembler.final is not None
        await self._writer.interrupted(prep.conversation, begun, assembler.final, assembler.stored_output, ctx)

    async def _inputs(
        self, req: pb.CreateResponseRequest, ctx: CallContext
    ) -> tuple[Transcript | StoredHistory, list[ipb.Item]]:
        """Stored history (from the cache or one chain query) and the request's own input."""
        history: Transcript | StoredHistory = EMPTY
        if req.HasField("previous_response_id"):
            history = await self._history.load(ctx.tenant_id, req.previous_response_id)
        new_items = canonical_input(req) if req.WhichOneof("input") else []
        if any(i.WhichOneof("item") == "item_reference" for i in new_items):
            new_items = _resolve_references(new_items, list(history.items))
        return history, new_items

    async def _prepare(self, req: pb.CreateResponseRequest, ctx: CallContext, observed: ObservedCreate) -> _Prepared:
        validate_create(req)
        model = self._router.model(req.model)
        history, new_items = await self._inputs(req, ctx)
        conv = await conversation.build(model, req, history, new_items)
        upstream = _upstream_request(req, conv)
        snapshot = _snapshot(req, new_id("resp"))
        if conv.plan.drop:
            snapshot.truncation_details.dropped_items = conv.plan.drop
        observed.identified(snapshot.id, conv.plan.drop)
        reserved = conv.input_tokens + conversation.reserved_output(model, req)
        await self._admission.admit(ctx, reserved, create=True)
        return _Prepared(
            route=self._router.resolve(req.model, upstream, conv.history),
            upstream=upstream,
            conversation=conv,
            snapshot=snapshot,
            store=req.store if req.HasField("store") else True,
            include_encrypted=ENCRYPTED_REASONING in req.include,
            reserved_tokens=reserved,
        )

    async def _open(self, prep: _Prepared) -> tuple[epb.ResponseStreamEvent, AsyncGenerator[epb.ResponseStreamEvent, None]]:
        """The upstream stream and its first event."""
        conv = prep.conversation

        async def start() -> tuple[epb.ResponseStreamEvent, AsyncGenerator[epb.ResponseStreamEvent, None]]:
            upstream = self._router.stream(prep.route, prep.upstream, conv.history, conv.history_start)
            try:
                return await anext(upstream), upstream
            except BaseException:
                await upstream.aclose()
                raise

        return await self._trimming_on_overflow(prep, start)

    async def _trimming_on_overflow(self, prep: _Prepared, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt()`, tried once more after trimming further when the upstream still reports an overflow.

        The upstream counts differently than we do; only `truncation: auto` trims.
        """
        try:
            return await attempt()
        except ContextOverflow:
            if not prep.conversation.trim_further():
                raise
        prep.upstream = _upstream_request(prep.upstream, prep.conversation)
        return await attempt()

def _resolve_references(items: Iterable[ipb.Item], history: list[ipb.Item]) -> list[ipb.Item]:
    """Replace `item_reference` items by the stored items they name.

    References resolve against the conversation being continued, which is
    where a client's references point (items it saw in earlier turns).
    """
    known = {item_id(i): i for i in history}
    resolved: list[ipb.Item] = []
    for index, item in enumerate(items):
        if item.WhichOneof("item") != "item_reference":
            resolved.append(item)
            continue
        target = known.get(item.item_reference.id)
        if target is None:
            raise InvalidRequest(
                f"Item with id '{item.item_reference.id}' not found in the conversation of 'previous_response_id'.",
                code="item_not_found",
                param=f"input[{index}]",
            )
        resolved.append(target)
    return resolved


async def _relay(
    first: epb.ResponseStreamEvent, upstream: AsyncIterator[epb.ResponseStreamEvent], assembler: StreamAssembler
) -> AsyncIterator[epb.ResponseStreamEvent]:
    """Client events until the upstream's outcome is known; failures become `error`."""
    try:
        for event in assembler.feed(first):
            yield event
        async for upstream_event in upstream:
            if assembler.final is not None:
                break
            for event in assembler.feed(upstream_event):
                yield event
        if assembler.final is None:
            for event in assembler.fail(UpstreamServerError("The upstream provider ended the stream unexpectedly.")):
                yield event
    except GatewayError as exc:
        for event in assembler.fail(exc):
            yield event
    except Exception:
        log.exception("stream failed")
        for event in assembler.fail(InternalError()):
            yield event


def _upstream_request(req: pb.CreateResponseRequest, conv: conversation.Conversation) -> pb.CreateResponseRequest:
    """The request a provider receives: no stored state, the new input items that survive truncation.

    The history travels beside it (`conv.history` from `conv.history_start`), shared, not copied.
    """
    upstream = pb.CreateResponseRequest()
    upstream.CopyFrom(req)
    upstream.ClearField("previous_response_id")
    upstream.ClearField("input")
    upstream.input_items.items.extend(conv.sent_new_items)
    return upstream


def _snapshot(req: pb.CreateResponseRequest, response_id: str) -> pb.Response:
    """The response object as it stands before any output: the request's echoes, with OpenAI's defaults."""
    resp = pb.Response(
        id=response_id,
        object="response",
        created_at=int(time.time()),
        status="in_progress",
        model=req.model,
        store=req.store if req.HasField("store") else True,
        background=req.background,
        temperature=req.temperature if req.HasField("temperature") else 1.0,
        top_p=req.top_p if req.HasField("top_p") else 1.0,
        top_logprobs=req.top_logprobs if req.HasField("top_logprobs") else 0,
        parallel_tool_calls=req.parallel_tool_calls if req.HasField("parallel_tool_calls") else True,
        truncation=req.truncation if req.HasField("truncation") else "disabled",
        service_tier=req.service_tier if req.HasField("service_tier") else "default",
    )
    for key in (
        "instructions",
        "previous_response_id",
        "max_output_tokens",
        "max_tool_calls",
        "user",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
    ):
        if req.HasField(key):
            setattr(resp, key, getattr(req, key))
    if req.HasField("tool_choice"):
        resp.tool_choice.CopyFrom(req.tool_choice)
    else:
        resp.tool_choice.mode = "auto"
    resp.tools.extend(req.tools)
    resp.text.CopyFrom(req.text)
    resp.reasoning.CopyFrom(req.reasoning)
    resp.metadata.update(req.metadata)
    return resp


# For counting tokens of a request that names no model.
_COUNT_ONLY_MODEL = ModelConfig(id="", provider="none", tokenizer="o200k", context_window=2**31, max_output_tokens=0)
