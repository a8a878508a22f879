"""How the bridge reaches the service: in-process or over gRPC, same messages.

Like grpc-gateway's `Register…HandlerServer` (in-process, here
`service.in_process.InProcessBackend`) beside `Register…Handler` (dialling a
remote server, `RemoteBackend` below): the bridge code is one, the hop is
chosen at start-up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import grpc

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.api.v1 import service_pb2_grpc
from responses_gateway.config import TLSConfig
from responses_gateway.errors import from_rpc_error

T = TypeVar("T")


@dataclass
class Caller:
    """Who calls, for one request: the `Authorization` header value, and the headers the call answers with."""

    authorization: str | None
    headers: dict[str, str] = field(default_factory=dict)
    # Whose call it was, once the service said (the access log's `tenant`).
    tenant: str = ""


class Backend(Protocol):
    """The service's RPCs as async methods on proto messages; errors are GatewayError.

    Every call carries a `Caller`: its credential goes to the service, which
    authenticates it (in-process directly, remotely as gRPC `authorization`
    metadata), and the call's own headers (rate-limit state) come back in it.
    """

    async def create_response(self, request: pb.CreateResponseRequest, caller: Caller) -> pb.Response: ...
    def stream_response(
        self, request: pb.CreateResponseRequest, caller: Caller
    ) -> AsyncIterator[list[epb.ResponseStreamEvent]]:
        """The response's events in non-empty batches: each batch was ready at once and goes out in one write."""
        ...

    async def get_response(self, request: spb.GetResponseRequest, caller: Caller) -> pb.Response: ...
    async def delete_response(
        self, request: spb.DeleteResponseRequest, caller: Caller
    ) -> spb.DeleteResponseResponse: ...
    async def list_input_items(
        self, request: spb.ListInputItemsRequest, caller: Caller
    ) -> spb.ListInputItemsResponse: ...
    async def cancel_response(self, request: spb.CancelResponseRequest, caller: Caller) -> pb.Response: ...
    async def count_input_tokens(
        self, request: pb.CreateResponseRequest, caller: Caller
    ) -> spb.CountInputTokensResponse: ...
    async def list_models(self, caller: Caller) -> spb.ListModelsResponse: ...
    async def get_model(self, request: spb.GetModelRequest, caller: Caller) -> spb.Model: ...
    async def ready(self) -> bool: ...
    async def aclose(self) -> None: ...


def _metadata(caller: Caller) -> tuple[tuple[str, str | bytes], ...] | None:
    """The credential as gRPC metadata; one ASCII metadata cannot carry (a tab, `é`) travels as binary, unchanged."""
    value = caller.authorization
    if not value:
        return None
    if value.isascii() and value.isprintable():
        return (("authorization", value),)
    return (("authorization-bin", value.encode("utf-8", "surrogateescape")),)


# The call's own headers the service sends as gRPC metadata (rate-limit state); nothing else is copied.
_HEADER_PREFIX = "x-ratelimit-"
# The caller's tenant, as the service names it beside them (service.grpc_servicer.TENANT_METADATA).
_TENANT = "rg-tenant"


def _headers_from(caller: Caller, metadata: grpc.aio.Metadata | None) -> None:
    for key, value in metadata or ():
        if key.startswith(_HEADER_PREFIX):
            caller.headers[key] = value if isinstance(value, str) else value.decode()
        elif key == _TENANT:
            caller.tenant = value if isinstance(value, str) else value.decode()


async def _unary(call: grpc.aio.UnaryUnaryCall, caller: Caller) -> T:
    """Await one unary RPC, turning its status back into the service's GatewayError; the call's headers into `caller`."""
    try:
        reply: T = await call
    except grpc.aio.AioRpcError as exc:
        _headers_from(caller, exc.trailing_metadata())
        raise from_rpc_error(exc) from None
    _headers_from(caller, await call.trailing_metadata())
    return reply


ROUND_ROBIN = '{"loadBalancingConfig": [{"round_robin": {}}]}'


