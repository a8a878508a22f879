"""A fake Backend for the bridge's tests: canned proto replies, recorded requests, programmable failures."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from typing import Any

import orjson
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from google.protobuf.message import Message

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.bridge.backend import Caller
from responses_gateway.bridge.app import create_app

Batch = list[epb.ResponseStreamEvent]
# One step of a scripted stream: a batch to yield, an error to raise, a gate to wait on, or seconds to sleep.
Step = Batch | BaseException | asyncio.Event | float


def message(text: str, *, id: str = "msg_1", role: str = "assistant") -> ipb.Item:
    return ipb.Item(
        message=ipb.MessageItem(
            id=id, role=role, status="completed", parts=ipb.ContentList(parts=[ipb.ContentPart(output_text=ipb.OutputText(text=text))])
        )
    )


def response(id: str = "resp_1", *, status: str = "completed", text: str = "Hello!") -> pb.Response:
    resp = pb.Response(id=id, object="response", created_at=1_700_000_000, status=status, model="gpt-test", store=True)
    if status == "completed":
        resp.output.append(message(text))
        resp.usage.CopyFrom(pb.Usage(input_tokens=5, output_tokens=2, total_tokens=7))
    return resp


def created(seq: int, id: str = "resp_1") -> epb.ResponseStreamEvent:
    event = epb.ResponseStreamEvent(sequence_number=seq)
    event.created.response.CopyFrom(response(id, status="in_progress"))
    return event


def in_progress(seq: int, id: str = "resp_1") -> epb.ResponseStreamEvent:
    event = epb.ResponseStreamEvent(sequence_number=seq)
    event.in_progress.response.CopyFrom(response(id, status="in_progress"))
    return event


def delta(seq: int, text: str) -> epb.ResponseStreamEvent:
    return epb.ResponseStreamEvent(
        sequence_number=seq, output_text_delta=epb.TextDeltaEvent(item_id="msg_1", output_index=0, content_index=0, delta=text)
    )


def completed(seq: int, id: str = "resp_1", text: str = "Hello!") -> epb.ResponseStreamEvent:
    event = epb.ResponseStreamEvent(sequence_number=seq)
    event.completed.response.CopyFrom(response(id, text=text))
    return event


class FakeBackend:
    """Implements the bridge's Backend protocol in memory.

    `calls` records (method, request) for every call; `fail[method] = exc`
    makes that method raise; `stream` scripts what stream_response does.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, Message | None]] = []
        # The credential each call carried (the caller's Authorization header, as the bridge passed it).
        self.credentials: list[str | None] = []
        self.fail: dict[str, BaseException] = {}
        self.stream: Iterable[Step] = []
        self.is_ready = True
        self.closed = False
        # Set when a stream's generator ends for any reason; `stream_exit` says why.
        self.stream_finished = asyncio.Event()
        self.stream_exit: type[BaseException] | None = None
        self.batches_yielded = 0
        self.streams: list[AsyncGenerator[Batch, None]] = []

    def _record(self, method: str, request: Message | None, credential: str | None = None) -> None:
        self.calls.append((method, request))
        if method != "ready":
            self.credentials.append(credential)
        if method in self.fail:
            raise self.fail[method]

    def requests(self, method: str) -> list[Message | None]:
        return [req for name, req in self.calls if name == method]

    async def create_response(self, request: pb.CreateResponseRequest, caller: Caller) -> pb.Response:
        self._record("create_response", request, caller.authorization)
        return response()

    def stream_response(self, request: pb.CreateResponseRequest, caller: Caller) -> AsyncIterator[Batch]:
        self._record("stream_response", request, caller.authorization)
        # Held here so only the bridge (closing it, or cancelling its handler) can end it, not the garbage collector.
        stream = self._stream()
        self.streams.append(stream)
        return stream

    async def _stream(self) -> AsyncGenerator[Batch, None]:
        try:
            for step in self.stream:
                if isinstance(step, asyncio.Event):
                    await step.wait()
                elif isinstance(step, float):
                    await asyncio.sleep(step)
                elif isinstance(step, BaseException):
                    raise step
                else:
                    yield step
                    self.batches_yielded += 1
            self.stream_exit = None
        except BaseException as exc:
            self.stream_exit = type(exc)
            raise
        finally:
            self.stream_finished.set()

    async def get_response(self, request: spb.GetResponseRequest, caller: Caller) -> pb.Response:
        self._record("get_response", request, caller.authorization)
        return response(request.id)

    async def delete_response(self, request: spb.DeleteResponseRequest, caller: Caller) -> spb.DeleteResponseResponse:
        self._record("delete_response", request, caller.authorization)
        return spb.DeleteResponseResponse(id=request.id, object="response", deleted=True)

    async def list_input_items(self, request: spb.ListInputItemsRequest, caller: Caller) -> spb.ListInputItemsResponse:
        self._record("list_input_items", request, caller.authorization)
        user = ipb.Item(message=ipb.MessageItem(id="msg_in", role="user", text="Hi there"))
        return spb.ListInputItemsResponse(object="list", data=[user], first_id="msg_in", last_id="msg_in", has_more=True)

    async def cancel_response(self, request: spb.CancelResponseRequest, caller: Caller) -> pb.Response:
        self._record("cancel_response", request, caller.authorization)
        return response(request.id, status="cancelled")

    async def count_input_tokens(self, request: pb.CreateResponseRequest, caller: Caller) -> spb.CountInputTokensResponse:
        self._record("count_input_tokens", request, caller.authorization)
        return spb.CountInputTokensResponse(object="response.input_tokens", input_tokens=42)

    async def list_models(self, caller: Caller) -> spb.ListModelsResponse:
        self._record("list_models", None, caller.authorization)
        return spb.ListModelsResponse(
            object="list",
            data=[
                spb.Model(id="gpt-test", object="model", created=1_700_000_000, owned_by="openai"),
                spb.Model(id="openrouter/meta/llama-3", object="model", created=1_700_000_001, owned_by="openrouter"),
            ],
        )

    async def get_model(self, request: spb.GetModelRequest, caller: Caller) -> spb.Model:
        self._record("get_model", request, caller.authorization)
        return spb.Model(id=request.id, object="model", created=1_700_000_000, owned_by="gateway")

    async def ready(self) -> bool:
        self._record("ready", None)
        return self.is_ready

    async def aclose(self) -> None:
        self.closed = True


