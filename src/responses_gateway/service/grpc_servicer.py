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

    async def _unary(self, context: grpc.aio.ServicerContext, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except GatewayError as exc:
            await context.abort_with_status(to_rpc_status(exc))
        except Exception:
            log.exception("unhandled error in RPC")
            await context.abort_with_status(to_rpc_status(InternalError()))
        raise AssertionError("unreachable: abort raises")

    async def CreateResponse(self, request: pb.CreateResponseRequest, context: grpc.aio.ServicerContext) -> pb.Response:
        return await self._unary(context, lambda: self._service.create(request, self._ctx(context)))

    async def StreamResponse(
        self, request: pb.CreateResponseRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[epb.ResponseStreamEvent]:
        async for event in _aborting_on_error(self._service.stream(request, self._ctx(context)), context):
            yield event

    async def StreamResponseBatches(
        self, request: pb.CreateResponseRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[spb.ResponseStreamEventBatch]:
        events = self._service.stream(request, self._ctx(context))
        async with contextlib.aclosing(coalesced(events)) as batches:
            async for batch in _aborting_on_error(batches, context):
                yield spb.ResponseStreamEventBatch(events=batch)

    async def GetResponse(self, request: spb.GetResponseRequest, context: grpc.aio.ServicerContext) -> pb.Response:
        return await self._unary(context, lambda: self._service.get(request.id, self._ctx(context), request.include))

    async def DeleteResponse(
        self, request: spb.DeleteResponseRequest, context: grpc.aio.ServicerContext
    ) -> spb.DeleteResponseResponse:
        return await self._unary(context, lambda: self._service.delete(request.id, self._ctx(context)))

    async def ListModels(self, request: spb.ListModelsRequest, context: grpc.aio.ServicerContext) -> spb.ListModelsResponse:
        return await self._unary(context, self._service.list_models)

    async def GetModel(self, request: spb.GetModelRequest, context: grpc.aio.ServicerContext) -> spb.Model:
        return await self._unary(context, lambda: self._service.get_model(request.id))

    async def CancelResponse(self, request: spb.CancelResponseRequest, context: grpc.aio.ServicerContext) -> pb.Response:
        return await self._unary(context, lambda: self._service.cancel(request.id, self._ctx(context)))

    async def ListInputItems(
        self, request: spb.ListInputItemsRequest, context: grpc.aio.ServicerContext
    ) -> spb.ListInputItemsResponse:
        return await self._unary(context, lambda: self._service.list_input_items(request, self._ctx(context)))

    async def CountInputTokens(
        self, request: pb.CreateResponseRequest, context: grpc.aio.ServicerContext
    ) -> spb.CountInputTokensResponse:
        return await self._unary(context, lambda: self._service.count_input_tokens(request, self._ctx(context)))


async def _aborting_on_error(items: AsyncIterator[T], context: grpc.aio.ServicerContext) -> AsyncIterator[T]:
    """The stream's items; a failure ends the RPC with its status (before the first item, the only outcome)."""
    try:
        async for item in items:
            yield item
    except GatewayError as exc:
        await context.abort_with_status(to_rpc_status(exc))
    except Exception:
        log.exception("unhandled error in stream")
        await context.abort_with_status(to_rpc_status(InternalError()))
