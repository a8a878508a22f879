"""One error hierarchy for the whole gateway, carrying the OpenAI error object.

    GatewayError                      OpenAI `type` / HTTP / gRPC
    ├── InvalidRequest                invalid_request_error / 400 / INVALID_ARGUMENT
    │   ├── ModelNotFound             code model_not_found, param model / 400 / NOT_FOUND
    │   └── PreviousResponseNotFound  code previous_response_not_found / 400 / NOT_FOUND
    ├── NotFound                      invalid_request_error / 404 / NOT_FOUND
    ├── Unauthenticated               invalid_request_error / 401 / UNAUTHENTICATED
    ├── PermissionDenied              invalid_request_error / 403 / PERMISSION_DENIED
    ├── RateLimited                   rate_limit_exceeded / 429 / RESOURCE_EXHAUSTED (+ retry_after)
    ├── Unavailable                   service_unavailable_error / 503 / UNAVAILABLE
    ├── UpstreamError                 an upstream failure, mapped to what OpenAI would answer
    └── InternalError                 server_error / 500 / INTERNAL

Raised anywhere below the service; turned into a gRPC status (service) or an
HTTP body (bridge) exactly once, through `to_detail` / `from_detail`.
"""

from __future__ import annotations

import grpc

from responses_gateway.api.v1 import responses_pb2 as pb


class GatewayError(Exception):
    """An error a client may see, already phrased the way OpenAI phrases it."""

    type = "server_error"
    http_status = 500
    grpc_code = grpc.StatusCode.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type: str | None = None,
        http_status: int | None = None,
        grpc_code: grpc.StatusCode | None = None,
        retry_after: float = 0.0,
        retry_here: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        if type is not None:
            self.type = type
        if http_status is not None:
            self.http_status = http_status
        if grpc_code is not None:
            self.grpc_code = grpc_code
        self.retry_after = retry_after
        # False when the gateway refused the call itself to bound a queue: a retry
        # would hold the client outside that queue, so the router moves on instead.
        self.retry_here = retry_here

    def to_detail(self) -> pb.ErrorDetail:
        """The OpenAI error object as the proto every transport carries."""
        return pb.ErrorDetail(
            message=self.message,
            type=self.type,
            param=self.param,
            code=self.code,
            http_status=self.http_status,
            retry_after=self.retry_after,
        )

    def to_json(self) -> dict[str, object]:
        """The `{"error": {...}}` body OpenAI answers with."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class InvalidRequest(GatewayError):
    """The request is malformed or asks for something impossible."""

    type = "invalid_request_error"
    http_status = 400
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class ModelNotFound(InvalidRequest):
    """The requested model is not routed by this gateway."""

    grpc_code = grpc.StatusCode.NOT_FOUND

    def __init__(self, model: str) -> None:
        super().__init__(f"The requested model '{model}' does not exist.", code="model_not_found", param="model")


class PreviousResponseNotFound(InvalidRequest):
    """`previous_response_id` names nothing stored for this tenant."""

    grpc_code = grpc.StatusCode.NOT_FOUND

    def __init__(self, response_id: str) -> None:
        super().__init__(
            f"Previous response with id '{response_id}' not found.",
            code="previous_response_not_found",
            param="previous_response_id",
        )


class NotFound(GatewayError):
    """A stored object does not exist (or belongs to another tenant)."""

    type = "invalid_request_error"
    http_status = 404
    grpc_code = grpc.StatusCode.NOT_FOUND


class Unauthenticated(GatewayError):
    """Missing or wrong API key."""

    type = "invalid_request_error"
    http_status = 401
    grpc_code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(GatewayError):
    """The key may not do this."""

    type = "invalid_request_error"
    http_status = 403
    grpc_code = grpc.StatusCode.PERMISSION_DENIED


class RateLimited(GatewayError):
    """Too many requests or tokens; `retry_after` says when to try again."""

    type = "requests"
    http_status = 429
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(GatewayError):
    """The gateway cannot serve this now (overloaded, provider not configured)."""

    type = "service_unavailable_error"
    http_status = 503
    grpc_code = grpc.StatusCode.UNAVAILABLE


class UpstreamError(GatewayError):
    """An upstream provider failed; status and body are what OpenAI would answer."""

    grpc_code = grpc.StatusCode.UNAVAILABLE


class InternalError(GatewayError):
    """A bug or an unexpected failure; never carries internals to the client."""


_GRPC_BY_HTTP: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ABORTED,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    500: grpc.StatusCode.INTERNAL,
    502: grpc.StatusCode.UNAVAILABLE,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def grpc_code_for_http(status: int) -> grpc.StatusCode:
    """The gRPC code that best matches an HTTP status."""
    if status in _GRPC_BY_HTTP:
        return _GRPC_BY_HTTP[status]
    return grpc.StatusCode.INVALID_ARGUMENT if 400 <= status < 500 else grpc.StatusCode.INTERNAL


def from_detail(detail: pb.ErrorDetail, grpc_code: grpc.StatusCode | None = None) -> GatewayError:
    """Rebuild a GatewayError from the proto detail (remote backend, stream errors)."""
    return GatewayError(
        detail.message,
        type=detail.type or "server_error",
        code=detail.code if detail.HasField("code") else None,
        param=detail.param if detail.HasField("param") else None,
        http_status=detail.http_status or 500,
        grpc_code=grpc_code or grpc_code_for_http(detail.http_status or 500),
        retry_after=detail.retry_after,
    )
