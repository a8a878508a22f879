"""How the bridge reaches the service: in-process or over gRPC, same messages.

Like grpc-gateway's `Register…HandlerServer` (in-process, here
`service.in_process.InProcessBackend`) beside `Register…Handler` (dialling a
remote server, `RemoteBackend` below): the bridge code is one, the hop is
chosen at start-up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Protocol, TypeVar

import grpc

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.api.v1 import service_pb2_grpc
from responses_gateway.errors import from_rpc_error

T = TypeVar("T")


class Backend(Protocol):
    """The service's RPCs as async methods on proto messages; errors are GatewayError.

    Every call carries the caller's credential (the `Authorization` header
    value, or None) to the service, which authenticates it: in-process
    directly, remotely as gRPC `authorization` metadata.
    """

    async def create_response(self, request: pb.CreateResponseRequest, credential: str | None) -> pb.Response: ...
    def stream_response(
        self, request: pb.CreateResponseRequest, credential: str | None
    ) -> AsyncIterator[list[epb.ResponseStreamEvent]]:
        """The response's events in non-empty batches: each batch was ready at once and goes out in one write."""
        ...

    async def get_response(self, request: spb.GetResponseRequest, credential: str | None) -> pb.Response: ...
    async def delete_response(
        self, request: spb.DeleteResponseRequest, credential: str | None
    ) -> spb.DeleteResponseResponse: ...
    async def list_input_items(
        self, request: spb.ListInputItemsRequest, credential: str | None
    ) -> spb.ListInputItemsResponse: ...
    async def cancel_response(self, request: spb.CancelResponseRequest, credential: str | None) -> pb.Response: ...
    async def count_input_tokens(
        self, request: pb.CreateResponseRequest, credential: str | None
    ) -> spb.CountInputTokensResponse: ...
    async def list_models(self, credential: str | None) -> spb.ListModelsResponse: ...
    async def get_model(self, request: spb.GetModelRequest, credential: str | None) -> spb.Model: ...
    async def ready(self) -> bool: ...
    async def aclose(self) -> None: ...


def _metadata(credential: str | None) -> tuple[tuple[str, str], ...] | None:
    return (("authorization", credential),) if credential else None


async def _unary(call: Awaitable[T]) -> T:
    """Await one unary RPC, turning its status back into the service's GatewayError."""
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        raise from_rpc_error(exc) from None


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

    async def create_response(self, request: pb.CreateResponseRequest, credential: str | None) -> pb.Response:
        reply: pb.Response = await _unary(self._stub.CreateResponse(request, metadata=_metadata(credential)))
        return reply

    async def stream_response(
        self, request: pb.CreateResponseRequest, credential: str | None
    ) -> AsyncIterator[list[epb.ResponseStreamEvent]]:
        # The service batched what was ready together; each message is one batch here too.
        call = self._stub.StreamResponseBatches(request, metadata=_metadata(credential))
        try:
            async for batch in call:
                if batch.events:
                    yield list(batch.events)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        finally:
            # A client that went away cancels the service's work, and so the upstream call.
            call.cancel()

    async def get_response(self, request: spb.GetResponseRequest, credential: str | None) -> pb.Response:
        reply: pb.Response = await _unary(self._stub.GetResponse(request, metadata=_metadata(credential)))
        return reply

    async def delete_response(self, request: spb.DeleteResponseRequest, credential: str | None) -> spb.DeleteResponseResponse:
        reply: spb.DeleteResponseResponse = await _unary(self._stub.DeleteResponse(request, metadata=_metadata(credential)))
        return reply

    async def list_input_items(self, request: spb.ListInputItemsRequest, credential: str | None) -> spb.ListInputItemsResponse:
        reply: spb.ListInputItemsResponse = await _unary(self._stub.ListInputItems(request, metadata=_metadata(credential)))
        return reply

    async def cancel_response(self, request: spb.CancelResponseRequest, credential: str | None) -> pb.Response:
        reply: pb.Response = await _unary(self._stub.CancelResponse(request, metadata=_metadata(credential)))
        return reply

    async def count_input_tokens(self, request: pb.CreateResponseRequest, credential: str | None) -> spb.CountInputTokensResponse:
        reply: spb.CountInputTokensResponse = await _unary(self._stub.CountInputTokens(request, metadata=_metadata(credential)))
        return reply

    async def list_models(self, credential: str | None) -> spb.ListModelsResponse:
        reply: spb.ListModelsResponse = await _unary(self._stub.ListModels(spb.ListModelsRequest(), metadata=_metadata(credential)))
        return reply

    async def get_model(self, request: spb.GetModelRequest, credential: str | None) -> spb.Model:
        reply: spb.Model = await _unary(self._stub.GetModel(request, metadata=_metadata(credential)))
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
