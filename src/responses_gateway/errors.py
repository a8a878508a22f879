"""One error hierarchy for the whole gateway; a class for each thing a caller branches on.

    GatewayError                         what a client may see, phrased as OpenAI phrases it
    ├── InvalidRequest                   400 invalid_request_error      INVALID_ARGUMENT
    │   ├── ContextOverflow              400 context_length_exceeded
    │   ├── ChainTooDeep                 400 conversation_too_deep
    │   ├── ModelNotFound                400 model_not_found            NOT_FOUND
    │   ├── PreviousResponseNotFound     400 previous_response_not_found NOT_FOUND
    │   ├── UpstreamRejected             the upstream's 400/409/422, passed through
    │   ├── MethodNotAllowed             405
    │   ├── RequestTooLarge              413 request_too_large
    │   └── BadHTTPRequest               another 4xx from the HTTP server
    ├── NotFound                         404                            NOT_FOUND
    ├── Unauthenticated                  401                            UNAUTHENTICATED
    ├── PermissionDenied                 403                            PERMISSION_DENIED
    ├── RateLimited                      429 rate_limit_exceeded        RESOURCE_EXHAUSTED
    │   └── QueueFull                    the gateway refused the call itself to bound a queue
    ├── QuotaExceeded                    429 insufficient_quota         RESOURCE_EXHAUSTED
    ├── Unavailable                      503 service_unavailable_error  UNAVAILABLE
    │   ├── ProviderNotConfigured        503 provider_not_configured
    │   ├── DeploymentsCoolingDown       503 server_is_overloaded
    │   ├── LocalModelUnavailable        503 local_model_unavailable
    │   ├── ServiceUnreachable           503 service_unavailable (the bridge cannot reach the service)
    │   └── NotReady                     503 not_ready
    ├── UpstreamError                    an upstream failed          UNAVAILABLE
    │   ├── TransientUpstreamError       worth retrying on the same deployment
    │   │   ├── UpstreamUnreachable      502 upstream_unavailable
    │   │   ├── UpstreamTimeout          504 upstream_timeout
    │   │   ├── UpstreamOverloaded       503 server_is_overloaded
    │   │   ├── UpstreamServerError      500/502/504 server_error
    │   │   └── BadUpstreamResponse      502 bad_upstream_response
    │   └── UpstreamAccountError         this deployment's account: try elsewhere, not again here
    │       ├── UpstreamAuthenticationFailed  502 upstream_authentication_failed
    │       └── UpstreamQuotaExhausted   503 upstream_quota_exhausted
    └── InternalError                    500 server_error               INTERNAL

The class decides behaviour (the router retries, fails over or gives up by
class; the bridge adds `x-should-retry` by class) and carries the HTTP status
and gRPC code each face answers with. Over gRPC the class travels as a
`google.rpc.ErrorInfo` (reason = class name, domain = ERROR_DOMAIN) beside the
OpenAI error object, so a split layout rebuilds the same class as in-process.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from responses_gateway.api.v1 import responses_pb2 as pb

ERROR_DOMAIN = "responses-gateway"
SERVER_ERROR_MESSAGE = "The server had an error while processing your request."

_BY_NAME: dict[str, type[GatewayError]] = {}


class GatewayError(Exception):
    """An error a client may see, already phrased the way OpenAI phrases it."""

    type: str = "server_error"
    http_status: int = 500
    grpc_code: ClassVar[grpc.StatusCode] = grpc.StatusCode.INTERNAL
    default_code: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__name__ in _BY_NAME:
            raise TypeError(f"two error classes named {cls.__name__}: the name identifies the class over gRPC")
        _BY_NAME[cls.__name__] = cls

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.param = param
        self.retry_after = retry_after

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

    def to_error_info(self) -> error_details_pb2.ErrorInfo:
        """The class, for a transport that carries status details (gRPC)."""
        return error_details_pb2.ErrorInfo(reason=type(self).__name__, domain=ERROR_DOMAIN)

    def to_json(self) -> dict[str, object]:
        """The `{"error": {...}}` body OpenAI answers with."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


_BY_NAME["GatewayError"] = GatewayError  # a bare GatewayError (another server's) round-trips too


class InvalidRequest(GatewayError):
    """The request is malformed or asks for something impossible."""

    type = "invalid_request_error"
    http_status = 400
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


CONTEXT_LENGTH_EXCEEDED_MESSAGE = "Your input exceeds the context window of this model. Please adjust your input and try again."


