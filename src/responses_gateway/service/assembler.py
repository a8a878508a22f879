"""Turns a provider's event stream into the client's: one lifecycle, our ids, our sequence.

A provider's stream is trusted for content, not for framing. The assembler
emits its own `response.created`/`in_progress` snapshots (our response id and
the client's echo fields), numbers every event from 0, gives every item an id
and a status, fills `item_id` on deltas, hides encrypted reasoning unless the
client asked for it, and ends with exactly one terminal event carrying the
full output and usage — also when the upstream fails or vanishes mid-stream.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.errors import GatewayError, set_failed
from responses_gateway.service.items import client_visible, ensure_id, set_status

_TERMINAL = ("completed", "incomplete", "failed")
_SKIPPED = frozenset({"created", "in_progress", "queued"})
_LOCATED = frozenset(
    {
        "content_part_added",
        "content_part_done",
        "output_text_delta",
        "output_text_done",
        "output_text_annotation_added",
        "refusal_delta",
        "refusal_done",
        "function_call_arguments_delta",
        "function_call_arguments_done",
        "reasoning_summary_part_added",
        "reasoning_summary_part_done",
        "reasoning_summary_text_delta",
        "reasoning_summary_text_done",
        "reasoning_text_delta",
        "reasoning_text_done",
        "custom_tool_call_input_delta",
        "custom_tool_call_input_done",
    }
)


def finish(snapshot: pb.Response, upstream: pb.Response, output: list[ipb.Item], include_encrypted: bool) -> pb.Response:
    """The final response: our snapshot plus the upstream's outcome and the output."""
    final = pb.Response()
    final.CopyFrom(snapshot)
    final.status = upstream.status if upstream.status in _TERMINAL else "completed"
    final.usage.CopyFrom(upstream.usage)
    if upstream.HasField("error"):
        final.error.CopyFrom(upstream.error)
    elif final.status == "failed":
        final.error.code, final.error.message = "server_error", "The model failed to generate a response."
    if upstream.HasField("incomplete_details"):
        final.incomplete_details.CopyFrom(upstream.incomplete_details)
    final.withheld_tools.extend(upstream.withheld_tools)
    if final.status == "completed":
        final.completed_at = int(time.time())
    final.output.extend(client_visible(item, include_encrypted) for item in output)
    return final


def normalize_output(items: list[ipb.Item], status: str) -> list[ipb.Item]:
    """Ids and statuses on every output item (reasoning items included)."""
    for item in items:
        ensure_id(item)
        set_status(item, "incomplete" if status == "incomplete" and item.WhichOneof("item") == "message" else "completed", only_if_missing=True)
    return items


class StreamAssembler:
    """Feeds on provider events, yields client events; one instance per response."""

    def __init__(self, snapshot: pb.Response, *, include_encrypted: bool) -> None:
        self._snapshot = snapshot
        self._include_encrypted = include_encrypted
        self._seq = 0
        self._ids: dict[int, str] = {}
        self._done: dict[int, ipb.Item] = {}
        # Items announced but not finished, rebuilt from deltas so a failure
        # mid-way still returns (and stores) what the client already saw.
        self._open: dict[int, _Partial] = {}
        self.final: pb.Response | None = None
        # Output as stored: with encrypted reasoning, which replays need.
        self.stored_output: list[ipb.Item] = []

    def _stamp(self, event: epb.ResponseStreamEvent) -> epb.ResponseStreamEvent:
        event.sequence_number = self._seq
        self._seq += 1
        return event

    def start(self) -> Iterator[epb.ResponseStreamEvent]:
        """`response.created` then `response.in_progress`, each with the empty snapshot."""
        yield self._stamp(epb.ResponseStreamEvent(created=epb.ResponseLifecycleEvent(response=self._snapshot)))
        yield self._stamp(epb.ResponseStreamEvent(in_progress=epb.ResponseLifecycleEvent(response=self._snapshot)))

    def feed(self, event: epb.ResponseStreamEvent) -> Iterator[epb.ResponseStreamEvent]:
        """Client events for one provider event; sets `final` on a terminal one."""
        case = event.WhichOneof("event")
        if case is None or case in _SKIPPED or self.final is not None:
            return
        if case in _TERMINAL:
            self._finish(getattr(event, case).response)
            return
        if case == "error":
            yield from self.fail_with(event.error.error)
            return
        if case in ("output_item_added", "output_item_done"):
            payload = getattr(event, case)
            index = int(payload.output_index)
            item = payload.item
            if not item.WhichOneof("item"):
                return
            if index in self._ids:
                _set_id(item, self._ids[index])
            self._ids[index] = ensure_id(item)
            if case == "output_item_added":
                set_status(item, "in_progress", only_if_missing=True)
                self._open[index] = _Partial(_copy(item))
            else:
                set_status(item, "completed", only_if_missing=True)
                self._done[index] = _copy(item)
                self._open.pop(index, None)
            if not self._include_encrypted:
                payload.item.CopyFrom(client_visible(item, False))
        elif case in _LOCATED:
            payload = getattr(event, case)
            if not payload.item_id:
                payload.item_id = self._ids.get(int(payload.output_index), "")
            partial = self._open.get(int(payload.output_index))
            if partial is not None:
                partial.add(case, payload)
        yield self._stamp(event)

    def complete(self, upstream: pb.Response) -> pb.Response:
        """The final response from the upstream's finished one (a unary create: no events)."""
        self._finish(upstream)
        assert self.final is not None
        return self.final

    def _finish(self, upstream: pb.Response) -> None:
        if upstream.output:
            output = normalize_output([_copy(i) for i in upstream.output], upstream.status)
            for index, item in enumerate(output):
                if index in self._ids:
                    _set_id(item, self._ids[index])
        else:
            output = [self._done[i] for i in sorted(self._done)]
        self.stored_output = output
        self.final = finish(self._snapshot, upstream, output, self._include_encrypted)

    def fail_with(self, error: pb.ErrorDetail) -> Iterator[epb.ResponseStreamEvent]:
        """An `error` event now; `final` becomes a failed response with the partial output."""
        if self.final is not None:
            return
        yield self._stamp(epb.ResponseStreamEvent(error=epb.ErrorEvent(error=error)))
        self._finish_partial(set_failed(pb.Response(), error))

    def fail(self, exc: GatewayError) -> Iterator[epb.ResponseStreamEvent]:
        """Fail the stream because of an exception raised mid-way."""
        yield from self.fail_with(exc.to_detail())

    def _finish_partial(self, upstream: pb.Response) -> None:
        built = {index: partial.built() for index, partial in self._open.items()}
        for item in built.values():
            set_status(item, "incomplete")
        produced = {**built, **self._done}
        output = [produced[i] for i in sorted(produced)]
        self.stored_output = output
        self.final = finish(self._snapshot, upstream, output, self._include_encrypted)

    def terminal(self) -> epb.ResponseStreamEvent:
        """The one terminal event, carrying the final response."""
        assert self.final is not None
        event = epb.ResponseStreamEvent()
        getattr(event, self.final.status).response.CopyFrom(self.final)
        return self._stamp(event)


