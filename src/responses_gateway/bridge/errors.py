"""One middleware: every failure leaves the bridge as OpenAI's `{"error": …}` body."""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from opentelemetry import trace

from responses_gateway.bridge.access import MODEL, USAGE
from responses_gateway.bridge.backend import Caller
from responses_gateway.errors import (
    BadHTTPRequest,
    GatewayError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    ProviderNotConfigured,
    RequestTooLarge,
    UpstreamAuthenticationFailed,
)
from responses_gateway.telemetry.http_spans import end_server_span, start_server_span
from responses_gateway.telemetry.logs import AccessLog
from responses_gateway.telemetry.metrics import Metrics

log = logging.getLogger(__name__)

# The request's Caller (bridge.backend), whose headers every answer carries, errors included.
CALLER = web.RequestKey("caller", Caller)
# HTTP's methods (RFC 9110 and PATCH); any other is `_OTHER` in metrics, span names and access lines.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
# Probes and scrapes every few seconds would bury the requests' traces.
UNTRACED_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})

# Errors that are the gateway's configuration, not a passing fault: a client
# retrying (the openai SDK does on 5xx) would only repeat them.
_NOT_WORTH_RETRYING = (ProviderNotConfigured, UpstreamAuthenticationFailed)


def error_response(exc: GatewayError) -> web.Response:
    """The HTTP response OpenAI gives for this error."""
    headers: dict[str, str] = {}
    if exc.retry_after > 0:
        headers["retry-after"] = str(math.ceil(exc.retry_after))
        headers["retry-after-ms"] = str(int(exc.retry_after * 1000))
    if isinstance(exc, _NOT_WORTH_RETRYING):
        headers["x-should-retry"] = "false"
    response = web.Response(
        body=orjson.dumps(exc.to_json()), status=exc.http_status, content_type="application/json", headers=headers
    )
    if exc.http_status == 408:  # the body was not read in full: the connection cannot carry another request
        response.force_close()
    return response


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> GatewayError:
    if exc.status == 404:
        return NotFound(f"Invalid URL ({request.method} {request.path})")
    if exc.status == 405:
        return MethodNotAllowed(f"Invalid method for URL ({request.method} {request.path})")
    if exc.status == 413:
        return RequestTooLarge("The request body is too large.")
    return BadHTTPRequest(exc.reason or "Bad request.", status=exc.status)


def openai_errors(
    *, metrics: Metrics | None = None, access_log: AccessLog | None = None, tracer: trace.Tracer | None = None
) -> Middleware:
    """The one middleware: each request traced (when `tracer`), answered in OpenAI's shape, counted and logged."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        # A client may send any token as a method: labels and span names take the known ones only.
        method = request.method if request.method in KNOWN_METHODS else "_OTHER"
        traced = tracer is not None and route not in UNTRACED_ROUTES
        if traced:
            assert tracer is not None
            span, token = start_server_span(tracer, request, route, method)
        status = 499  # the client went away before an answer (nginx's code for it)
        try:
            response = await _answer(request, handler, started)
            status = response.status
            return response
        except asyncio.CancelledError:
            # The client closed the connection (aiohttp cancels the handler). A stream whose terminal
            # event went out was answered in full, as many SSE clients hang up right after it.
            if request.get(USAGE) is not None:
                status = 200
            raise
        finally:
            _observed(request, route, method, status, time.perf_counter() - started, metrics, access_log)
            if traced:
                end_server_span(span, token, status)

    return middleware


def _observed(
    request: web.Request,
    route: str,
    method: str,
    status: int,
    elapsed: float,
    metrics: Metrics | None,
    access_log: AccessLog | None,
) -> None:
    """The request's metrics and access line, however it ended."""
    if metrics is not None:
        metrics.observe_http(route, method, status, elapsed)
    if access_log is not None:
        caller, usage = request.get(CALLER), request.get(USAGE)
        access_log.write(
            method,
            route,
            status,
            elapsed,
            model=request.get(MODEL, ""),
            tenant=caller.tenant if caller is not None else "",
            input_tokens=usage.input_tokens if usage is not None else None,
            output_tokens=usage.output_tokens if usage is not None else None,
        )


async def _answer(request: web.Request, handler: Handler, started: float) -> web.StreamResponse:
    """Map GatewayError and aiohttp's HTTP errors to JSON; never leak a traceback."""
    try:
        response = await handler(request)
    except GatewayError as exc:
        response = error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(_from_http_exception(request, exc))
        if "Allow" in exc.headers:  # a 405 names the methods the URL has
            response.headers["Allow"] = exc.headers["Allow"]
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        response = error_response(InternalError())
    if not response.prepared:
        caller = request.get(CALLER)
        if caller is not None:
            response.headers.update(caller.headers)
        response.headers["x-request-id"] = f"req_{secrets.token_hex(16)}"
        response.headers["openai-version"] = "2020-10-01"
        response.headers["openai-processing-ms"] = str(int((time.perf_counter() - started) * 1000))
    return response

