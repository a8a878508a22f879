"""The gRPC server's authentication: an interceptor that admits each call to our service by its `authorization` metadata.

Health and reflection stay open (probes and grpcurl's discovery need no key).
The admitted caller reaches the servicer through `call.CALLER`, set in the
task that runs the handler.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from responses_gateway.errors import GatewayError, to_rpc_status
from responses_gateway.security import Authenticator
from responses_gateway.service.call import CALLER, CallContext, caller_of


def _authorization(metadata: Any) -> str | None:
    """The caller's credential: `authorization`, or `authorization-bin` for one text metadata cannot carry."""
    for key, value in metadata or ():
        if key == "authorization":
            return str(value)
        if key == "authorization-bin":
            return bytes(value).decode("utf-8", "replace")
    return None


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Rejects calls to `service_name` without a valid credential (UNAUTHENTICATED with OpenAI's error)."""

    def __init__(self, authenticator: Authenticator, service_name: str) -> None:
        self._authenticator = authenticator
        self._prefix = f"/{service_name}/"

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or not details.method.startswith(self._prefix):
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._streaming(handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    async def _admit(self, context: grpc.aio.ServicerContext) -> CallContext:
        authorization = _authorization(context.invocation_metadata())
        try:
            return caller_of(await self._authenticator.authenticate(authorization))
        except GatewayError as exc:
            await context.abort_with_status(to_rpc_status(exc))
            raise AssertionError("unreachable: abort raises") from exc

    def _unary(self, behavior: Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def admitted(request: Any, context: grpc.aio.ServicerContext) -> Any:
            CALLER.set(await self._admit(context))
            return await behavior(request, context)

        return admitted

    def _streaming(
        self, behavior: Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]
    ) -> Callable[..., AsyncIterator[Any]]:
        async def admitted(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            CALLER.set(await self._admit(context))
            async for reply in behavior(request, context):
                yield reply

        return admitted
