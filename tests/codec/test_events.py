"""Encoding stream events: the SSE frame and JSON shapes strict clients check."""

from __future__ import annotations

import orjson

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.codec import event_from_json, event_to_json, event_to_sse
from responses_gateway.codec.events import CASES_BY_TYPE, EVENT_TYPES


def test_every_oneof_case_has_an_sse_type() -> None:
    cases = {f.name for f in epb.ResponseStreamEvent.DESCRIPTOR.oneofs_by_name["event"].fields}
    assert cases == set(EVENT_TYPES)
    assert len(CASES_BY_TYPE) == len(EVENT_TYPES)


def test_the_event_line_equals_the_json_type() -> None:
    event = epb.ResponseStreamEvent(sequence_number=7)
    event.output_text_delta.item_id = "msg_1"
    event.output_text_delta.delta = "Hi"
    frame = event_to_sse(event)
    head, data, tail = frame.split(b"\n", 2)
    assert head == b"event: response.output_text.delta"
    body = orjson.loads(data.removeprefix(b"data: "))
    assert body == {
        "type": "response.output_text.delta",
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "delta": "Hi",
        "logprobs": [],
        "sequence_number": 7,
    }
    assert tail == b"\n"


def test_the_error_event_has_both_shapes() -> None:
    """Flat fields for typed clients, nested `error` so the openai SDK raises."""
    event = epb.ResponseStreamEvent(sequence_number=3)
    event.error.error.CopyFrom(pb.ErrorDetail(message="boom", type="server_error", code="server_error"))
    body = event_to_json(event)
    assert body["type"] == "error" and body["message"] == "boom" and body["code"] == "server_error"
    assert body["error"] == {"type": "server_error", "code": "server_error", "message": "boom", "param": None}


def test_upstream_events_decode_to_the_same_case() -> None:
    raw = {
        "type": "response.function_call_arguments.delta",
        "item_id": "fc_1",
        "output_index": 1,
        "delta": '{"a"',
        "obfuscation": "xyz",
        "sequence_number": 9,
    }
    event = event_from_json(raw)
    assert event is not None and event.WhichOneof("event") == "function_call_arguments_delta"
    assert event_to_json(event) == raw


def test_unknown_upstream_event_types_are_skipped() -> None:
    assert event_from_json({"type": "response.web_search_call.searching", "sequence_number": 1}) is None
