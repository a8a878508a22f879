"""Every error class: its HTTP status and body, its gRPC status, and the same class again after a real gRPC hop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from grpc_status import rpc_status

from responses_gateway import errors
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.errors import GatewayError

# One instance of every class a caller can meet, built the way the code raises it.
SAMPLES: list[GatewayError] = [
    errors.InvalidRequest("Invalid 'temperature'.", code="decimal_above_max_value", param="temperature"),
    errors.ContextOverflow(),
    errors.ChainTooDeep("resp_1", 100),
    errors.ModelNotFound("gpt-9"),
    errors.PreviousResponseNotFound("resp_2"),
    errors.UpstreamRejected("Conflict upstream.", status=409, code="conflict", param="input"),
    errors.MethodNotAllowed("Invalid method for URL (PUT /v1/models)"),
    errors.RequestTooLarge("The request body is too large."),
    errors.BadHTTPRequest("Request header too large.", status=431),
    errors.NotFound("Response with id 'resp_3' not found.", param="response_id"),
    errors.Unauthenticated("Incorrect API key provided.", code="invalid_api_key"),
    errors.PermissionDenied("Not allowed."),
    errors.RateLimited("Rate limit reached upstream.", limit="tokens", retry_after=1.5),
    errors.QueueFull("The local model is busy.", retry_after=1.0),
    errors.QuotaExceeded(),
    errors.Unavailable("Overloaded."),
    errors.ProviderNotConfigured("The model 'gpt-5.4' is configured, but set OPENAI_API_KEY."),
    errors.DeploymentsCoolingDown("gpt-5.4"),
    errors.LocalModelUnavailable("The local model failed to start on this server."),
    errors.ServiceUnreachable(),
    errors.NotReady(),
    errors.UpstreamUnreachable(),
    errors.UpstreamTimeout("The upstream provider timed out."),
    errors.UpstreamOverloaded("The upstream provider is overloaded.", retry_after=2.0),
    errors.UpstreamServerError("The upstream provider had an error.", status=500),
    errors.BadUpstreamResponse(),
    errors.UpstreamAuthenticationFailed(),
    errors.UpstreamQuotaExhausted(),
    errors.InternalError(),
]

# (class, HTTP status, OpenAI type, default code, gRPC code): the table each face answers with.
EXPECTED = [
    (errors.InvalidRequest, 400, "invalid_request_error", "decimal_above_max_value", grpc.StatusCode.INVALID_ARGUMENT),
    (errors.ContextOverflow, 400, "invalid_request_error", "context_length_exceeded", grpc.StatusCode.INVALID_ARGUMENT),
    (errors.ChainTooDeep, 400, "invalid_request_error", "conversation_too_deep", grpc.StatusCode.INVALID_ARGUMENT),
    (errors.ModelNotFound, 400, "invalid_request_error", "model_not_found", grpc.StatusCode.NOT_FOUND),
    (errors.PreviousResponseNotFound, 400, "invalid_request_error", "previous_response_not_found", grpc.StatusCode.NOT_FOUND),
    (errors.UpstreamRejected, 409, "invalid_request_error", "conflict", grpc.StatusCode.INVALID_ARGUMENT),
    (errors.MethodNotAllowed, 405, "invalid_request_error", None, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.RequestTooLarge, 413, "invalid_request_error", "request_too_large", grpc.StatusCode.INVALID_ARGUMENT),
    (errors.BadHTTPRequest, 431, "invalid_request_error", None, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFound, 404, "invalid_request_error", None, grpc.StatusCode.NOT_FOUND),
    (errors.Unauthenticated, 401, "invalid_request_error", "invalid_api_key", grpc.StatusCode.UNAUTHENTICATED),
    (errors.PermissionDenied, 403, "invalid_request_error", None, grpc.StatusCode.PERMISSION_DENIED),
    (errors.RateLimited, 429, "tokens", "rate_limit_exceeded", grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.QueueFull, 429, "requests", "rate_limit_exceeded", grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.QuotaExceeded, 429, "insufficient_quota", "insufficient_quota", grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.Unavailable, 503, "service_unavailable_error", None, grpc.StatusCode.UNAVAILABLE),
    (errors.ProviderNotConfigured, 503, "service_unavailable_error", "provider_not_configured", grpc.StatusCode.UNAVAILABLE),
    (errors.DeploymentsCoolingDown, 503, "service_unavailable_error", "server_is_overloaded", grpc.StatusCode.UNAVAILABLE),
    (errors.LocalModelUnavailable, 503, "service_unavailable_error", "local_model_unavailable", grpc.StatusCode.UNAVAILABLE),
    (errors.ServiceUnreachable, 503, "service_unavailable_error", "service_unavailable", grpc.StatusCode.UNAVAILABLE),
    (errors.NotReady, 503, "service_unavailable_error", "not_ready", grpc.StatusCode.UNAVAILABLE),
    (errors.UpstreamUnreachable, 502, "server_error", "upstream_unavailable", grpc.StatusCode.UNAVAILABLE),
    (errors.UpstreamTimeout, 504, "server_error", "upstream_timeout", grpc.StatusCode.UNAVAILABLE),
    (errors.UpstreamOverloaded, 503, "service_unavailable_error", "server_is_overloaded", grpc.StatusCode.UNAVAILABLE),
    (errors.UpstreamServerError, 500, "server_error", "server_error", grpc.StatusCode.UNAVAILABLE),
    (errors.BadUpstreamResponse, 502, "server_error", "bad_upstream_response", grpc.StatusCode.UNAVAILABLE),
    (errors.UpstreamAuthenticationFailed, 502, "server_error", "upstream_authentication_failed", grpc.StatusCode.UNAVAILABLE),
    (errors.UpstreamQuotaExhausted, 503, "server_error", "upstream_quota_exhausted", grpc.StatusCode.UNAVAILABLE),
    (errors.InternalError, 500, "server_error", "server_error", grpc.StatusCode.INTERNAL),
]


def _ids(sample: GatewayError) -> str:
    return type(sample).__name__


def test_every_class_a_caller_can_meet_has_a_sample() -> None:
    concrete = {cls for cls in _all_subclasses(GatewayError) if cls not in _MARKERS}
    assert concrete == {type(s) for s in SAMPLES}
    assert [type(s) for s in SAMPLES] == [row[0] for row in EXPECTED]


_MARKERS = {errors.UpstreamError, errors.TransientUpstreamError, errors.UpstreamAccountError}


def _all_subclasses(cls: type[GatewayError]) -> set[type[GatewayError]]:
    found: set[type[GatewayError]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


@pytest.mark.parametrize(("sample", "row"), list(zip(SAMPLES, EXPECTED, strict=True)), ids=[_ids(s) for s in SAMPLES])
def test_each_class_answers_http_with_openais_status_and_body(sample: GatewayError, row: tuple[object, ...]) -> None:
    _, http_status, kind, code, _ = row
    assert sample.http_status == http_status
    assert sample.to_json() == {"error": {"message": sample.message, "type": kind, "param": sample.param, "code": code}}


@pytest.mark.parametrize(("sample", "row"), list(zip(SAMPLES, EXPECTED, strict=True)), ids=[_ids(s) for s in SAMPLES])
def test_each_class_answers_grpc_with_its_code_and_the_openai_error_as_detail(
    sample: GatewayError, row: tuple[object, ...]
) -> None:
    status = errors.to_rpc_status(sample)
    assert status.code == row[4]
    assert status.details == sample.message
    packed = rpc_status.status_pb2.Status.FromString(dict(status.trailing_metadata)["grpc-status-details-bin"])
    detail = pb.ErrorDetail()
    assert packed.details[0].Unpack(detail)
    assert detail == sample.to_detail()


def test_behaviour_follows_the_class_not_the_code() -> None:
    # The same code string on different classes: the router and the bridge tell them apart.
    assert errors.UpstreamOverloaded("x").code == errors.DeploymentsCoolingDown("m").code
    assert isinstance(errors.UpstreamOverloaded("x"), errors.TransientUpstreamError)
    assert not isinstance(errors.DeploymentsCoolingDown("m"), errors.UpstreamError)
    assert isinstance(errors.QueueFull("busy"), errors.RateLimited)


def test_a_failed_response_carries_the_error_and_empty_usage() -> None:
    response = pb.Response(id="resp_1", status="in_progress")
    errors.set_failed(response, errors.UpstreamTimeout("The upstream provider timed out.").to_detail())
    assert (response.status, response.error.code, response.error.message) == (
        "failed",
        "upstream_timeout",
        "The upstream provider timed out.",
    )
    assert response.HasField("usage")
    errors.set_failed(response, pb.ErrorDetail(message="gone"))
    assert response.error.code == "server_error"


# --------------------------------------------------------------------------- over a real gRPC hop


_BY_NAME = {type(s).__name__: s for s in SAMPLES}


async def _raise_named(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    """A unary handler that fails with the error class the client names, as the servicer does."""
    await context.abort_with_status(errors.to_rpc_status(_BY_NAME[request.decode()]))
    raise AssertionError("unreachable")


@pytest_asyncio.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(_raise_named)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Errors", {"Raise": handler})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as chan:
        yield chan
    await server.stop(None)


@pytest.mark.parametrize("sample", SAMPLES, ids=[_ids(s) for s in SAMPLES])
async def test_the_class_and_every_field_survive_a_grpc_hop(channel: grpc.aio.Channel, sample: GatewayError) -> None:
    call = channel.unary_unary("/test.Errors/Raise")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(type(sample).__name__.encode())
    rebuilt = errors.from_rpc_error(info.value)
    assert type(rebuilt) is type(sample)
    assert (rebuilt.message, rebuilt.code, rebuilt.param, rebuilt.type, rebuilt.http_status, rebuilt.retry_after) == (
        sample.message,
        sample.code,
        sample.param,
        sample.type,
        sample.http_status,
        sample.retry_after,
    )
    assert rebuilt.to_json() == sample.to_json()


async def test_a_server_that_sends_no_detail_is_unreachable_or_internal(channel: grpc.aio.Channel) -> None:
    call = channel.unary_unary("/test.Errors/NoSuchMethod")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(b"")
    assert isinstance(errors.from_rpc_error(info.value), errors.InternalError)
    async with grpc.aio.insecure_channel("127.0.0.1:9") as dead:
        with pytest.raises(grpc.aio.AioRpcError) as down:
            await dead.unary_unary("/test.Errors/Raise")(b"", timeout=2)
    assert isinstance(errors.from_rpc_error(down.value), errors.ServiceUnreachable)
