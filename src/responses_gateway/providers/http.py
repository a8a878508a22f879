"""The pooled HTTP client every adapter uses, and OpenAI-style error mapping.

One `UpstreamHTTP` per provider: one aiohttp session (a bounded connection
pool), the provider's timeouts — connect, first token, idle between events,
total — and one translation of upstream failures into the errors OpenAI would
have given our client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import orjson

from responses_gateway.config import ProviderConfig
from responses_gateway.errors import (
    CONTEXT_LENGTH_EXCEEDED_MESSAGE,
    ContextOverflow,
    GatewayError,
    RateLimited,
    UpstreamAuthenticationFailed,
    UpstreamError,
    UpstreamOverloaded,
    UpstreamQuotaExhausted,
    UpstreamRejected,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from responses_gateway.providers.sse import SSEProtocolError, iter_sse_data
from responses_gateway.telemetry import http_spans
from responses_gateway.telemetry.http_spans import client_span


class UpstreamHTTP:
    """POSTs JSON to one upstream; answers bytes or SSE `data` payloads."""

    def __init__(self, config: ProviderConfig, api_key: str, *, keep_alive: bool = True) -> None:
        """`keep_alive=False`: a new connection per request, for an upstream that drops idle ones unannounced."""
        self._config = config
        self._keep_alive = keep_alive
        self.base_url = config.resolved_base_url()
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        t = config.timeouts
        self._timeouts = t
        self._json_timeout = aiohttp.ClientTimeout(total=t.total, connect=t.connect, sock_read=t.first_token)
        # Stream reads are timed per event below (first token, then idle).
        self._stream_timeout = aiohttp.ClientTimeout(total=t.total, connect=t.connect, sock_read=None)
        self._session: aiohttp.ClientSession | None = None
        self._draining: set[asyncio.Task[None]] = set()

    def _client(self) -> aiohttp.ClientSession:
        # Created lazily so it binds to the running loop.
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._config.pool_size, enable_cleanup_closed=True, force_close=not self._keep_alive
            )
            # No cookie jar: one session serves every tenant, and an upstream's cookies
            # (load balancers set them) must not travel from one client's call to the next.
            self._session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def post_json(self, path: str, body: Any) -> bytes:
        """POST and return the 2xx body; errors raise GatewayError subclasses."""
        url = f"{self.base_url}{path}"
        span = client_span("POST", url) if http_spans.enabled else None
        headers = span.headers(self._headers) if span is not None else self._headers
        try:
            async with self._client().post(url, data=orjson.dumps(body), headers=headers, timeout=self._json_timeout) as resp:
                if span is not None:
                    span.responded(resp.status)
                    span = None
                payload = await resp.read()
                if resp.status >= 400:
                    raise map_error(resp.status, payload, resp.headers)
                return payload
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            if span is not None:
                span.failed(exc)
            raise transport_error(exc) from exc

    async def stream_sse(self, path: str, body: Any) -> AsyncIterator[bytes]:
        """POST and yield each SSE `data` payload, enforcing first-token and idle timeouts."""
        started = False
        drained_aside = False
        # One first-token deadline covers the response headers and the first event.
        deadline = asyncio.get_running_loop().time() + self._timeouts.first_token
        url = f"{self.base_url}{path}"
        span = client_span("POST", url) if http_spans.enabled else None
        headers = span.headers(self._headers) if span is not None else self._headers
        try:
            try:
                async with asyncio.timeout_at(deadline):
                    resp = await self._client().post(url, data=orjson.dumps(body), headers=headers, timeout=self._stream_timeout)
            except BaseException as exc:
                if span is not None:
                    span.failed(exc)
                raise
            if span is not None:
                span.responded(resp.status)
            try:
                if resp.status >= 400:
                    async with asyncio.timeout_at(deadline):
                        payload = await resp.read()
                    raise map_error(resp.status, payload, resp.headers)
                events = aiter(iter_sse_data(resp))
                async with asyncio.timeout_at(deadline):
                    try:
                        data = await anext(events)
                    except StopAsyncIteration:
                        return
                started = True
                # No timeout context may span a yield: the next read may run in another task.
                watchdog = _IdleWatchdog(resp, self._timeouts.idle)
                try:
                    while True:
                        try:
                            yield data
                        except GeneratorExit:
                            # The consumer stopped, normally at the terminal event with only the
                            # body's last chunk still to come: read it aside so the connection
                            # goes back to the pool instead of being closed and dialled again.
                            drained_aside = self._drain_later(resp)
                            raise
                        watchdog.waiting()
                        try:
                            data = await anext(events)
                        except StopAsyncIteration:
                            if watchdog.expired:
                                raise _idle_timeout() from None
                            return
                        except (aiohttp.ClientError, SSEProtocolError):
                            if watchdog.expired:
                                raise _idle_timeout() from None
                            raise
                        watchdog.received()
                finally:
                    watchdog.stop()
            finally:
                if not drained_aside:
                    resp.release()
        except asyncio.TimeoutError as exc:
            raise transport_error(exc) from exc
        except (aiohttp.ClientError, SSEProtocolError) as exc:
            if started:
                raise UpstreamServerError("The upstream provider closed the stream before it finished.") from exc
            raise transport_error(exc) from exc

    def _drain_later(self, resp: aiohttp.ClientResponse) -> bool:
        """Whether a task now owns `resp` (False: it ended already, and release() keeps it)."""
        if resp.content.at_eof():
            return False
        task = asyncio.get_running_loop().create_task(_drain(resp))
        self._draining.add(task)
        task.add_done_callback(self._draining.discard)
        return True

    async def aclose(self) -> None:
        """Close the pool."""
        for task in list(self._draining):
            task.cancel()
        if self._draining:
            await asyncio.gather(*self._draining, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None


# A body left after its consumer stopped is read for at most this long / this much, then closed.
DRAIN_SECONDS = 0.5
DRAIN_MAX_BYTES = 64 * 1024


async def _drain(resp: aiohttp.ClientResponse) -> None:
    """Read the rest of a body nobody needs, keeping the connection only if it ends soon."""
    received = 0
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            while not resp.content.at_eof() and received <= DRAIN_MAX_BYTES:
                received += len(await resp.content.readany())
    except (asyncio.TimeoutError, aiohttp.ClientError):
        pass
    finally:
        if resp.content.at_eof():
            resp.release()
        else:
            resp.close()


def _idle_timeout() -> UpstreamTimeout:
    return UpstreamTimeout("The upstream provider stopped sending events (idle timeout).")


class _IdleWatchdog:
    """Closes the upstream response once no event came for `idle` seconds; one timer per idle period.

    A stream of thousands of events would otherwise set and cancel a timer for
    each; here a read only notes the time, and the timer, when it fires,
    either re-arms for what is left of the period or closes the connection,
    which ends the pending read whichever task is waiting on it. Only time
    spent waiting for the upstream counts, not the time a consumer (a slow
    client) takes while no read is pending.
    """

    def __init__(self, response: aiohttp.ClientResponse, idle: float) -> None:
        self._response = response
        self._idle = idle
        self._loop = asyncio.get_running_loop()
        self._since = self._loop.time()
        self._pending = False
        self.expired = False
        self._timer: asyncio.TimerHandle | None = self._loop.call_at(self._since + idle, self._check)

    def waiting(self) -> None:
        """A read of the next event starts: the idle period starts now."""
        self._since = self._loop.time()
        self._pending = True

    def received(self) -> None:
        """The read returned an event."""
        self._pending = False

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        now = self._loop.time()
        due = self._since + self._idle
        if not self._pending:
            self._timer = self._loop.call_at(now + self._idle, self._check)
        elif now >= due:
            self._timer = None
            self.expired = True
            self._response.close()
        else:
            self._timer = self._loop.call_at(due, self._check)


def transport_error(exc: BaseException) -> UpstreamError:
    """A connection-level failure before any response."""
    if isinstance(exc, asyncio.TimeoutError):
        return UpstreamTimeout("The upstream provider timed out.")
    return UpstreamUnreachable()


def retry_after(headers: Mapping[str, str]) -> float:
    """Seconds from `retry-after-ms` or `retry-after` (0 when absent or a date)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return 0.0


