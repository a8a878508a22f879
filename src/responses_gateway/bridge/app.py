"""The aiohttp application: OpenAI's REST + SSE surface, translated to the service's RPCs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import orjson
from aiohttp import web
from opentelemetry import trace

from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.bridge.access import note_model, note_usage
from responses_gateway.bridge.backend import Backend, Caller
from responses_gateway.bridge.body import READ_TIMEOUT, decode_body
from responses_gateway.bridge.errors import CALLER, openai_errors
from responses_gateway.bridge.openapi import openapi
from responses_gateway.bridge.sse import write_sse
from responses_gateway.codec import request_from_json, response_to_json
from responses_gateway.codec.fields import check_id, unknown
from responses_gateway.codec.request import COUNT_FIELDS
from responses_gateway.codec.response import delete_to_json, input_items_to_json, model_to_json, models_to_json
from responses_gateway.errors import InternalError, InvalidRequest, NotReady
from responses_gateway.telemetry.logs import AccessLog
from responses_gateway.telemetry.metrics import METRICS, Metrics, metrics_endpoint

BACKEND = web.AppKey("backend", Backend)


def _credential(request: web.Request) -> Caller:
    """Who calls: the `Authorization` header, passed to the service as is (the service decides who it is).

    Kept on the request so every answer, errors included, carries the headers the call set.
    """
    caller = Caller(request.headers.get("Authorization"))
    request[CALLER] = caller
    return caller


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def _read_request(request: web.Request, fields: frozenset[str] | None = None) -> pb.CreateResponseRequest:
    """The body of a create (or of a count, whose `fields` are the only ones allowed), decoded (bridge.body)."""
    if request.content_type != "application/json":
        raise InvalidRequest(
            f"Unsupported content type: '{request.content_type}'. This API method only accepts "
            "'application/json' requests, but you specified the header "
            f"'Content-Type: {request.content_type}'. Please try again with a supported content type.",
            code="unsupported_content_type",
        )
    return await decode_body(request, lambda raw: _decode_request(raw, fields))


def _decode_request(raw: bytes, fields: frozenset[str] | None) -> pb.CreateResponseRequest:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest(
            "We could not parse the JSON body of your request. The API expects a JSON payload, "
            "but what was sent was not valid JSON.",
            code="invalid_json",
        ) from None
    if fields is not None and isinstance(body, dict):
        for key in body:
            if key not in fields:
                raise unknown(key)
    return request_from_json(body)


def _response_id(request: web.Request) -> str:
    """The URL's `{response_id}`, refused (400) unless it has an id's shape, before the service is asked."""
    return check_id("response_id", request.match_info["response_id"])


async def create_response(request: web.Request) -> web.StreamResponse:
    """POST /v1/responses: JSON, or SSE when `stream` is true."""
    req = await _read_request(request)
    note_model(request, req.model)
    backend = request.app[BACKEND]
    if not req.stream:
        response = await backend.create_response(req, _credential(request))
        note_usage(request, response)
        return _json(response_to_json(response))
    batches = backend.stream_response(req, _credential(request))
    try:
        # Errors found before the first event still get a plain JSON status,
        # as OpenAI does; only after it does the stream begin.
        first = await anext(batches)
    except StopAsyncIteration:
        raise InternalError("The response stream ended before it began.") from None
    try:
        return await write_sse(request, first, batches, request[CALLER].headers)
    finally:
        # Closing cancels the service's work (and so the upstream call) when the client went away.
        await _close(batches)


async def _close(stream: AsyncIterator[Any]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


async def get_response(request: web.Request) -> web.Response:
    """GET /v1/responses/{id}"""
    if request.query.get("stream", "false").lower() == "true":
        raise InvalidRequest(
            "Streaming a stored response is only possible for background responses, which this gateway does not run yet.",
            code="unsupported_parameter",
            param="stream",
        )
    req = spb.GetResponseRequest(id=_response_id(request), include=request.query.getall("include[]", []))
    return _json(response_to_json(await request.app[BACKEND].get_response(req, _credential(request))))


async def delete_response(request: web.Request) -> web.Response:
    """DELETE /v1/responses/{id}"""
    req = spb.DeleteResponseRequest(id=_response_id(request))
    deleted = await request.app[BACKEND].delete_response(req, _credential(request))
    return _json(delete_to_json(deleted))


def _query_int(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value is None:
        return None
    if not _INTEGER.fullmatch(value):
        raise InvalidRequest(
            f"Invalid type for '{name}': expected an integer, but got a string instead.", code="invalid_type", param=name
        )
    number = int(value)
    if not -(2**31) <= number < 2**31:  # what the proto field holds; the service checks the real range
        raise InvalidRequest(f"Invalid '{name}': integer out of range.", code="invalid_value", param=name)
    return number


_INTEGER = re.compile(r"-?[0-9]{1,20}")


async def list_input_items(request: web.Request) -> web.Response:
    """GET /v1/responses/{id}/input_items"""
    req = spb.ListInputItemsRequest(id=_response_id(request), include=request.query.getall("include[]", []))
    for name in ("after", "before"):
        if name in request.query:
            setattr(req, name, check_id(name, request.query[name]))
    if "order" in request.query:
        req.order = request.query["order"]
    limit = _query_int(request, "limit")
    if limit is not None:
        req.limit = limit
    return _json(input_items_to_json(await request.app[BACKEND].list_input_items(req, _credential(request))))


async def cancel_response(request: web.Request) -> web.Response:
    """POST /v1/responses/{id}/cancel"""
    req = spb.CancelResponseRequest(id=_response_id(request))
    return _json(response_to_json(await request.app[BACKEND].cancel_response(req, _credential(request))))


_COUNT_FIELDS = frozenset(COUNT_FIELDS)


async def count_input_tokens(request: web.Request) -> web.Response:
    """POST /v1/responses/input_tokens"""
    req = await _read_request(request, _COUNT_FIELDS)
    counted = await request.app[BACKEND].count_input_tokens(req, _credential(request))
    return _json({"object": "response.input_tokens", "input_tokens": counted.input_tokens})


async def list_models(request: web.Request) -> web.Response:
    """GET /v1/models"""
    return _json(models_to_json(await request.app[BACKEND].list_models(_credential(request))))


async def get_model(request: web.Request) -> web.Response:
    """GET /v1/models/{id}"""
    req = spb.GetModelRequest(id=request.match_info["model_id"])
    return _json(model_to_json(await request.app[BACKEND].get_model(req, _credential(request))))


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return _json({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: the service behind the bridge answers."""
    if await request.app[BACKEND].ready():
        return _json({"status": "ready"})
    raise NotReady()


