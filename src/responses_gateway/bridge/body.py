"""A request body as the bridge takes it: read within the size limit, decompressed within it.

aiohttp's own decompression is off (`auto_decompress=False` in create_app):
it let a body that was not what its Content-Encoding said reach the handler
as an exception the error middleware knew nothing of (a 500), and answered
an encoding it lacks (br, zstd) in plain text. Here every such body gets
OpenAI's error body, and a compressed body is inflated only as far as the
limit allows ("zip bombs" stop at `max_body_bytes` + 1 bytes).
"""

from __future__ import annotations

import zlib

from aiohttp import web

from responses_gateway.errors import BadHTTPRequest, InvalidRequest, RequestTooLarge

_GZIP = 16 + zlib.MAX_WBITS
# Content codings the bridge reads, by their zlib window bits.
_WBITS = {"gzip": _GZIP, "x-gzip": _GZIP, "deflate": zlib.MAX_WBITS}


async def read_body(request: web.Request) -> bytes:
    """The raw body (still compressed, if it is), at most `client_max_size` bytes on the wire (413 past it)."""
    try:
        return await request.read()
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
