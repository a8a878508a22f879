"""Hostile input at the HTTP layer: every one gets a 4xx with OpenAI's error body (or a closed connection), never a 500 or a hang.

Real sockets in front of the bridge app over a fake backend; what never reaches
the backend is checked by its recorded calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from responses_gateway.bridge.server import run_bridge
from responses_gateway.config import Settings
from tests.bridge.fakes import FakeBackend, error_of, serve

Client = TestClient[web.Request, web.Application]

BODY = orjson.dumps({"model": "gpt-test", "input": "Say hello"})


@pytest.fixture(autouse=True)
def no_unhandled_errors(caplog: pytest.LogCaptureFixture) -> Any:
    """No hostile input may reach the catch-all (which answers 500 and logs a traceback)."""
    with caplog.at_level(logging.ERROR):
        yield
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def post(client: Client, data: bytes, **headers: str) -> Any:
    return await client.post("/v1/responses", data=data, headers={"Content-Type": "application/json", **headers})


# --- Content-Encoding ---------------------------------------------------------------


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        pytest.param("gzip", gzip.compress(BODY), id="gzip"),
        pytest.param("x-gzip", gzip.compress(BODY), id="x-gzip"),
        pytest.param("GZip", gzip.compress(BODY), id="gzip in capitals"),
        pytest.param("deflate", zlib.compress(BODY), id="deflate"),
        pytest.param("deflate", raw_deflate(BODY), id="deflate without its zlib header"),
        pytest.param("identity", BODY, id="identity"),
    ],
)
async def test_a_compressed_body_is_decompressed(client: Client, backend: FakeBackend, encoding: str, data: bytes) -> None:
    resp = await post(client, data, **{"Content-Encoding": encoding})

    assert resp.status == 200, await resp.read()
    [sent] = backend.requests("create_response")
    assert sent is not None and sent.input_text == "Say hello"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("encoding", "data", "code"),
    [
        pytest.param("gzip", b"this is not gzip", "invalid_content_encoding", id="gzip that is not gzip"),
        pytest.param("gzip", gzip.compress(BODY)[:-12], "invalid_content_encoding", id="gzip cut short"),
        pytest.param("gzip", gzip.compress(BODY) + b"garbage", "invalid_content_encoding", id="gzip with garbage after"),
        pytest.param("deflate", b"this is not deflate", "invalid_content_encoding", id="deflate that is not deflate"),
        pytest.param("deflate", zlib.compress(BODY)[:-4], "invalid_content_encoding", id="deflate cut short"),
        pytest.param("br", b"\x0b\x02\x80hello\x03", "unsupported_content_encoding", id="brotli"),
        pytest.param("zstd", b"\x28\xb5\x2f\xfd", "unsupported_content_encoding", id="zstandard"),
        pytest.param("compress", BODY, "unsupported_content_encoding", id="an encoding nobody uses"),
        pytest.param("gzip, gzip", gzip.compress(gzip.compress(BODY)), "unsupported_content_encoding", id="two encodings"),
    ],
)
async def test_a_body_that_is_not_what_its_content_encoding_says_is_a_400(
    client: Client, backend: FakeBackend, encoding: str, data: bytes, code: str
) -> None:
    resp = await post(client, data, **{"Content-Encoding": encoding})

    assert resp.status == 400, await resp.read()
    error = await error_of(resp)
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code
    assert backend.calls == []


async def test_a_compressed_body_that_inflates_past_the_size_limit_is_a_413_without_inflating_it_all(
    backend: FakeBackend,
) -> None:
    limit = 1024 * 1024
    # 256 MiB of JSON in about 250 KiB of gzip: a "zip bomb" well under the limit on the wire.
    bomb = gzip.compress(b'{"model":"gpt-test","input":"' + b"a" * (256 * 1024 * 1024) + b'"}', compresslevel=9)
    assert len(bomb) < limit
    async with serve(backend, max_body_bytes=limit) as client:
        tracemalloc.start()
        try:
            resp = await post(client, bomb, **{"Content-Encoding": "gzip"})
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

        assert resp.status == 413
        assert (await error_of(resp))["code"] == "request_too_large"
        assert peak < 16 * limit, f"peak {peak / 2**20:.0f} MiB while refusing a body limited to 1 MiB"
        assert backend.calls == []


async def test_a_compressed_body_just_under_the_limit_is_accepted(backend: FakeBackend) -> None:
    limit = 64 * 1024
    body = b'{"model":"gpt-test","input":"' + b"a" * (limit - 40) + b'"}'
    assert len(body) <= limit
    async with serve(backend, max_body_bytes=limit) as client:
        resp = await post(client, gzip.compress(body), **{"Content-Encoding": "gzip"})

        assert resp.status == 200, await resp.read()


# --- a request that does not arrive as announced, or arrives too slowly ------------------

READ_TIMEOUT = 0.5


@pytest.fixture
async def slow_client(backend: FakeBackend) -> Any:
    """The bridge with a short read timeout."""
    async with serve(backend, read_timeout=READ_TIMEOUT) as client:
        yield client


async def exchange(port: int, request: bytes, *, half_close: bool = False, timeout: float = 10) -> bytes:
    """Send raw bytes on a fresh connection; everything the server answers before closing it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        if half_close:
            writer.write_eof()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