def create_app(
    backend: Backend,
    *,
    max_body_bytes: int = 32 * 1024 * 1024,
    read_timeout: float = 75.0,
    metrics: Metrics | None = None,
    metrics_route: bool = True,
    tracer: trace.Tracer | None = None,
    access_log: AccessLog | None = None,
) -> web.Application:
    """The bridge app over a backend; the caller owns the backend's lifetime.

    `read_timeout`: seconds a client has to send a request's headers (aiohttp's
    keep-alive timer, which also closes a connection idle that long between
    requests) and then its body (bridge.body). A body left unread (a refusal
    before reading it, a 408) is drained for at most as long (aiohttp's
    lingering, 10 s by default) before the connection closes.

    `metrics`: what requests are counted into, served at `/metrics` unless
    `metrics_route` is false (the process serves it on a port of its own).
    `tracer`: each request (but probes and scrapes) is a SERVER span from it.
    `access_log`: where each request's access line goes.
    """
    # The bridge undoes Content-Encoding itself (bridge.body), within the size limit.
    app = web.Application(
        middlewares=[openai_errors(metrics=metrics, access_log=access_log, tracer=tracer)],
        client_max_size=max_body_bytes,
        handler_args={
            "auto_decompress": False,
            "keepalive_timeout": read_timeout,
            "lingering_time": min(10.0, read_timeout),
        },
    )
    app[BACKEND] = backend
    app[READ_TIMEOUT] = read_timeout
    if metrics is not None:
        app[METRICS] = metrics
        if metrics_route:
            app.router.add_get("/metrics", metrics_endpoint)
    app.router.add_post("/v1/responses", create_response)
    app.router.add_post("/v1/responses/input_tokens", count_input_tokens)
    app.router.add_get("/v1/responses/{response_id}", get_response)
    app.router.add_delete("/v1/responses/{response_id}", delete_response)
    app.router.add_get("/v1/responses/{response_id}/input_items", list_input_items)
    app.router.add_post("/v1/responses/{response_id}/cancel", cancel_response)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model_id:.+}", get_model)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/openapi.json", openapi)
    return app
