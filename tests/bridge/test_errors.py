"""Errors the service raises leave the bridge as OpenAI's status, `{"error": …}` body and headers."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from responses_gateway.errors import (
    SERVER_ERROR_MESSAGE,
    InternalError,
    InvalidRequest,
    NotFound,
    ProviderNotConfigured,
    RateLimited,
    UpstreamAuthenticationFailed,
    UpstreamServerError,
)
from tests.bridge.fakes import FakeBackend, error_of

Client = TestClient[web.Request, web.Application]


@dataclass
class Case:
    raised: BaseException
    status: int
    error: dict[str, object]
    headers: dict[str, str] = field(default_factory=dict)


GENERIC_500: dict[str, object] = {"message": SERVER_ERROR_MESSAGE, "type": "server_error", "param": None, "code": "server_error"}

CASES = {
    "an invalid request names its param and code": Case(
        InvalidRequest("Invalid value: 'hot'.", code="invalid_value", param="temperature"),
        400,
        {"message": "Invalid value: 'hot'.", "type": "invalid_request_error", "param": "temperature", "code": "invalid_value"},
    ),
    "a missing response is 404": Case(
        NotFound("Response with id 'resp_gone' not found."),
        404,
        {"message": "Response with id 'resp_gone' not found.", "type": "invalid_request_error", "param": None, "code": None},
    ),
    "a rate limit says when to retry, rounded up in seconds and exact in ms": Case(
        RateLimited("Rate limit reached for requests.", retry_after=1.5),
        429,
        {"message": "Rate limit reached for requests.", "type": "requests", "param": None, "code": "rate_limit_exceeded"},
        {"retry-after": "2", "retry-after-ms": "1500"},
    ),
    "a token rate limit is typed tokens": Case(
        RateLimited("Rate limit reached for tokens.", limit="tokens", retry_after=20),
        429,
        {"message": "Rate limit reached for tokens.", "type": "tokens", "param": None, "code": "rate_limit_exceeded"},
        {"retry-after": "20", "retry-after-ms": "20000"},
    ),
    "an unconfigured provider tells the client not to retry": Case(
        ProviderNotConfigured("The provider of 'gpt-test' has no API key configured."),
        503,
        {
            "message": "The provider of 'gpt-test' has no API key configured.",
            "type": "service_unavailable_error",
            "param": "model",
            "code": "provider_not_configured",
        },
        {"x-should-retry": "false"},
    ),
    "an upstream refusing the gateway's key tells the client not to retry": Case(
        UpstreamAuthenticationFailed(),
        502,
        {
            "message": "The upstream provider rejected the gateway's credentials.",
            "type": "server_error",
            "param": None,
            "code": "upstream_authentication_failed",
        },
        {"x-should-retry": "false"},
    ),
    "an upstream's 504 passes through": Case(
        UpstreamServerError("The upstream timed out serving the request.", status=504),
        504,
        {"message": "The upstream timed out serving the request.", "type": "server_error", "param": None, "code": "server_error"},
    ),
    "an internal error is a generic 500": Case(InternalError(), 500, GENERIC_500),
    "an unexpected exception is a generic 500 that hides its detail": Case(RuntimeError("secret detail"), 500, GENERIC_500),
}

RETRY_HEADERS = ("retry-after", "retry-after-ms", "x-should-retry")


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_an_error_from_the_service_is_openais_status_body_and_headers(
    client: Client, backend: FakeBackend, case: Case
) -> None:
    backend.fail["create_response"] = case.raised

    resp = await client.post("/v1/responses", json={"model": "gpt-test", "input": "hi"})

    assert resp.status == case.status
    assert resp.content_type == "application/json"
    assert await error_of(resp) == case.error
    assert resp.headers["x-request-id"].startswith("req_")
    assert len(resp.headers["x-request-id"]) > len("req_")
    assert resp.headers["openai-version"] == "2020-10-01"
    assert {h: resp.headers[h] for h in RETRY_HEADERS if h in resp.headers} == case.headers


async def test_an_unexpected_exception_never_reaches_the_client_in_any_form(client: Client, backend: FakeBackend) -> None:
    backend.fail["get_response"] = RuntimeError("secret detail: postgres://admin:hunter2@db")

    resp = await client.get("/v1/responses/resp_abc")

    assert resp.status == 500
    raw = await resp.read()
    assert b"secret" not in raw
    assert b"hunter2" not in raw
    assert b"Traceback" not in raw


async def test_every_route_maps_the_services_errors_the_same_way(client: Client, backend: FakeBackend) -> None:
    for method in ("get_response", "delete_response", "list_input_items", "cancel_response", "get_model", "list_models"):
        backend.fail[method] = NotFound("No such thing.")
    paths = [
        ("GET", "/v1/responses/resp_x"),
        ("DELETE", "/v1/responses/resp_x"),
        ("GET", "/v1/responses/resp_x/input_items"),
        ("POST", "/v1/responses/resp_x/cancel"),
        ("GET", "/v1/models/nope"),
        ("GET", "/v1/models"),
    ]

    statuses = []
    for method, path in paths:
        resp = await client.request(method, path)
        statuses.append((path, resp.status, (await error_of(resp))["message"]))

    assert statuses == [(path, 404, "No such thing.") for _, path in paths]


async def test_each_error_response_gets_its_own_request_id(client: Client, backend: FakeBackend) -> None:
    backend.fail["get_response"] = NotFound("No such thing.")

    ids = {(await client.get("/v1/responses/resp_x")).headers["x-request-id"] for _ in range(3)}

    assert len(ids) == 3