async def received(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes (a reset after a reply still leaves the reply)."""
    data = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            data += chunk
    return data


async def trickle(client: Client, first: bytes, byte: bytes, *, seconds: float = 5) -> tuple[bytes, float]:
    """Send `first`, then `byte` every 0.1 s until the server closes (or `seconds` pass): its reply, and when it closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    started = time.monotonic()
    reply = asyncio.create_task(received(reader))
    try:
        writer.write(first)
        while not reply.done() and time.monotonic() - started < seconds:
            with contextlib.suppress(ConnectionError):
                writer.write(byte)
                await writer.drain()
            await asyncio.sleep(0.1)
        return await asyncio.wait_for(reply, 5), time.monotonic() - started
    finally:
        writer.close()


def head(length: int, *, extra: str = "") -> bytes:
    return (
        "POST /v1/responses HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode()


async def test_a_body_shorter_than_its_content_length_then_eof_is_no_500_and_no_hang(
    client: Client, backend: FakeBackend
) -> None:
    reply = await exchange(client.port, head(len(BODY) + 100) + BODY, half_close=True)

    # The client said it was done sending: the request cannot be answered, only closed (or refused).
    assert reply == b"" or reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert backend.calls == []


# --- large bodies are decoded off the event loop, with the same outcomes ------------------

LARGE_TEXT = "a" * (200 * 1024)  # past bridge.body.INLINE_BYTES


async def test_a_large_body_is_decoded_like_a_small_one(client: Client, backend: FakeBackend) -> None:
    resp = await post(client, orjson.dumps({"model": "gpt-test", "input": LARGE_TEXT}))

    assert resp.status == 200, await resp.read()
    [sent] = backend.requests("create_response")
    assert sent is not None and sent.input_text == LARGE_TEXT  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("path", "data", "param", "code"),
    [
        pytest.param("/v1/responses", b'{"model":"gpt-test","input":"' + LARGE_TEXT.encode(), None, "invalid_json", id="broken JSON"),
        pytest.param(
            "/v1/responses",
            orjson.dumps({"model": "gpt-test", "input": LARGE_TEXT, "temperature": "hot"}),
            "temperature",
            "invalid_type",
            id="a param of the wrong type",
        ),
        pytest.param(
            "/v1/responses/input_tokens",
            orjson.dumps({"input": LARGE_TEXT, "stream": True}),
            "stream",
            "unknown_parameter",
            id="a count with a create-only field",
        ),
        pytest.param(
            "/v1/responses",
            orjson.dumps({"model": "gpt-test", "input": LARGE_TEXT, "tools": [{"type": "web_search"}] * 129}),
            "tools",
            "array_above_max_length",
            id="129 tools",
        ),
    ],
)
async def test_a_large_bad_body_is_refused_like_a_small_one(
    client: Client, backend: FakeBackend, path: str, data: bytes, param: str | None, code: str
) -> None:
    resp = await client.post(path, data=data, headers={"Content-Type": "application/json"})

    assert resp.status == 400
    error = await error_of(resp)
    assert (error["param"], error["code"]) == (param, code)
    assert backend.calls == []


async def test_a_client_trickling_its_headers_is_disconnected(slow_client: Client, backend: FakeBackend) -> None:
    # A byte every 0.1 s: never idle for long, never done.
    reply, closed_after = await trickle(slow_client, b"POST /v1/responses HTTP/1.1\r\nHost: gw\r\nX-Slow: ", b"a")

    assert closed_after < READ_TIMEOUT + 2, "the connection outlived the read timeout"
    assert reply == b"" or reply.startswith(b"HTTP/1.1 4"), reply[:200]
    assert backend.calls == []


async def test_a_client_that_sends_half_its_headers_and_waits_is_disconnected(slow_client: Client, backend: FakeBackend) -> None:
    started = time.monotonic()
    reply = await exchange(slow_client.port, b"POST /v1/responses HTTP/1.1\r\nHost: gw\r\n", timeout=10)

    assert time.monotonic() - started < READ_TIMEOUT + 2
    assert reply == b"" or reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert backend.calls == []


async def test_a_client_that_stops_sending_its_body_gets_a_408(slow_client: Client, backend: FakeBackend) -> None:
    started = time.monotonic()
    reply = await exchange(slow_client.port, head(len(BODY) + 100) + BODY, timeout=10)

    assert time.monotonic() - started < READ_TIMEOUT + 2
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert b'"type":"invalid_request_error"' in reply
    assert b"connection: close" in reply.lower()
    assert backend.calls == []


async def test_a_client_trickling_its_body_gets_a_408(slow_client: Client, backend: FakeBackend) -> None:
    reply, closed_after = await trickle(slow_client, head(len(BODY) * 100), b" ")

    assert closed_after < READ_TIMEOUT + 3, "the connection outlived the read timeout"
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert b'"code":"request_timeout"' in reply
    assert backend.calls == []


async def test_a_keep_alive_connection_serves_requests_after_the_read_timeout(slow_client: Client, backend: FakeBackend) -> None:
    """The timeout bounds reading one request; a prompt client on a reused connection is not cut off."""
    for _ in range(6):
        resp = await post(slow_client, BODY)
        assert resp.status == 200
        await asyncio.sleep(READ_TIMEOUT / 4)
    assert len(backend.requests("create_response")) == 6


async def test_a_chunked_body_whose_framing_breaks_midway_is_no_hang(slow_client: Client, backend: FakeBackend) -> None:
    """aiohttp's parser drops the body it was feeding (the handler would wait for it forever): the read timeout ends it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", slow_client.port)
    try:
        writer.write(
            b"POST /v1/responses HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"mod\r\n"
        )
        await writer.drain()
        await asyncio.sleep(0.2)  # the handler is reading the body by now
        writer.write(b"zz\r\nel\"\r\n0\r\n\r\n")
        reply = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()

    assert reply.startswith((b"HTTP/1.1 400", b"HTTP/1.1 408")), reply[:300]
    assert b'"type":"invalid_request_error"' in reply
    assert backend.calls == []


async def test_a_body_shorter_than_its_content_length_then_a_closed_connection_is_no_500(
    client: Client, backend: FakeBackend
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(head(len(BODY) + 100) + BODY)
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.2)  # the handler meets the closed connection

    resp = await post(client, BODY)  # and the bridge goes on serving
    assert resp.status == 200
    assert len(backend.calls) == 1


async def test_the_listener_applies_the_configured_read_timeout(tmp_path: Path, backend: FakeBackend) -> None:
    settings = Settings(
        http_port=0, http_read_timeout=READ_TIMEOUT, database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"
    )
    async with run_bridge(settings, backend) as bridge:  # type: ignore[arg-type]
        started = time.monotonic()
        half_headers, stalled_body = await asyncio.gather(
            exchange(bridge.http_port, b"POST /v1/responses HTTP/1.1\r\nHost: gw\r\n"),
            exchange(bridge.http_port, head(len(BODY) + 100) + BODY),
        )
        assert time.monotonic() - started < READ_TIMEOUT + 2

    assert half_headers == b"" or half_headers.startswith(b"HTTP/1.1 4"), half_headers[:200]
    assert stalled_body.startswith(b"HTTP/1.1 408"), stalled_body[:200]
    assert backend.calls == []
