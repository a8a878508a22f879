"""The Responses service: every API rule lives here, once, for both faces.

validate → load conversation → route → call the provider → persist → answer.
Transport-free: the gRPC servicer and the bridge's in-process backend both
call these methods with proto messages and a CallContext.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.errors import GatewayError, InternalError, InvalidRequest, NotFound, PreviousResponseNotFound, UpstreamError
from responses_gateway.router import Route, Router
from responses_gateway.service.assembler import StreamAssembler, finish, normalize_output
from responses_gateway.ids import new_id
from responses_gateway.codec.fields import invalid_value
from responses_gateway.service.items import canonical_input, client_visible, item_id, item_type
from responses_gateway.providers.transcript import EMPTY, Transcript
from responses_gateway.service.cache import ConversationCache
from responses_gateway.service.conversation import StoredHistory
from responses_gateway.service.leases import LeaseKeeper
from responses_gateway.service.pending import PendingWrites
from responses_gateway.service.validation import validate_create
from responses_gateway.config import ModelConfig
from responses_gateway.service import conversation
from responses_gateway.store import ItemRecord, ResponseRecord, ResponseRepository, Store, writes

log = logging.getLogger(__name__)
ENCRYPTED_REASONING = "reasoning.encrypted_content"


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who is calling; set by the transport (API keys arrive with the security layer)."""

    tenant_id: str


@dataclass(slots=True)
class _Prepared:
    route: Route
    upstream: pb.CreateResponseRequest
    conversation: conversation.Conversation
    snapshot: pb.Response
    store: bool
    include_encrypted: bool


def _snapshot(req: pb.CreateResponseRequest, response_id: str) -> pb.Response:
    """The response object as it stands before any output: the request's echoes."""
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


