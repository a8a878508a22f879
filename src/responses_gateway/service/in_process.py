"""The bridge's in-process backend: the service called directly, no serialisation, no network hop.

Like grpc-gateway's `Register…HandlerServer`. It lives beside the service
(the bridge knows only its `Backend` protocol), so a `serve bridge` process,
which dials the service instead, never loads the service, store or providers.
Each call is authenticated by the service, exactly as the gRPC face does.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.service.coalesce import coalesced
from responses_gateway.service.responses import ResponsesService


class InProcessBackend:
    """Implements the bridge's `Backend` on a ResponsesService in the same process."""

    def __init__(self, service: ResponsesService) -> None:
        self._service = service

    async def create_response(self, request: pb.CreateResponseRequest, credential: str | None) -> pb.Response:
        return await self._service.create(request, await self._service.authenticate(credential))

    async def stream_response(
        self, request: pb.CreateResponseRequest, credential: str | None
    ) -> AsyncIterator[list[epb.ResponseStreamEvent]]:
        ctx = await self._service.authenticate(credential)
        # Closed with this generator: a client that went away stops the service's work.
        async with contextlib.aclosing(coalesced(self._service.stream(request, ctx))) as batches:
            async for batch in batches:
                yield batch

    async def get_response(self, request: spb.GetResponseRequest, credential: str | None) -> pb.Response:
        return await self._service.get(request.id, await self._service.authenticate(credential), request.include)

    async def delete_response(self, request: spb.DeleteResponseRequest, credential: str | None) -> spb.DeleteResponseResponse:
        return await self._service.delete(request.id, await self._service.authenticate(credential))

    async def list_input_items(self, request: spb.ListInputItemsRequest, credential: str | None) -> spb.ListInputItemsResponse:
        return await self._service.list_input_items(request, await self._service.authenticate(credential))

    async def cancel_response(self, request: spb.CancelResponseRequest, credential: str | None) -> pb.Response:
        return await self._service.cancel(request.id, await self._service.authenticate(credential))

    async def count_input_tokens(
        self, request: pb.CreateResponseRequest, credential: str | None
    ) -> spb.CountInputTokensResponse:
        return await self._service.count_input_tokens(request, await self._service.authenticate(credential))

    async def list_models(self, credential: str | None) -> spb.ListModelsResponse:
        await self._service.authenticate(credential)
        return await self._service.list_models()

    async def get_model(self, request: spb.GetModelRequest, credential: str | None) -> spb.Model:
        await self._service.authenticate(credential)
        return await self._service.get_model(request.id)

    async def ready(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None