class _Partial:
    """An announced item and the text its deltas added since, joined only when the item is needed.

    Appending to a protobuf string field copies the whole string into the
    message's arena, which is freed only with the message: 8,000 deltas of
    a 40 KB answer held 163 MB until the stream ended. Here each delta is
    one list append, and the text is joined once, if the stream fails.
    """

    __slots__ = ("item", "_texts")

    def __init__(self, item: ipb.Item) -> None:
        self.item = item
        self._texts: dict[tuple[str, int], list[str]] = {}

    def _append(self, field: str, index: int, delta: str) -> None:
        self._texts.setdefault((field, index), []).append(delta)

    def add(self, case: str, payload: Any) -> None:
        """Apply one located event to the item it targets."""
        item = self.item
        kind = item.WhichOneof("item")
        if kind == "message":
            parts = item.message.parts.parts
            if case == "content_part_added":
                parts.add().CopyFrom(payload.part)
            elif case in ("output_text_delta", "refusal_delta") and payload.content_index < len(parts):
                self._append("part", payload.content_index, payload.delta)
        elif kind == "function_call" and case == "function_call_arguments_delta":
            self._append("arguments", 0, payload.delta)
        elif kind == "custom_tool_call" and case == "custom_tool_call_input_delta":
            self._append("input", 0, payload.delta)
        elif kind == "reasoning":
            reasoning = item.reasoning
            if case == "reasoning_summary_part_added":
                reasoning.summary.add()
            elif case == "reasoning_summary_text_delta" and payload.summary_index < len(reasoning.summary):
                self._append("summary", payload.summary_index, payload.delta)
            elif case == "reasoning_text_delta":
                while len(reasoning.content) <= payload.content_index:
                    reasoning.content.add()
                self._append("content", payload.content_index, payload.delta)

    def built(self) -> ipb.Item:
        """The item with every delta so far applied."""
        item = self.item
        for (field, index), deltas in self._texts.items():
            text = "".join(deltas)
            if field == "part":
                part = item.message.parts.parts[index]
                if part.WhichOneof("part") == "refusal":
                    part.refusal.refusal += text
                else:
                    part.output_text.text += text
            elif field == "arguments":
                item.function_call.arguments += text
            elif field == "input":
                item.custom_tool_call.input += text
            elif field == "summary":
                item.reasoning.summary[index].text += text
            else:
                item.reasoning.content[index].text += text
        self._texts.clear()
        return item


def _copy(item: ipb.Item) -> ipb.Item:
    copy = ipb.Item()
    copy.CopyFrom(item)
    return copy


def _set_id(item: ipb.Item, value: str) -> None:
    kind = item.WhichOneof("item")
    if kind:
        getattr(item, kind).id = value