class ResponsesService:
    """Orchestrates one RPC family; owns no transport."""

    def __init__(
        self,
        router: Router,
        store: Store,
        leases: LeaseKeeper,
        cache: ConversationCache | None = None,
        pending: PendingWrites | None = None,
    ) -> None:
        """`pending`: where finished responses' writes run behind their answers; None writes before answering."""
        self._router = router
        self._store = store
        self._leases = leases
        self._cache = cache or ConversationCache()
        self._pending = pending

    async def _history(
        self, req: pb.CreateResponseRequest, ctx: CallContext
    ) -> tuple[Transcript | StoredHistory, list[ipb.Item]]:
        """Stored history (from the cache or one chain query) and the request's own input."""
        history: Transcript | StoredHistory = EMPTY
        if req.HasField("previous_response_id"):
            history = await self._load_history(ctx.tenant_id, req.previous_response_id)
        new_items = canonical_input(req) if req.WhichOneof("input") else []
        if any(i.WhichOneof("item") == "item_reference" for i in new_items):
            new_items = _resolve_references(new_items, list(history.items))
        return history, new_items

    async def _load_history(self, tenant_id: str, response_id: str) -> Transcript | StoredHistory:
        await self._settled(tenant_id, response_id)
        cached = self._cache.get(tenant_id, response_id)
        async with self._store.session() as session:
            repo = ResponseRepository(session)
            if cached is not None:
                # Still there (not deleted, here or by another replica)?
                if await repo.response_status(tenant_id, response_id) is not None:
                    return cached
                self._cache.invalidate(tenant_id, response_id)
                raise PreviousResponseNotFound(response_id)
            chain = await repo.load_conversation(tenant_id, response_id)
        if chain is None:
            raise PreviousResponseNotFound(response_id)
        stored = StoredHistory(
            tuple(ipb.Item.FromString(entry.item.data) for entry in chain),
            tuple(entry.item.token_count for entry in chain),
            tuple(entry.item.token_counter for entry in chain),
        )
        transcript = stored.uniform()
        if transcript is None:
            return stored
        self._cache.put(tenant_id, response_id, transcript)
        return transcript

    async def _prepare(self, req: pb.CreateResponseRequest, ctx: CallContext) -> _Prepared:
        validate_create(req)
        model = self._router.model(req.model)
        history, new_items = await self._history(req, ctx)
        conv = await conversation.build(model, req, history, new_items)
        upstream = _upstream_request(req, conv)
        snapshot = _snapshot(req, new_id("resp"))
        if conv.plan.drop:
            snapshot.truncation_details.dropped_items = conv.plan.drop
        return _Prepared(
            route=self._router.resolve(req.model, upstream, conv.history),
            upstream=upstream,
            conversation=conv,
            snapshot=snapshot,
            store=req.store if req.HasField("store") else True,
            include_encrypted=ENCRYPTED_REASONING in req.include,
        )

    async def count_input_tokens(self, req: pb.CreateResponseRequest, ctx: CallContext) -> spb.CountInputTokensResponse:
        """Tokens the input of a would-be request takes (after `auto` truncation), without calling a model."""
        if req.model:
            model = self._router.model(req.model)
        else:
            model = _COUNT_ONLY_MODEL
        history, new_items = await self._history(req, ctx)
        conv = await conversation.build(model, req, history, new_items, enforce=False)
        return spb.CountInputTokensResponse(object="response.input_tokens", input_tokens=conv.input_tokens)

    def _begin(self, prep: _Prepared, ctx: CallContext) -> asyncio.Task[bool] | None:
        """Claim the response row now, beside the stream rather than before it.

        Called when the first upstream event arrives: before it the client has
        seen nothing, so there is nothing to claim (a failure then means the
        response never existed, as on OpenAI), and the write competes with
        relaying output rather than delaying the upstream request.
        """
        if not prep.store:
            return None
        record = _record(prep.snapshot, ctx, owner=self._leases.owner, lease=self._leases.lease_until())

        inputs = _input_records(prep)

        async def begin() -> bool:
            await self._store.write(lambda c: writes.begin_response(c, record, inputs))
            return True

        return asyncio.create_task(begin())

    async def _finish(
        self, prep: _Prepared, begun: asyncio.Task[bool] | None, final: pb.Response, output: list[ipb.Item], ctx: CallContext
    ) -> None:
        """Store the finished response: behind the answer when write-behind has room, else before it."""
        if not prep.store:
            return
        # Serialised now: the caller owns `final` again once this returns.
        write = self._persist(prep, begun, _record(final, ctx), output, ctx)
        if self._pending is None or not self._pending.try_start(ctx.tenant_id, final.id, write):
            await write

    async def _settled(self, tenant_id: str, response_id: str) -> None:
        """Before reading a response: its write, if it is still behind its answer, has finished."""
        if self._pending is not None:
            await self._pending.settled(tenant_id, response_id)

    async def drain(self) -> None:
        """Finish the writes still behind their answers (before the store closes)."""
        if self._pending is not None:
            await self._pending.drain()

    async def _persist(
        self, prep: _Prepared, begun: asyncio.Task[bool] | None, record: ResponseRecord, output: list[ipb.Item], ctx: CallContext
    ) -> None:
        """Write the finished response atomically; a crash before this leaves the claimed row to be failed."""
        claimed = False
        if begun is not None:
            try:
                claimed = await begun
            except Exception:
                log.exception("could not record the start of response %s", record.id)
        output_counts = await conversation.count_items(prep.conversation.counter, output)
        output_records = _records(output, output_counts, prep.conversation.counter.name)
        if begun is None:  # never claimed (a unary create): one plain insert
            inputs = _input_records(prep)
            await self._store.write(lambda c: writes.save_response(c, record, inputs, output_records))
            written = True
        else:
            # The input items were written with the claim; only a failed claim needs them here.
            unclaimed = None if claimed else _input_records(prep)
            written = await self._store.write(lambda c: writes.finish_response(c, record, output_records, unclaimed))
        if not written:
            log.warning("response %s was no longer in progress when it finished; kept as stored", record.id)
            return
        if prep.conversation.history.items:
            # Only conversations already being continued are kept: an answer with no
            # history is cached once someone continues it (one chain query, then hits).
            self._cache.put(ctx.tenant_id, record.id, prep.conversation.then(output, output_counts))

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
        if not prep.store:
            return
        try:
            await self._persist(prep, begun, _record(assembler.final, ctx), assembler.stored_output, ctx)
        except Exception:
            log.exception("could not store interrupted response %s", prep.snapshot.id)

    async def create(self, req: pb.CreateResponseRequest, ctx: CallContext) -> pb.Response:
        """Create a response and return it finished."""
        prep = await self._prepare(req, ctx)
        # No claim row for a unary create: the client sees nothing until the
        # single write at the end, so a crash leaves nothing half-done either.
        try:
            upstream = await self._router.complete(prep.route, prep.upstream, *_history_sent(prep))
        except InvalidRequest as exc:
            # The upstream counts differently than we estimate: trim once more and retry once.
            if not (_overflowed(exc) and prep.conversation.trim_further()):
                raise
            prep.upstream = _upstream_request(prep.upstream, prep.conversation)
            upstream = await self._router.complete(prep.route, prep.upstream, *_history_sent(prep))
        output = normalize_output([ipb.Item.FromString(i.SerializeToString()) for i in upstream.output], upstream.status)
        final = finish(prep.snapshot, upstream, output, prep.include_encrypted)
        await self._finish(prep, None, final, output, ctx)
        return final

    async def stream(self, req: pb.CreateResponseRequest, ctx: CallContext) -> AsyncIterator[epb.ResponseStreamEvent]:
        """Create a response and yield its events; errors before the first event raise."""
        prep = await self._prepare(req, ctx)
        upstream = aiter(self._router.stream(prep.route, prep.upstream, *_history_sent(prep)))
        assembler = StreamAssembler(prep.snapshot, include_encrypted=prep.include_encrypted)
        try:
            try:
                try:
                    first = await anext(upstream)
                except InvalidRequest as exc:
                    if not (_overflowed(exc) and prep.conversation.trim_further()):
                        raise
                    await _aclose(upstream)
                    prep.upstream = _upstream_request(prep.upstream, prep.conversation)
                    upstream = aiter(self._router.stream(prep.route, prep.upstream, *_history_sent(prep)))
                    first = await anext(upstream)
            except StopAsyncIteration:
                raise UpstreamError(
                    "The upstream provider ended the stream before any output.", code="server_error", http_status=502
                ) from None
            begun = self._begin(prep, ctx)
            try:
                for event in assembler.start():
                    yield event
                async for event in self._relay(first, upstream, assembler):
                    yield event
            except (GeneratorExit, asyncio.CancelledError):
                # The client went away mid-stream: keep what it saw, as a failed response.
                await asyncio.shield(self._interrupted(prep, begun, assembler, ctx))
                raise
        finally:
            await _aclose(upstream)
        assert assembler.final is not None
        await self._finish(prep, begun, assembler.final, assembler.stored_output, ctx)
        yield assembler.terminal()

    async def _relay(
        self, first: epb.ResponseStreamEvent, upstream: AsyncIterator[epb.ResponseStreamEvent], assembler: StreamAssembler
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
                for event in assembler.fail(
                    UpstreamError("The upstream provider ended the stream unexpectedly.", code="server_error")
                ):
                    yield event
        except GatewayError as exc:
            for event in assembler.fail(exc):
                yield event
        except Exception:
            log.exception("stream failed")
            for event in assembler.fail(InternalError("The server had an error while processing your request.")):
                yield event

    async def get(self, response_id: str, ctx: CallContext, include: Sequence[str] = ()) -> pb.Response:
        """A stored response, or 404 as for an id that never existed.

        With `include=["reasoning.encrypted_content"]` reasoning items carry the
        encrypted state kept for replays (the stored response object omits it
        unless the creating request asked).
        """
        await self._settled(ctx.tenant_id, response_id)
        async with self._store.session() as session:
            repo = ResponseRepository(session)
            record = await repo.get_response(ctx.tenant_id, response_id)
            stored_output = (
                await repo.response_items(ctx.tenant_id, response_id, "output")
                if record is not None and ENCRYPTED_REASONING in include
                else []
            )
        if record is None:
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
        response = pb.Response.FromString(record.data)
        if stored_output:
            del response.output[:]
            response.output.extend(ipb.Item.FromString(r.data) for r in stored_output)
        if record.status != response.status:
            # The status column is the truth: a sweep failed a response its process left behind.
            response.status = record.status
            if record.status == "failed" and not response.HasField("error"):
                response.error.code = "server_error"
                response.error.message = "The response was interrupted before it finished."
                response.usage.SetInParent()
        return response

    async def delete(self, response_id: str, ctx: CallContext) -> spb.DeleteResponseResponse:
        """Delete a stored response and its items."""
        await self._settled(ctx.tenant_id, response_id)
        self._cache.invalidate(ctx.tenant_id, response_id)
        deleted = await self._store.write(lambda c: writes.delete_response(c, ctx.tenant_id, response_id))
        if not deleted:
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
        return spb.DeleteResponseResponse(id=response_id, object="response", deleted=True)

    async def list_input_items(self, req: spb.ListInputItemsRequest, ctx: CallContext) -> spb.ListInputItemsResponse:
        """A page of the input items a stored response was given, in OpenAI's list shape."""
        limit = req.limit if req.HasField("limit") else 20
        if not 1 <= limit <= 100:
            raise InvalidRequest(
                f"Invalid 'limit': expected a value between 1 and 100, but got {limit} instead.",
                code="invalid_value",
                param="limit",
            )
        order = req.order if req.HasField("order") else "desc"
        if order not in ("asc", "desc"):
            raise invalid_value("order", order, ("asc", "desc"))
        await self._settled(ctx.tenant_id, req.id)
        async with self._store.session() as session:
            page = await ResponseRepository(session).list_input_items(
                ctx.tenant_id,
                req.id,
                after=req.after if req.HasField("after") else None,
                before=req.before if req.HasField("before") else None,
                limit=limit,
                order="asc" if order == "asc" else "desc",
            )
        if page is None:
            raise NotFound(f"Response with id '{req.id}' not found.", param="response_id")
        records, has_more = page
        include_encrypted = ENCRYPTED_REASONING in req.include
        out = spb.ListInputItemsResponse(object="list", has_more=has_more)
        out.data.extend(client_visible(ipb.Item.FromString(r.data), include_encrypted) for r in records)
        if records:
            out.first_id, out.last_id = records[0].item_id, records[-1].item_id
        return out

    async def cancel(self, response_id: str, ctx: CallContext) -> pb.Response:
        """Cancel a background response; every response here runs in the foreground."""
        await self.get(response_id, ctx)
        raise InvalidRequest(
            "Only responses created with background=true can be cancelled.", code="invalid_request_error", param="response_id"
        )

    async def list_models(self) -> spb.ListModelsResponse:
        """Every routed model."""
        return spb.ListModelsResponse(
            object="list",
            data=[spb.Model(id=m.id, object="model", created=m.created, owned_by=m.owned_by) for m in self._router.models()],
        )

    async def get_model(self, model_id: str) -> spb.Model:
        """One routed model, or 404."""
        try:
            m = self._router.model(model_id)
        except GatewayError:
            raise NotFound(f"The model '{model_id}' does not exist", code="model_not_found", param="model") from None
        return spb.Model(id=m.id, object="model", created=m.created, owned_by=m.owned_by)


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


async def _aclose(iterator: AsyncIterator[object]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


def _record(resp: pb.Response, ctx: CallContext, *, owner: str | None = None, lease: int | None = None) -> ResponseRecord:
    return ResponseRecord(
        id=resp.id,
        tenant_id=ctx.tenant_id,
        previous_response_id=resp.previous_response_id if resp.HasField("previous_response_id") else None,
        model=resp.model,
        status=resp.status,
        created_at=resp.created_at,
        data=resp.SerializeToString(),
        owner=owner,
        lease_expires_at=lease,
    )


def _records(items: list[ipb.Item], counts: list[int], counter: str) -> list[ItemRecord]:
    return [
        ItemRecord(item_id=item_id(i), item_type=item_type(i), data=i.SerializeToString(), token_count=n, token_counter=counter)
        for i, n in zip(items, counts, strict=True)
    ]


def _input_records(prep: _Prepared) -> list[ItemRecord]:
    conv = prep.conversation
    return _records(conv.new_items, conv.new_counts, conv.counter.name)


def _upstream_request(req: pb.CreateResponseRequest, conv: conversation.Conversation) -> pb.CreateResponseRequest:
    """The request a provider receives: no stored state, the new input items that survive truncation.

    The history travels beside it (see `_history_sent`), shared, not copied.
    """
    upstream = pb.CreateResponseRequest()
    upstream.CopyFrom(req)
    upstream.ClearField("previous_response_id")
    upstream.ClearField("input")
    upstream.input_items.items.extend(conv.sent_new_items)
    return upstream


def _history_sent(prep: _Prepared) -> tuple[Transcript, int]:
    conv = prep.conversation
    return conv.history, conv.history_start


def _overflowed(exc: GatewayError) -> bool:
    return exc.code == "context_length_exceeded"


# For counting tokens of a request that names no model.
_COUNT_ONLY_MODEL = ModelConfig(id="", provider="none", tokenizer="o200k", context_window=2**31, max_output_tokens=0)
