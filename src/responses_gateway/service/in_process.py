"""The bridge's in-process backend: the service called directly, no serialisation, no network hop.

Like grpc-gateway's `Register…HandlerServer`. It lives beside the service
(the bridge knows only its `Backend` protocol), so a `serve bridge` process,
which dials the service instead, never loads the service, store or providers.
Each call is authenticated by the service, exactly as the gRPC face does.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.service.call import CallContext
from responses_gateway.service.coalesce import coalesced
from responses_gateway.service.responses import ResponsesService


class Caller(Protocol):
    """The bridge's view of who calls: the credential in, the call's own headers and tenant out (`bridge.backend.Caller`)."""

    @property
    def authorization(self) -> str | None: ...

    @property
    def headers(self) -> dict[str, str]: ...

    tenant: str


class InProcessBackend:
    """Implements the bridge's `Backend` on a ResponsesService in the same process."""

    def __init__(self, service: ResponsesService) -> None:
        self._service = service

    async def _ctx(self, caller: Caller) -> CallContext:
        # The service writes the call's headers straight into the caller's.
        ctx = await self._service.authenticate(caller.authorization, caller.headers)
        caller.tenant = ctx.tenant_id
        return ctx

    async def create_response(self, request: pb.CreateResponseRequest, caller: Caller) -> pb.Response:
        return await self._service.create(request, await self._ctx(caller))

    async def stream_response(
        self, request: pb.CreateResponseRequest, caller: Caller
    ) -> AsyncIterator[list[epb.ResponseStreamEvent]]:
        ctx = await self._ctx(caller)
        # Closed with this generator: a client that went away stops the service's work.
        async with contextlib.aclosing(coalesced(self._service.stream(request, ctx))) as batches:
            async for batch in batches:
                yield batch

    async def get_response(self, request: spb.GetResponseRequest, caller: Caller) -> pb.Response:
        return await self._service.get(request.id, await self._ctx(caller), request.include)

    async def delete_response(self, request: spb.DeleteResponseRequest, caller: Caller) -> spb.DeleteResponseResponse:
        return await self._service.delete(request.id, await self._ctx(caller))

    async def list_input_items(self, request: spb.ListInputItemsRequest, caller: Caller) -> spb.ListInputItemsResponse:
        return await self._service.list_input_items(request, await self._ctx(caller))

    async def cancel_response(self, request: spb.CancelResponseRequest, caller: Caller) -> pb.Response:
        return await self._service.cancel(request.id, await self._ctx(caller))

    async def count_input_tokens(self, request: pb.CreateResponseRequest, caller: Caller) -> spb.CountInputTokensResponse:
        return await self._service.count_input_tokens(request, await self._ctx(caller))

    async def list_models(self, caller: Caller) -> spb.ListModelsResponse:
        return await self._service.list_models(await self._ctx(caller))

    async def get_model(self, request: spb.GetModelRequest, caller: Caller) -> spb.Model:
        return await self._service.get_model(request.id, await self._ctx(caller))

    async def ready(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None
