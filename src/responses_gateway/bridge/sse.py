"""The SSE writer: proto events out as `event:`/`data:` frames, then `data: [DONE]`."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator

from aiohttp import web

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.bridge.access import note_terminal
from responses_gateway.codec import event_to_sse
from responses_gateway.errors import GatewayError, InternalError, set_failed

DONE = b"data: [DONE]\n\n"
log = logging.getLogger(__name__)


async def write_sse(
    request: web.Request,
    first: list[epb.ResponseStreamEvent],
    batches: AsyncIterator[list[epb.ResponseStreamEvent]],
    headers: dict[str, str] | None = None,
) -> web.StreamResponse:
    """Stream events already started by the service; the first batch is in hand.

    Each batch (what the service produced at once, e.g. a burst from one
    upstream read) goes out in a single write.

    The service ends every stream with one terminal event. If the transport to
    it breaks mid-way (remote backend), the bridge ends the stream itself with
    an `error` event and `response.failed`, so clients always see a terminal event.
    `headers`: the call's own (rate-limit state), sent with the stream's.
    """
    response = web.StreamResponse(
        headers={
            **(headers or {}),
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            "x-request-id": f"req_{secrets.token_hex(16)}",
            "openai-version": "2020-10-01",
        }
    )
    await response.prepare(request)
    start = first[0]
    last = first[-1]
    try:
        await response.write(_frames(first))
        note_terminal(request, last)  # a client may hang up as soon as it has the terminal event
        try:
            async for batch in batches:
                last = batch[-1]
                await response.write(_frames(batch))
                note_terminal(request, last)
        except ConnectionResetError:
            raise  # a write to a client that went away, not a failure of the stream
        except GatewayError as exc:
            await _write_failure(response, start, last, exc)
        except Exception:
            log.exception("the event stream failed")
            await _write_failure(response, start, last, InternalError())
        await response.write_eof(DONE)
    except ConnectionResetError:
        # The client went away: the caller closes the batches, which cancels the upstream call.
        log.debug("client disconnected mid-stream")
    return response


def _frames(batch: list[epb.ResponseStreamEvent]) -> bytes:
    return b"".join(map(event_to_sse, batch))


async def _write_failure(
    response: web.StreamResponse, first: epb.ResponseStreamEvent, last: epb.ResponseStreamEvent, exc: GatewayError
) -> None:
    seq = last.sequence_number + 1
    await response.write(event_to_sse(epb.ResponseStreamEvent(sequence_number=seq, error=epb.ErrorEvent(error=exc.to_detail()))))
    failed = epb.ResponseStreamEvent(sequence_number=seq + 1)
    failed.failed.response.CopyFrom(first.created.response)
    set_failed(failed.failed.response, exc.to_detail())
    await response.write(event_to_sse(failed))