class ContextOverflow(InvalidRequest):
    """The input does not fit the model's window (ours to decide, or the upstream's)."""

    default_code = "context_length_exceeded"

    def __init__(self, message: str = CONTEXT_LENGTH_EXCEEDED_MESSAGE, *, param: str | None = "input") -> None:
        super().__init__(message, param=param)


class ChainTooDeep(InvalidRequest):
    """`previous_response_id` continues a conversation longer than the gateway follows."""

    default_code = "conversation_too_deep"

    def __init__(self, response_id: str, limit: int) -> None:
        super().__init__(
            f"The conversation ending at '{response_id}' is more than {limit} responses long, the most this gateway "
            "continues. Start a new conversation, or send the history you need as input.",
            param="previous_response_id",
        )


class ModelNotFound(InvalidRequest):
    """The requested model is not routed by this gateway."""

    grpc_code = grpc.StatusCode.NOT_FOUND
    default_code = "model_not_found"

    def __init__(self, model: str) -> None:
        super().__init__(f"The requested model '{model}' does not exist.", param="model")


class PreviousResponseNotFound(InvalidRequest):
    """`previous_response_id` names nothing stored for this tenant."""

    grpc_code = grpc.StatusCode.NOT_FOUND
    default_code = "previous_response_not_found"

    def __init__(self, response_id: str) -> None:
        super().__init__(f"Previous response with id '{response_id}' not found.", param="previous_response_id")


class UpstreamRejected(InvalidRequest):
    """The upstream refused the client's own request (400, 409, 422): its wording and status pass through."""

    def __init__(self, message: str, *, status: int = 400, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message, code=code, param=param)
        self.http_status = status


class MethodNotAllowed(InvalidRequest):
    """The URL exists, the method does not."""

    http_status = 405


class RequestTooLarge(InvalidRequest):
    """The body is over the configured limit."""

    http_status = 413
    default_code = "request_too_large"


class BadHTTPRequest(InvalidRequest):
    """Another client error the HTTP server itself found (a malformed request line or header)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.http_status = status


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
    default_code = "rate_limit_exceeded"

    def __init__(
        self,
        message: str,
        *,
        limit: Literal["requests", "tokens"] = "requests",
        retry_after: float = 0.0,
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code, retry_after=retry_after)
        # OpenAI's `type` of a rate-limit error names the limit that was hit.
        self.type = limit


class QueueFull(RateLimited):
    """The gateway refused the call itself to bound a queue: a retry here would only wait outside it."""


class QuotaExceeded(GatewayError):
    """The key's monthly token budget is spent: no retry helps until the month turns (or the budget grows)."""

    type = "insufficient_quota"
    http_status = 429
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_code = "insufficient_quota"

    def __init__(self) -> None:
        super().__init__(
            "You exceeded your current quota: this key's monthly token budget is spent. "
            "Ask the gateway's operator for a larger budget, or wait for the next month."
        )


class Unavailable(GatewayError):
    """The gateway cannot serve this now."""

    type = "service_unavailable_error"
    http_status = 503
    grpc_code = grpc.StatusCode.UNAVAILABLE


class ProviderNotConfigured(Unavailable):
    """The model's provider cannot be used (no key, runtime not installed): configuration, not a passing fault."""

    default_code = "provider_not_configured"

    def __init__(self, message: str) -> None:
        super().__init__(message, param="model")


class DeploymentsCoolingDown(Unavailable):
    """Every deployment of the model has its circuit breaker open."""

    default_code = "server_is_overloaded"

    def __init__(self, model: str) -> None:
        super().__init__(f"Every deployment of '{model}' is cooling down after failures. Please try again shortly.")


class LocalModelUnavailable(Unavailable):
    """The embedded model's process could not start."""

    default_code = "local_model_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, param="model")


class ServiceUnreachable(Unavailable):
    """The bridge cannot reach the responses service."""

    default_code = "service_unavailable"

    def __init__(self) -> None:
        super().__init__("The responses service is unavailable. Please try again.")


class NotReady(Unavailable):
    """The service behind the bridge does not answer its health check."""

    default_code = "not_ready"

    def __init__(self) -> None:
        super().__init__("The responses service is not ready.")


class UpstreamError(GatewayError):
    """An upstream provider failed; status and body are what OpenAI would answer."""

    http_status = 502
    grpc_code = grpc.StatusCode.UNAVAILABLE


class TransientUpstreamError(UpstreamError):
    """A passing fault (connect error, timeout, 5xx, garbage): worth retrying on the same deployment."""


