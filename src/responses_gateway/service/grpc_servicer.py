"""The gRPC face: maps RPCs onto ResponsesService and GatewayError onto statuses."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import grpc
from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.api.v1 import service_pb2_grpc
from responses_gateway.service.coalesce import coalesced
from responses_gateway.errors import GatewayError, InternalError, to_rpc_status
from responses_gateway.service.call import CALLER, CallContext
from responses_gateway.service.responses import ResponsesService

log = logging.getLogger(__name__)
T = TypeVar("T")


class ResponsesServicer(service_pb2_grpc.ResponsesServiceServicer):
    """Thin: context in, service call, errors out as statuses."""

    def __init__(self, service: ResponsesService) -> None:
        self._service = service

    def _ctx(self, context: grpc.aio.ServicerContext) -> CallContext:
        # Admitted by the authentication interceptor (grpc_auth), which named the caller.
        return CALLER.get()

    async def _unary(self, context: grpc.aio.ServicerContext, call: Callable[[CallContext], Awaitable[T]]) -> T:
        ctx = self._ctx(context)
        try:
            reply = await call(ctx)
        except GatewayError as exc:
            await context.abort_with_status(_with_headers(to_rpc_status(exc), ctx))
        except Exception:
            log.exception("unhandled error in RPC")
            await context.abort_with_status(to_rpc_status(InternalError()))
        else:
            context.set_trailing_metadata(_reply_metadata(ctx))
            return reply
        raise AssertionError("unreachable: abort raises")

    async def CreateResponse(self, request: pb.CreateResponseRequest, context: grpc.aio.ServicerContext) -> pb.Response:
        return await self._unary(context, lambda ctx: self._service.create(request, ctx))

    async def StreamResponse(
        self, request: pb.CreateResponseRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[epb.ResponseStreamEvent]:
        ctx = self._ctx(context)
        async for event in _aborting_on_error(self._service.stream(request, ctx), context, ctx):
            yield event

    async def StreamResponseBatches(
        self, request: pb.CreateResponseRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[spb.ResponseStreamEventBatch]:
        ctx = self._ctx(context)
        async with contextlib.aclosing(coalesced(self._service.stream(request, ctx))) as batches:
            async for batch in _aborting_on_error(batches, context, ctx):
                yield spb.ResponseStreamEventBatch(events=batch)

    async def GetResponse(self, request: spb.GetResponseRequest, context: grpc.aio.ServicerContext) -> pb.Response:
        return await self._unary(context, lambda ctx: self._service.get(request.id, ctx, request.include))

    async def DeleteResponse(
        self, request: spb.DeleteResponseRequest, context: grpc.aio.ServicerContext
    ) -> spb.DeleteResponseResponse:
        return await self._unary(context, lambda ctx: self._service.delete(request.id, ctx))

    async def ListModels(self, request: spb.ListModelsRequest, context: grpc.aio.ServicerContext) -> spb.ListModelsResponse:
        return await self._unary(context, self._service.list_models)

    async def GetModel(self, request: spb.GetModelRequest, context: grpc.aio.ServicerContext) -> spb.Model:
        return await self._unary(context, lambda ctx: self._service.get_model(request.id, ctx))

    async def CancelResponse(self, request: spb.CancelResponseRequest, context: grpc.aio.ServicerContext) -> pb.Response:
        return await self._unary(context, lambda ctx: self._service.cancel(request.id, ctx))

    async def ListInputItems(
        self, request: spb.ListInputItemsRequest, context: grpc.aio.ServicerContext
    ) -> spb.ListInputItemsResponse:
        return await self._unary(context, lambda ctx: self._service.list_input_items(request, ctx))

    async def CountInputTokens(
        self, request: pb.CreateResponseRequest, context: grpc.aio.ServicerContext
    ) -> spb.CountInputTokensResponse:
        return await self._unary(context, lambda ctx: self._service.count_input_tokens(request, ctx))


# The caller's tenant, for the bridge's access log (and any gRPC client's own records).
TENANT_METADATA = "rg-tenant"


def _reply_metadata(ctx: CallContext) -> tuple[tuple[str, str], ...]:
    """What a successful call answers with besides its reply: its headers (rate-limit state) and the tenant."""
    return (*ctx.headers.items(), (TENANT_METADATA, ctx.tenant_id))


def _with_headers(status: grpc.Status, ctx: CallContext) -> grpc.Status:
    """The status with the call's own headers (rate-limit state) beside its details, as trailing metadata."""
    if not ctx.headers:
        return status
    return status._replace(trailing_metadata=(*status.trailing_metadata, *ctx.headers.items()))


async def _aborting_on_error(items: AsyncIterator[T], context: grpc.aio.ServicerContext, ctx: CallContext) -> AsyncIterator[T]:
    """The stream's items, the call's headers sent with the first; a failure ends the RPC with its status."""
    first = True
    try:
        async for item in items:
            if first:
                await context.send_initial_metadata(_reply_metadata(ctx))
            first = False
            yield item
    except GatewayError as exc:
        await context.abort_with_status(_with_headers(to_rpc_status(exc), ctx))
    except Exception:
        log.exception("unhandled error in stream")
        await context.abort_with_status(to_rpc_status(InternalError()))