class RemoteBackend:
    """A grpc.aio channel to a ResponsesService elsewhere."""

    def __init__(self, target: str, tls: TLSConfig | None = None, interceptors: Sequence[Any] = ()) -> None:
        """`interceptors`: the channel's client interceptors (the gRPC client span, when tracing)."""
        options: list[tuple[str, object]] = [
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            # One connection per address the target resolves to (`dns:///` a headless Service: every
            # service replica), calls spread over them; pick_first would send everything to one.
            ("grpc.service_config", ROUND_ROBIN),
        ]
        if tls is None or tls.backend_ca_file is None:
            self._channel = grpc.aio.insecure_channel(target, options=options, interceptors=list(interceptors) or None)
        else:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=tls.backend_ca_file.read_bytes(),
                private_key=tls.backend_key_file.read_bytes() if tls.backend_key_file else None,
                certificate_chain=tls.backend_cert_file.read_bytes() if tls.backend_cert_file else None,
            )
            if tls.backend_server_name:
                options.append(("grpc.ssl_target_name_override", tls.backend_server_name))
            self._channel = grpc.aio.secure_channel(
                target, credentials, options=options, interceptors=list(interceptors) or None
            )
        self._stub = service_pb2_grpc.ResponsesServiceStub(self._channel)

    async def create_response(self, request: pb.CreateResponseRequest, caller: Caller) -> pb.Response:
        reply: pb.Response = await _unary(self._stub.CreateResponse(request, metadata=_metadata(caller)), caller)
        return reply

    async def stream_response(
        self, request: pb.CreateResponseRequest, caller: Caller
    ) -> AsyncIterator[list[epb.ResponseStreamEvent]]:
        # The service batched what was ready together; each message is one batch here too.
        call = self._stub.StreamResponseBatches(request, metadata=_metadata(caller))
        try:
            first = True
            async for batch in call:
                if first:
                    _headers_from(caller, await call.initial_metadata())
                    first = False
                if batch.events:
                    yield list(batch.events)
        except grpc.aio.AioRpcError as exc:
            _headers_from(caller, exc.trailing_metadata())
            raise from_rpc_error(exc) from None
        finally:
            # A client that went away cancels the service's work, and so the upstream call.
            call.cancel()

    async def get_response(self, request: spb.GetResponseRequest, caller: Caller) -> pb.Response:
        reply: pb.Response = await _unary(self._stub.GetResponse(request, metadata=_metadata(caller)), caller)
        return reply

    async def delete_response(self, request: spb.DeleteResponseRequest, caller: Caller) -> spb.DeleteResponseResponse:
        reply: spb.DeleteResponseResponse = await _unary(self._stub.DeleteResponse(request, metadata=_metadata(caller)), caller)
        return reply

    async def list_input_items(self, request: spb.ListInputItemsRequest, caller: Caller) -> spb.ListInputItemsResponse:
        reply: spb.ListInputItemsResponse = await _unary(self._stub.ListInputItems(request, metadata=_metadata(caller)), caller)
        return reply

    async def cancel_response(self, request: spb.CancelResponseRequest, caller: Caller) -> pb.Response:
        reply: pb.Response = await _unary(self._stub.CancelResponse(request, metadata=_metadata(caller)), caller)
        return reply

    async def count_input_tokens(self, request: pb.CreateResponseRequest, caller: Caller) -> spb.CountInputTokensResponse:
        reply: spb.CountInputTokensResponse = await _unary(self._stub.CountInputTokens(request, metadata=_metadata(caller)), caller)
        return reply

    async def list_models(self, caller: Caller) -> spb.ListModelsResponse:
        reply: spb.ListModelsResponse = await _unary(self._stub.ListModels(spb.ListModelsRequest(), metadata=_metadata(caller)), caller)
        return reply

    async def get_model(self, request: spb.GetModelRequest, caller: Caller) -> spb.Model:
        reply: spb.Model = await _unary(self._stub.GetModel(request, metadata=_metadata(caller)), caller)
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
