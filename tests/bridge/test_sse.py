"""Streamed creates: SSE framing, batches, failures before and after the stream began, clients that leave."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.bridge.server import run_bridge
from responses_gateway.config import Settings
from responses_gateway.errors import SERVER_ERROR_MESSAGE, RateLimited, ServiceUnreachable
from tests.bridge.fakes import FakeBackend, Step, completed, created, delta, error_of, events_of, in_progress, sse_frames

Client = TestClient[web.Request, web.Application]
STREAM = {"model": "gpt-test", "input": "Say hello", "stream": True}
TIMEOUT = 5


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(e["type"], e["sequence_number"]) for e in events]


async def test_a_streamed_create_sends_each_event_as_an_sse_frame_in_order_then_done(
    client: Client, backend: FakeBackend
) -> None:
    backend.stream = [
        [created(0), in_progress(1)],
        [delta(2, "Hel"), delta(3, "lo!")],
        [completed(4)],
    ]

    resp = await client.post("/v1/responses", json=STREAM)

    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert resp.headers["x-request-id"].startswith("req_")
    assert resp.headers["openai-version"] == "2020-10-01"
    raw = await resp.read()
    assert raw.startswith(b"event: response.created\ndata: {")
    assert raw.endswith(b"\n\ndata: [DONE]\n\n")
    frames = sse_frames(raw)
    assert frames[-1] == (None, b"[DONE]")
    events = events_of(frames)
    assert kinds(events) == [
        ("response.created", 0),
        ("response.in_progress", 1),
        ("response.output_text.delta", 2),
        ("response.output_text.delta", 3),
        ("response.completed", 4),
    ]
    assert [e["delta"] for e in events[2:4]] == ["Hel", "lo!"]
    assert events[2] == {
        "type": "response.output_text.delta",
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "delta": "Hel",
        "logprobs": [],
        "sequence_number": 2,
    }
    assert events[0]["response"]["status"] == "in_progress"
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "Hello!"
    [sent] = backend.requests("stream_response")
    assert sent == pb.CreateResponseRequest(model="gpt-test", input_text="Say hello", stream=True)
    assert backend.requests("create_response") == []
    assert backend.stream_exit is None


async def test_the_events_of_a_batch_reach_the_client_while_the_service_works_on_the_next(
    client: Client, backend: FakeBackend
) -> None:
    next_batch = asyncio.Event()
    backend.stream = [[created(0), in_progress(1), delta(2, "Hi")], next_batch, [completed(3)]]

    resp = await client.post("/v1/responses", json=STREAM)
    first = [await asyncio.wait_for(resp.content.readuntil(b"\n\n"), TIMEOUT) for _ in range(3)]
    next_batch.set()
    rest = await resp.read()

    assert kinds(events_of(sse_frames(b"".join(first)))) == [
        ("response.created", 0),
        ("response.in_progress", 1),
        ("response.output_text.delta", 2),
    ]
    assert kinds(events_of(sse_frames(rest))) == [("response.completed", 3)]
    assert rest.endswith(b"data: [DONE]\n\n")


async def test_a_batch_goes_out_in_a_single_write(
    client: Client, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[bytes] = []
    write = web.StreamResponse.write

    async def recording_write(self: web.StreamResponse, data: bytes | bytearray | memoryview) -> None:
        writes.append(bytes(data))
        await write(self, data)

    monkeypatch.setattr(web.StreamResponse, "write", recording_write)
    backend.stream = [[created(0), in_progress(1)], [delta(2, "a"), delta(3, "b"), delta(4, "c")], [completed(5)]]

    resp = await client.post("/v1/responses", json=STREAM)
    await resp.read()

    assert [kinds(events_of(sse_frames(w))) for w in writes] == [
        [("response.created", 0), ("response.in_progress", 1)],
        [("response.output_text.delta", 2), ("response.output_text.delta", 3), ("response.output_text.delta", 4)],
        [("response.completed", 5)],
    ]


async def test_an_error_before_the_stream_begins_is_a_plain_json_error(client: Client, backend: FakeBackend) -> None:
    backend.stream = [RateLimited("Rate limit reached for requests.", retry_after=1.5)]

    resp = await client.post("/v1/responses", json=STREAM)

    assert resp.status == 429
    assert resp.content_type == "application/json"
    assert (resp.headers["retry-after"], resp.headers["retry-after-ms"]) == ("2", "1500")
    assert resp.headers["x-request-id"].startswith("req_")
    assert await error_of(resp) == {
        "message": "Rate limit reached for requests.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }


async def test_a_stream_that_ends_before_its_first_event_is_a_500(client: Client, backend: FakeBackend) -> None:
    backend.stream = []

    resp = await client.post("/v1/responses", json=STREAM)

    assert resp.status == 500
    assert resp.content_type == "application/json"
    assert await error_of(resp) == {
        "message": "The response stream ended before it began.",
        "type": "server_error",
        "param": None,
        "code": "server_error",
    }


async def test_a_service_lost_mid_stream_ends_the_stream_with_error_then_response_failed(
    client: Client, backend: FakeBackend
) -> None:
    backend.stream = [
        [created(0, id="resp_42"), in_progress(1, id="resp_42")],
        [delta(2, "Hel"), delta(3, "lo")],
        ServiceUnreachable(),
    ]

    resp = await client.post("/v1/responses", json=STREAM)

    assert resp.status == 200
    frames = sse_frames(await resp.read())
    assert frames[-1] == (None, b"[DONE]")
    events = events_of(frames)
    assert kinds(events) == [
        ("response.created", 0),
        ("response.in_progress", 1),
        ("response.output_text.delta", 2),
        ("response.output_text.delta", 3),
        ("error", 4),
        ("response.failed", 5),
    ]
    message = "The responses service is unavailable. Please try again."
    assert events[4] == {
        "type": "error",
        "code": "service_unavailable",
        "message": message,
        "param": None,
        "error": {"type": "service_unavailable_error", "code": "service_unavailable", "message": message, "param": None},
        "sequence_number": 4,
    }
    failed = events[5]["response"]
    assert (failed["id"], failed["model"], failed["status"]) == ("resp_42", "gpt-test", "failed")
    assert failed["error"] == {"code": "service_unavailable", "message": message}


async def test_an_unexpected_exception_mid_stream_fails_the_response_without_its_detail(
    client: Client, backend: FakeBackend
) -> None:
    backend.stream = [[created(0)], [delta(1, "Hel")], RuntimeError("secret detail")]

    resp = await client.post("/v1/responses", json=STREAM)

    raw = await resp.read()
    assert b"secret detail" not in raw
    events = events_of(sse_frames(raw))
    assert kinds(events)[-2:] == [("error", 2), ("response.failed", 3)]
    assert (events[-2]["code"], events[-2]["message"]) == ("server_error", SERVER_ERROR_MESSAGE)
    assert events[-1]["response"]["error"] == {"code": "server_error", "message": SERVER_ERROR_MESSAGE}
    assert raw.endswith(b"data: [DONE]\n\n")


# --- clients that leave ------------------------------------------------------

LEFT = (GeneratorExit, asyncio.CancelledError)


async def test_a_client_leaving_while_the_service_waits_on_the_upstream_closes_the_services_stream(
    client: Client, backend: FakeBackend
) -> None:
    backend.stream = [[created(0), in_progress(1)], asyncio.Event()]  # the upstream never answers again

    resp = await client.post("/v1/responses", json=STREAM)
    await asyncio.wait_for(resp.content.readuntil(b"\n\n"), TIMEOUT)
    assert not backend.stream_finished.is_set()
    resp.close()

    await asyncio.wait_for(backend.stream_finished.wait(), TIMEOUT)
    assert backend.stream_exit in LEFT


def _endless() -> Iterator[Step]:
    """A service that keeps producing deltas until it is stopped."""
    yield [created(0)]
    for seq in itertools.count(1):
        yield 0.005
        yield [delta(seq, "tick ")]


async def test_a_client_leaving_while_events_flow_stops_the_services_work(client: Client, backend: FakeBackend) -> None:
    backend.stream = _endless()

    resp = await client.post("/v1/responses", json=STREAM)
    for _ in range(5):
        await asyncio.wait_for(resp.content.readuntil(b"\n\n"), TIMEOUT)
    resp.close()

    await asyncio.wait_for(backend.stream_finished.wait(), TIMEOUT)
    assert backend.stream_exit in LEFT
    produced = backend.batches_yielded
    await asyncio.sleep(0.05)
    assert backend.batches_yielded == produced


async def test_a_client_leaving_the_served_bridge_closes_the_services_stream(backend: FakeBackend) -> None:
    backend.stream = [[created(0)], asyncio.Event()]

    async with run_bridge(Settings(http_port=0), backend) as bridge, aiohttp.ClientSession() as session:
        resp = await session.post(f"http://127.0.0.1:{bridge.http_port}/v1/responses", json=STREAM)
        assert resp.status == 200
        await asyncio.wait_for(resp.content.readuntil(b"\n\n"), TIMEOUT)
        resp.close()

        await asyncio.wait_for(backend.stream_finished.wait(), TIMEOUT)
    assert backend.stream_exit in LEFT


def _flood() -> Iterator[Step]:
    """A service producing faster than the client reads: big batches, no pause."""
    yield [created(0)]
    for seq in itertools.count(1):
        yield [delta(seq, "x" * 256 * 1024)]


async def _until_stalled(backend: FakeBackend) -> None:
    """Wait until the bridge stops pulling batches (its writes wait for a client that does not read)."""
    seen = -1
    while backend.batches_yielded != seen:
        seen = backend.batches_yielded
        await asyncio.sleep(0.1)


async def test_a_client_that_stops_reading_and_leaves_closes_the_services_stream(client: Client, backend: FakeBackend) -> None:
    backend.stream = _flood()

    resp = await client.post("/v1/responses", json=STREAM)
    await asyncio.wait_for(resp.content.readuntil(b"\n\n"), TIMEOUT)
    await asyncio.wait_for(_until_stalled(backend), TIMEOUT)
    assert not backend.stream_finished.is_set()
    resp.close()

    await asyncio.wait_for(backend.stream_finished.wait(), TIMEOUT)
    # The bridge was writing, not waiting on the service: it closed the stream itself.
    assert backend.stream_exit is GeneratorExit