class UpstreamUnreachable(TransientUpstreamError):
    """No connection to the upstream."""

    default_code = "upstream_unavailable"

    def __init__(self) -> None:
        super().__init__("The gateway could not reach the upstream provider.")


class UpstreamTimeout(TransientUpstreamError):
    """The upstream did not answer (or went quiet) in time."""

    http_status = 504
    default_code = "upstream_timeout"


class UpstreamOverloaded(TransientUpstreamError):
    """The upstream says it is overloaded (503, or out of capacity mid-generation)."""

    type = "service_unavailable_error"
    http_status = 503
    default_code = "server_is_overloaded"


class UpstreamServerError(TransientUpstreamError):
    """The upstream failed on its side; its 500/502/504 passes through, anything else is 502."""

    default_code = "server_error"

    def __init__(self, message: str, *, status: int = 502) -> None:
        super().__init__(message)
        self.http_status = status if status in (500, 502, 504) else 502


class BadUpstreamResponse(TransientUpstreamError):
    """The upstream answered something that is not its protocol."""

    default_code = "bad_upstream_response"

    def __init__(self) -> None:
        super().__init__("The upstream provider sent an unreadable response.")


class UpstreamAccountError(UpstreamError):
    """This deployment's account is the problem: another deployment may serve, this one will not."""


class UpstreamAuthenticationFailed(UpstreamAccountError):
    """The upstream refused the gateway's key (401/403); never the upstream's wording, which can name the key."""

    default_code = "upstream_authentication_failed"

    def __init__(self) -> None:
        super().__init__("The upstream provider rejected the gateway's credentials.")


class UpstreamQuotaExhausted(UpstreamAccountError):
    """The gateway's account upstream has no quota left."""

    http_status = 503
    default_code = "upstream_quota_exhausted"

    def __init__(self) -> None:
        super().__init__("The upstream provider's quota for this gateway is exhausted.")


class InternalError(GatewayError):
    """A bug or an unexpected failure; never carries internals to the client."""

    default_code = "server_error"

    def __init__(self, message: str = SERVER_ERROR_MESSAGE) -> None:
        super().__init__(message)


def error_class(name: str) -> type[GatewayError] | None:
    """The error class a transport named (see `to_error_info`)."""
    return _BY_NAME.get(name)


def from_detail(detail: pb.ErrorDetail, cls: type[GatewayError] = GatewayError) -> GatewayError:
    """Rebuild an error of class `cls` from the OpenAI error object a transport carried."""
    error = cls.__new__(cls)
    Exception.__init__(error, detail.message)
    error.message = detail.message
    error.code = detail.code if detail.HasField("code") else None
    error.param = detail.param if detail.HasField("param") else None
    error.retry_after = detail.retry_after
    if detail.http_status and detail.http_status != cls.http_status:
        error.http_status = detail.http_status
    if detail.type and detail.type != cls.type:
        error.type = detail.type
    return error


def set_failed(response: pb.Response, error: pb.ErrorDetail) -> pb.Response:
    """Mark a response failed with the error that ended it (OpenAI's shape: error code and message, usage present)."""
    response.status = "failed"
    response.error.code = error.code if error.HasField("code") and error.code else "server_error"
    response.error.message = error.message
    response.usage.SetInParent()
    return response


def to_rpc_status(exc: GatewayError) -> grpc.Status:
    """A gRPC status: the class's code, the OpenAI error object and the class (`ErrorInfo`) as details."""
    detail, info = any_pb2.Any(), any_pb2.Any()
    detail.Pack(exc.to_detail())
    info.Pack(exc.to_error_info())
    status = status_pb2.Status(code=exc.grpc_code.value[0], message=exc.message, details=[detail, info])
    return rpc_status.to_status(status)


def from_rpc_error(exc: grpc.aio.AioRpcError) -> GatewayError:
    """The GatewayError a service packed into a failed call (see `to_rpc_status`)."""
    status = rpc_status.from_call(exc)
    error: pb.ErrorDetail | None = None
    cls: type[GatewayError] = GatewayError
    for packed in status.details if status is not None else ():
        detail, info = pb.ErrorDetail(), error_details_pb2.ErrorInfo()
        if packed.Unpack(detail):
            error = detail
        elif packed.Unpack(info) and info.domain == ERROR_DOMAIN:
            cls = error_class(info.reason) or GatewayError
    if error is not None:
        return from_detail(error, cls)
    if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return ServiceUnreachable()
    return InternalError()
