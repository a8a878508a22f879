"""How the bridge reaches the service: in-process or over gRPC, same messages.

Like grpc-gateway's `Register…HandlerServer` (in-process) beside
`Register…Handler` (dialling a remote server): the bridge code is one, the
hop is chosen at start-up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Protocol, TypeVar

import grpc
from grpc_status import rpc_status

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.api.v1 import service_pb2_grpc
from responses_gateway.coalesce import coalesced
from responses_gateway.errors import GatewayError, Unavailable, from_detail
from responses_gateway.service.responses import CallContext, ResponsesService

T = TypeVar("T")


class Backend(Protocol):
    """The service's RPCs as async methods on proto messages; errors are GatewayError."""

    async def create_response(self, request: pb.CreateResponseRequest) -> pb.Response: ...
    def stream_response(self, request: pb.CreateResponseRequest) -> AsyncIterator[list[epb.ResponseStreamEvent]]:
        """The response's events in non-empty batches: each batch was ready at once and goes out in one write."""
        ...

    async def get_response(self, request: spb.GetResponseRequest) -> pb.Response: ...
    async def delete_response(self, request: spb.DeleteResponseRequest) -> spb.DeleteResponseResponse: ...
    async def list_input_items(self, request: spb.ListInputItemsRequest) -> spb.ListInputItemsResponse: ...
    async def cancel_response(self, request: spb.CancelResponseRequest) -> pb.Response: ...
    async def count_input_tokens(self, request: pb.CreateResponseRequest) -> spb.CountInputTokensResponse: ...
    async def list_models(self) -> spb.ListModelsResponse: ...
    async def get_model(self, request: spb.GetModelRequest) -> spb.Model: ...
    async def ready(self) -> bool: ...
    async def aclose(self) -> None: ...


class InProcessBackend:
    """Calls the service directly: no serialisation, no network hop."""

    def __init__(self, service: ResponsesService, tenant_id: str) -> None:
        self._service = service
        self._ctx = CallContext(tenant_id=tenant_id)

    async def create_response(self, request: pb.CreateResponseRequest) -> pb.Response:
        return await self._service.create(request, self._ctx)

    def stream_response(self, request: pb.CreateResponseRequest) -> AsyncIterator[list[epb.ResponseStreamEvent]]:
        return coalesced(self._service.stream(request, self._ctx))

    async def get_response(self, request: spb.GetResponseRequest) -> pb.Response:
        return await self._service.get(request.id, self._ctx, request.include)

    async def delete_response(self, request: spb.DeleteResponseRequest) -> spb.DeleteResponseResponse:
        return await self._service.delete(request.id, self._ctx)

    async def list_input_items(self, request: spb.ListInputItemsRequest) -> spb.ListInputItemsResponse:
        return await self._service.list_input_items(request, self._ctx)

    async def cancel_response(self, request: spb.CancelResponseRequest) -> pb.Response:
        return await self._service.cancel(request.id, self._ctx)

    async def count_input_tokens(self, request: pb.CreateResponseRequest) -> spb.CountInputTokensResponse:
        return await self._service.count_input_tokens(request, self._ctx)

    async def list_models(self) -> spb.ListModelsResponse:
        return await self._service.list_models()

    async def get_model(self, request: spb.GetModelRequest) -> spb.Model:
        return await self._service.get_model(request.id)

    async def ready(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


def error_from_rpc(exc: grpc.aio.AioRpcError) -> GatewayError:
    """Rebuild the service's GatewayError from the status detail it packed."""
    status = rpc_status.from_call(exc)
    if status is not None:
        for detail in status.details:
            error = pb.ErrorDetail()
            if detail.Unpack(error):
                return from_detail(error, exc.code())
    if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return Unavailable("The responses service is unavailable. Please try again.", code="service_unavailable")
    return GatewayError("The server had an error while processing your request.", code="server_error")


async def _unary(call: Awaitable[T]) -> T:
    """Await one unary RPC, turning its status back into the service's GatewayError."""
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        raise error_from_rpc(exc) from None


class RemoteBackend:
    """A grpc.aio channel to a ResponsesService elsewhere."""

    def __init__(self, target: str) -> None:
        self._channel = grpc.aio.insecure_channel(
            target,
            options=[
                ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ],
        )
        self._stub = service_pb2_grpc.ResponsesServiceStub(self._channel)

    async def create_response(self, request: pb.CreateResponseRequest) -> pb.Response:
        reply: pb.Response = await _unary(self._stub.CreateResponse(request))
        return reply

    async def stream_response(self, request: pb.CreateResponseRequest) -> AsyncIterator[list[epb.ResponseStreamEvent]]:
        # The service batched what was ready together; each message is one batch here too.
        call = self._stub.StreamResponseBatches(request)
        try:
            async for batch in call:
                if batch.events:
                    yield list(batch.events)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None
        finally:
            # A client that went away cancels the service's work, and so the upstream call.
            call.cancel()

    async def get_response(self, request: spb.GetResponseRequest) -> pb.Response:
        reply: pb.Response = await _unary(self._stub.GetResponse(request))
        return reply

    async def delete_response(self, request: spb.DeleteResponseRequest) -> spb.DeleteResponseResponse:
        reply: spb.DeleteResponseResponse = await _unary(self._stub.DeleteResponse(request))
        return reply

    async def list_input_items(self, request: spb.ListInputItemsRequest) -> spb.ListInputItemsResponse:
        reply: spb.ListInputItemsResponse = await _unary(self._stub.ListInputItems(request))
        return reply

    async def cancel_response(self, request: spb.CancelResponseRequest) -> pb.Response:
        reply: pb.Response = await _unary(self._stub.CancelResponse(request))
        return reply

    async def count_input_tokens(self, request: pb.CreateResponseRequest) -> spb.CountInputTokensResponse:
        reply: spb.CountInputTokensResponse = await _unary(self._stub.CountInputTokens(request))
        return reply

    async def list_models(self) -> spb.ListModelsResponse:
        reply: spb.ListModelsResponse = await _unary(self._stub.ListModels(spb.ListModelsRequest()))
        return reply

    async def get_model(self, request: spb.GetModelRequest) -> spb.Model:
        reply: spb.Model = await _unary(self._stub.GetModel(request))
        return reply

    async def ready(self) -> bool:
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        try:
            reply = await health_pb2_grpc.HealthStub(self._channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    async def aclose(self) -> None:
        await self._channel.close()
