"""Server-sent events reader for upstream HTTP bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

# A terminal event repeats the whole output, so one line can be large; beyond
# this the upstream is misbehaving and the stream is refused.
MAX_EVENT_BYTES = 64 * 1024 * 1024


class SSEProtocolError(Exception):
    """The upstream body is not a well-formed event stream."""


async def iter_sse_data(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Yield the `data` payload of each event; comments and other fields are skipped.

    Reads raw chunks rather than aiohttp's line iterator, whose line length
    limit (128 KiB) a large `response.completed` event would exceed.
    """
    buffer = b""
    data: list[bytes] = []
    async for chunk in response.content.iter_any():
        buffer += chunk
        if b"\n" not in chunk:
            if len(buffer) > MAX_EVENT_BYTES:
                raise SSEProtocolError("an upstream event exceeded the size limit")
            continue
        *lines, buffer = buffer.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r")
            if not line:
                if data:
                    yield b"\n".join(data)
                    data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
            # `event:`, `id:`, `retry:` and `:` comments carry nothing we need:
            # the JSON payload repeats the event type.
    if buffer.startswith(b"data:"):
        value = buffer[5:]
        data.append(value[1:] if value.startswith(b" ") else value)
    if data:
        yield b"\n".join(data)
