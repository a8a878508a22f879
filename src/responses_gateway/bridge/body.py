"""A request body as the bridge takes it: read within the size limit, decompressed within it,
decoded off the event loop when it is large.

aiohttp's own decompression is off (`auto_decompress=False` in create_app):
it let a body that was not what its Content-Encoding said reach the handler
as an exception the error middleware knew nothing of (a 500), and answered
an encoding it lacks (br, zstd) in plain text. Here every such body gets
OpenAI's error body, and a compressed body is inflated only as far as the
limit allows ("zip bombs" stop at `max_body_bytes` + 1 bytes).

Decoding (inflating, parsing, building the proto) costs about a second per
30 MiB of small JSON values on this hardware; on the event loop that second
would stall every other request, health checks included. Bodies above
INLINE_BYTES are decoded in one worker thread instead (one: big bodies queue
for it rather than multiply the memory they take), where the loop gets the
GIL back every few milliseconds, except during a single parse call.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from aiohttp import web

from responses_gateway.errors import BadHTTPRequest, GatewayError, InvalidRequest, RequestTooLarge

T = TypeVar("T")

# Seconds a client has to send a request's body once its headers are in (set by create_app).
READ_TIMEOUT = web.AppKey("read_timeout", float)
# A body up to this size (not compressed) is decoded on the loop: below it a thread hop costs more than the decoding.
INLINE_BYTES = 64 * 1024
_DECODER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="body-decoder")

_GZIP = 16 + zlib.MAX_WBITS
# Content codings the bridge reads, by their zlib window bits.
_WBITS = {"gzip": _GZIP, "x-gzip": _GZIP, "deflate": zlib.MAX_WBITS}


async def decode_body(request: web.Request, decode: Callable[[bytes], T]) -> T:
    """`decode` of the (inflated) body: on the loop for a small plain body, in the decoder thread otherwise."""
    coding = content_coding(request)
    raw = await read_body(request)
    if coding == "identity" and len(raw) <= INLINE_BYTES:
        return decode(raw)
    limit = request.client_max_size
    return await asyncio.get_running_loop().run_in_executor(_DECODER, _decode_large, raw, coding, limit, decode)


def _decode_large(raw: bytes, coding: str, limit: int, decode: Callable[[bytes], T]) -> T:
    with _collection_paused():
        try:
            return decode(inflate(raw, coding, limit))
        except GatewayError as exc:
            # The traceback's frames hold the parsed body: dropped here, it is freed in this thread,
            # not on the event loop once the refusal has been answered (~40 ms for 100,000 tools).
            raise exc.with_traceback(None)


_pause_lock = threading.Lock()
_pauses = 0
_collecting = True


@contextlib.contextmanager
def _collection_paused() -> Iterator[None]:
    """No garbage collection while a large body decodes.

    Parsing builds a tree of fresh containers with no cycles in it; the
    collections its allocations trigger only re-scan them, holding the GIL
    (they made a 6 MiB body with 100,000 tools take 5× as long to parse).
    """
    global _pauses, _collecting
    with _pause_lock:
        if _pauses == 0:
            _collecting = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _collecting:
                gc.enable()


async def read_body(request: web.Request) -> bytes:
    """The raw body (still compressed, if it is), at most `client_max_size` bytes on the wire (413 past it),
    within READ_TIMEOUT seconds (408 past it: a client trickling its body, or one that sent less than its
    Content-Length and waits, would otherwise hold the connection and this handler forever)."""
    try:
        async with asyncio.timeout(request.app[READ_TIMEOUT]):
            return await request.read()
    except TimeoutError:
        error = BadHTTPRequest("The request body was not received in time.", status=408)
        error.code = "request_timeout"
        raise error from None
    except (web.RequestPayloadError, ConnectionResetError):
        # A chunked body that breaks its framing, or a client gone before its Content-Length was sent.
        raise BadHTTPRequest("The request body could not be read in full.", status=400) from None


def content_coding(request: web.Request) -> str:
    """The body's Content-Encoding, checked before the body is read: one coding the bridge can undo, or identity."""
    coding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if coding in ("", "identity") or coding in _WBITS:
        return coding or "identity"
    raise InvalidRequest(
        f"Unsupported content encoding: '{coding[:40]}'. This API accepts request bodies "
        "encoded as gzip or deflate, or not encoded.",
        code="unsupported_content_encoding",
    )


def inflate(data: bytes, coding: str, limit: int) -> bytes:
    """`data` decompressed per `coding` (from content_coding), refused past `limit` bytes before more is inflated."""
    wbits = _WBITS.get(coding)
    if wbits is None:
        return data
    if coding == "deflate" and data[:1] and data[0] & 0x0F != 8:
        wbits = -zlib.MAX_WBITS  # raw deflate without the zlib header, as some clients send (aiohttp accepts it too)
    out = bytearray()
    rest = data
    try:
        while True:  # gzip may hold several members, one after another
            inflater = zlib.decompressobj(wbits)
            # max_length caps what one call inflates: at most one byte past the limit is ever produced.
            out += inflater.decompress(rest, limit + 1 - len(out))
            if len(out) > limit:
                raise RequestTooLarge(f"The request body is too large: more than {limit} bytes once decompressed.")
            if not inflater.eof:
                raise zlib.error("truncated")
            rest = inflater.unused_data
            if not rest:
                return bytes(out)
            if wbits != _GZIP:
                raise zlib.error("data after the end of the stream")
    except zlib.error:
        raise InvalidRequest(
            f"The request body is not valid {coding} data, as its Content-Encoding header says it is.",
            code="invalid_content_encoding",
        ) from None