@contextlib.asynccontextmanager
async def serve(backend: FakeBackend, **app_kwargs: Any) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The bridge app over `backend` on a real socket (TestServer cancels handlers of clients that leave)."""
    async with TestClient(TestServer(create_app(backend, **app_kwargs))) as client:
        yield client


async def error_of(resp: ClientResponse) -> dict[str, Any]:
    """The `error` object of an OpenAI error body, checking the body has nothing else."""
    body = await resp.json()
    assert list(body) == ["error"], body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    return error


def sse_frames(raw: bytes) -> list[tuple[str | None, bytes]]:
    """Split an SSE body into (event name, data) frames, in order."""
    frames: list[tuple[str | None, bytes]] = []
    assert raw.endswith(b"\n\n"), raw[-80:]
    for block in raw[:-2].split(b"\n\n"):
        event: str | None = None
        data = b""
        for line in block.split(b"\n"):
            field, _, value = line.partition(b": ")
            if field == b"event":
                event = value.decode()
            elif field == b"data":
                data = value
            else:
                raise AssertionError(f"unexpected SSE line {line!r}")
        frames.append((event, data))
    return frames


def events_of(frames: Sequence[tuple[str | None, bytes]]) -> list[dict[str, Any]]:
    """The JSON events of SSE frames, checking each `event:` equals its `type`; the [DONE] frame is left out."""
    out: list[dict[str, Any]] = []
    for event, data in frames:
        if data == b"[DONE]":
            assert event is None
            continue
        body: dict[str, Any] = orjson.loads(data)
        assert event == body["type"], (event, body)
        out.append(body)
    return out