def _str_field(error: dict[str, Any], key: str) -> str | None:
    value = error.get(key)
    return value if isinstance(value, str) else None


def map_error(status: int, payload: bytes, headers: Mapping[str, str]) -> GatewayError:
    """Turn an upstream error response into the error OpenAI would give our client.

    Client-fault errors (400/404/409/422) pass through with the upstream's
    wording, since they are about the client's own request. Credential, quota
    and rate-limit failures belong to the gateway's account: the client gets
    our wording, never the upstream's, which can name keys or organisations.
    """
    error: dict[str, Any] = {}
    try:
        decoded = orjson.loads(payload.strip() or b"{}")
        if isinstance(decoded, dict) and isinstance(decoded.get("error"), dict):
            error = decoded["error"]
    except orjson.JSONDecodeError:
        pass
    message, code, param, kind = (_str_field(error, k) for k in ("message", "code", "param", "type"))
    if status in (400, 404, 409, 422):
        if code == "context_length_exceeded" or kind in _CONTEXT_OVERFLOW_TYPES:
            return ContextOverflow(message or CONTEXT_LENGTH_EXCEEDED_MESSAGE)
        return UpstreamRejected(
            message or "The upstream provider rejected the request.",
            status=400 if status == 404 else status,
            code=code,
            param=param,
        )
    if status in (401, 403):
        return UpstreamAuthenticationFailed()
    if status == 402 or code in ("insufficient_quota", "credit_balance_exhausted"):
        return UpstreamQuotaExhausted()
    if status == 429:
        return RateLimited(
            "Rate limit reached upstream. Please try again later.",
            limit="tokens" if kind == "tokens" else "requests",
            retry_after=retry_after(headers),
        )
    if status == 503:
        return UpstreamOverloaded("The upstream provider is overloaded. Please try again later.", retry_after=retry_after(headers))
    return UpstreamServerError("The upstream provider had an error while processing your request.", status=status)


# llama.cpp's server names an input over its window by the error's `type`.
_CONTEXT_OVERFLOW_TYPES = frozenset({"exceed_context_size_error"})
