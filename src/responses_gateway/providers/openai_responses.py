"""OpenAI Responses API upstream: the request goes out nearly as the client sent it.

The gateway's store is the source of truth, so the upstream call is always
`store: false` with the whole conversation in `input`, and asks for
`reasoning.encrypted_content` so reasoning carries across turns.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import orjson

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.codec import event_from_json, request_to_json, response_from_json
from responses_gateway.config import ProviderConfig
from responses_gateway.errors import (
    GatewayError,
    InvalidRequest,
    RateLimited,
    UpstreamError,
)
from responses_gateway.providers.base import ProviderCall
from responses_gateway.providers.sse import SSEProtocolError, iter_sse_data

ENCRYPTED_REASONING = "reasoning.encrypted_content"


class OpenAIResponsesProvider:
    """Speaks POST {base}/responses, JSON and SSE, over one pooled session."""

    def __init__(self, config: ProviderConfig, api_key: str) -> None:
        self._config = config
        self._url = f"{config.resolved_base_url()}/responses"
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        t = config.timeouts
        self._timeout = aiohttp.ClientTimeout(total=t.total, connect=t.connect, sock_read=t.idle)
        self._stream_timeout = aiohttp.ClientTimeout(total=t.total, connect=t.connect, sock_read=t.first_token)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Created lazily so it binds to the running loop, not the one at import.
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._config.pool_size, enable_cleanup_closed=True)
            self._session = aiohttp.ClientSession(connector=connector, json_serialize=lambda o: orjson.dumps(o).decode())
        return self._session

    def _body(self, call: ProviderCall, *, stream: bool) -> bytes:
        req = pb.CreateResponseRequest()
        req.CopyFrom(call.request)
        req.model = call.model.upstream_name()
        req.stream = stream
        req.store = False
        req.ClearField("previous_response_id")
        req.ClearField("background")
        if ENCRYPTED_REASONING not in req.include:
            req.include.append(ENCRYPTED_REASONING)
        body = request_to_json(req)
        if isinstance(body["input"], list):
            # With store:false a reasoning item without its encrypted state is
            # looked up by id upstream and fails; it carries nothing usable.
            body["input"] = [
                item for item in body["input"] if item.get("type") != "reasoning" or "encrypted_content" in item
            ]
        return orjson.dumps(body)

    async def complete(self, call: ProviderCall) -> pb.Response:
        """One JSON request, one response object."""
        try:
            async with self._client().post(
                self._url, data=self._body(call, stream=False), headers=self._headers, timeout=self._timeout
            ) as resp:
                payload = await resp.read()
                if resp.status >= 400:
                    raise map_error(resp.status, payload, resp.headers)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _transport_error(exc) from exc
        try:
            return response_from_json(orjson.loads(payload))
        except (orjson.JSONDecodeError, GatewayError) as exc:
            raise UpstreamError("The upstream provider returned an unreadable response.", code="bad_upstream_response", http_status=502) from exc

    async def stream(self, call: ProviderCall) -> AsyncIterator[epb.ResponseStreamEvent]:
        """POST with stream:true and translate each SSE event to proto."""
        try:
            async with self._client().post(
                self._url, data=self._body(call, stream=True), headers=self._headers, timeout=self._stream_timeout
            ) as resp:
                if resp.status >= 400:
                    raise map_error(resp.status, await resp.read(), resp.headers)
                async for data in iter_sse_data(resp):
                    if data == b"[DONE]":
                        return
                    event = event_from_json(orjson.loads(data))
                    if event is not None:
                        yield event
        except (aiohttp.ClientError, asyncio.TimeoutError, SSEProtocolError) as exc:
            raise _transport_error(exc) from exc
        except orjson.JSONDecodeError as exc:
            raise UpstreamError("The upstream provider sent an unreadable event.", code="bad_upstream_response", http_status=502) from exc

    async def aclose(self) -> None:
        """Close the pooled session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _transport_error(exc: BaseException) -> UpstreamError:
    if isinstance(exc, asyncio.TimeoutError):
        return UpstreamError("The upstream provider timed out.", code="upstream_timeout", type="server_error", http_status=504)
    return UpstreamError(
        "The gateway could not reach the upstream provider.",
        code="upstream_unavailable",
        type="server_error",
        http_status=502,
    )


def _retry_after(headers: Mapping[str, str]) -> float:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return 0.0


def map_error(status: int, payload: bytes, headers: Mapping[str, str]) -> GatewayError:
    """Turn an upstream error response into the error OpenAI would give our client.

    Client-fault errors (400/404/409/422) pass through with the upstream's
    wording, since they are about the client's own request. Credential and
    quota failures belong to the gateway's account: the client gets a
    server-side error without the upstream's message, which can name keys or
    organisations.
    """
    error: dict[str, Any] = {}
    try:
        decoded = orjson.loads(payload)
        if isinstance(decoded, dict) and isinstance(decoded.get("error"), dict):
            error = decoded["error"]
    except orjson.JSONDecodeError:
        pass
    message = error.get("message") if isinstance(error.get("message"), str) else None
    code = error.get("code") if isinstance(error.get("code"), str) else None
    param = error.get("param") if isinstance(error.get("param"), str) else None
    kind = error.get("type") if isinstance(error.get("type"), str) else None
    if status in (400, 404, 409, 422):
        return InvalidRequest(message or "The upstream provider rejected the request.", code=code, param=param, type=kind, http_status=400 if status == 404 else status)
    if status in (401, 403):
        return UpstreamError("The upstream provider rejected the gateway's credentials.", code="upstream_authentication_failed", type="server_error", http_status=502)
    if status == 429:
        if code in ("insufficient_quota", "credit_balance_exhausted"):
            return UpstreamError("The upstream provider's quota for this gateway is exhausted.", code=code, type="server_error", http_status=503)
        return RateLimited("Rate limit reached upstream. Please try again later.", code=code or "rate_limit_exceeded", type=kind or "requests", retry_after=_retry_after(headers))
    if status == 503:
        return UpstreamError("The upstream provider is overloaded. Please try again later.", code=code or "server_is_overloaded", type="service_unavailable_error", http_status=503, retry_after=_retry_after(headers))
    return UpstreamError("The upstream provider had an error while processing your request.", code="server_error", type="server_error", http_status=status if status in (500, 502, 504) else 502)


def create(config: ProviderConfig, api_key: str) -> OpenAIResponsesProvider:
    """Provider factory registered under the type `openai_responses`."""
    return OpenAIResponsesProvider(config, api_key)
