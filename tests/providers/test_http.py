"""Upstream streams: the idle timeout counts only time spent waiting for the upstream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from responses_gateway.config import ProviderConfig, Timeouts
from responses_gateway.errors import UpstreamError
from responses_gateway.providers.http import UpstreamHTTP
from tests.providers._aiohttp_upstream import serving
from tests.upstreams.openai_responses import FakeOpenAIResponses

BODY = {"model": "gpt-5.4", "input": "one two three four five", "stream": True}


async def upstream(token_delay_ms: float, idle: float) -> AsyncIterator[tuple[FakeOpenAIResponses, UpstreamHTTP]]:
    fake = FakeOpenAIResponses(api_key="sk-test", token_delay_ms=token_delay_ms)
    base_url = await fake.start()
    config = ProviderConfig(name="openai", type="openai_responses", base_url=base_url, timeouts=Timeouts(idle=idle, first_token=5))
    http = UpstreamHTTP(config, "sk-test")
    try:
        yield fake, http
    finally:
        await http.aclose()
        await fake.close()


async def test_a_slow_consumer_is_not_an_idle_upstream() -> None:
    async for _fake, http in upstream(token_delay_ms=0, idle=0.2):
        events = []
        async for data in http.stream_sse("/responses", BODY):
            events.append(data)
            await asyncio.sleep(0.05 if len(events) > 3 else 0.3)  # the client is slower than the idle timeout
        assert events[-1] == b"[DONE]" or b"response.completed" in events[-1]


async def test_an_upstream_that_stops_sending_ends_with_an_idle_timeout() -> None:
    async for _fake, http in upstream(token_delay_ms=600, idle=0.2):
        got = 0
        with pytest.raises(UpstreamError) as raised:
            async for _ in http.stream_sse("/responses", BODY):
                got += 1
        assert got >= 1
        assert raised.value.code == "upstream_timeout"


async def test_the_next_read_may_come_from_another_task() -> None:
    """The bridge reads the first event in the request's task and the rest in a task of its own."""
    async for _fake, http in upstream(token_delay_ms=10, idle=0.5):
        events = aiter(http.stream_sse("/responses", BODY))
        first = await anext(events)
        assert first

        async def rest() -> int:
            return sum([1 async for _ in events])

        assert await asyncio.create_task(rest()) > 3


async def test_a_stream_left_after_its_terminal_event_keeps_its_connection_for_the_next_call() -> None:
    """The service stops reading at `response.completed`; the body's end, sent a moment later, is read aside."""
    peers: set[object] = set()

    async def late_end(request: web.Request) -> web.StreamResponse:
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'data: {"type":"response.completed"}\n\n')
        await asyncio.sleep(0.05)  # a proxy on the way flushes the body's last chunk separately
        await response.write_eof()
        return response

    async with serving(late_end) as base_url:
        http = UpstreamHTTP(ProviderConfig(name="openai", type="openai_responses", base_url=base_url), "k")
        try:
            for _ in range(4):
                async with contextlib.aclosing(http.stream_sse("/responses", BODY)) as events:
                    async for data in events:
                        assert b"response.completed" in data
                        break  # as the service does: nothing after the terminal event is needed
                await asyncio.sleep(0.1)
            assert len(peers) == 1
        finally:
            await http.aclose()


async def test_a_consumer_that_stops_mid_stream_still_ends_the_upstream_call() -> None:
    async for fake, http in upstream(token_delay_ms=200, idle=5):
        async with contextlib.aclosing(http.stream_sse("/responses", BODY)) as events:
            async for _ in events:
                break
        for _ in range(100):
            if fake.cancelled_streams:
                break
            await asyncio.sleep(0.02)
        assert fake.cancelled_streams == 1
