"""The SSE writer: proto events out as `event:`/`data:` frames, then `data: [DONE]`."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator

from aiohttp import web

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.codec import event_to_sse
from responses_gateway.errors import GatewayError, InternalError

DONE = b"data: [DONE]\n\n"
log = logging.getLogger(__name__)


# Past this many bytes waiting for a slow client, the stream stops reading from the service.
HIGH_WATER = 256 * 1024


class _Frames:
    """SSE frames waiting to be written: whatever piled up since the last write goes out as one."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.ready = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()
        self.done = False
        self.error: GatewayError | None = None
        self.last: epb.ResponseStreamEvent | None = None

    def add(self, frame: bytes) -> None:
        self.parts.append(frame)
        self.size += len(frame)
        self.ready.set()

    def take(self) -> bytes:
        chunk = b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        self.room.set()
        return chunk


async def _produce(frames: _Frames, events: AsyncIterator[epb.ResponseStreamEvent]) -> None:
    try:
        async for event in events:
            frames.last = event
            frames.add(event_to_sse(event))
            if frames.size > HIGH_WATER:
                frames.room.clear()
                await frames.room.wait()
    except GatewayError as exc:
        frames.error = exc
    except Exception:
        log.exception("the event stream failed")
        frames.error = InternalError("The server had an error while processing your request.")
    finally:
        frames.done = True
        frames.ready.set()


async def write_sse(
    request: web.Request, first: epb.ResponseStreamEvent, events: AsyncIterator[epb.ResponseStreamEvent]
) -> web.StreamResponse:
    """Stream events already started by the service; the first one is in hand.

    Events are read from the service by a task of their own and written by
    this one, so that every event produced while a write was pending (a burst
    from one upstream read) goes out in a single write instead of one each.

    The service ends every stream with one terminal event. If the transport to
    it breaks mid-way (remote backend), the bridge ends the stream itself with
    an `error` event and `response.failed`, so clients always see a terminal event.
    """
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            "x-request-id": f"req_{secrets.token_hex(16)}",
            "openai-version": "2020-10-01",
        }
    )
    await response.prepare(request)
    frames = _Frames()
    frames.add(event_to_sse(first))
    producer = asyncio.create_task(_produce(frames, events))
    try:
        while True:
            await frames.ready.wait()
            frames.ready.clear()
            chunk = frames.take()
            if chunk:
                await response.write(chunk)
            if frames.done and not frames.parts:
                break
        if frames.error is not None:
            await _write_failure(response, first, frames.last or first, frames.error)
        await response.write(DONE)
        await response.write_eof()
    except ConnectionResetError:
        # The client went away: the caller closes the events, which cancels the upstream call.
        log.debug("client disconnected mid-stream")
    finally:
        if not producer.done():
            producer.cancel()
        # The events are closed by the caller only once nothing is reading them.
        await asyncio.gather(producer, return_exceptions=True)
    return response


async def _write_failure(
    response: web.StreamResponse, first: epb.ResponseStreamEvent, last: epb.ResponseStreamEvent, exc: GatewayError
) -> None:
    seq = last.sequence_number + 1
    await response.write(event_to_sse(epb.ResponseStreamEvent(sequence_number=seq, error=epb.ErrorEvent(error=exc.to_detail()))))
    failed = epb.ResponseStreamEvent(sequence_number=seq + 1)
    failed.failed.response.CopyFrom(first.created.response)
    failed.failed.response.status = "failed"
    failed.failed.response.error.code = exc.code or "server_error"
    failed.failed.response.error.message = exc.message
    failed.failed.response.usage.SetInParent()
    await response.write(event_to_sse(failed))
