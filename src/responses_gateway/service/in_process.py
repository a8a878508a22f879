"""The bridge's in-process backend: the service called directly, no serialisation, no network hop.

Like grpc-gateway's `Register…HandlerServer`. It lives beside the service
(the bridge knows only its `Backend` protocol), so a `serve bridge` process,
which dials the service instead, never loads the service, store or providers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.service.call import CallContext
from responses_gateway.service.coalesce import coalesced
from responses_gateway.service.responses import ResponsesService


class InProcessBackend:
    """Implements the bridge's `Backend` on a ResponsesService in the same process."""

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
