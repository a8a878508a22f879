"""The assembler reframes any provider stream into one well-formed client stream."""

from __future__ import annotations

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.errors import UpstreamError
from responses_gateway.service.assembler import StreamAssembler


def _snapshot() -> pb.Response:
    return pb.Response(id="resp_ours", object="response", status="in_progress", model="m")


def _added(index: int, kind: str) -> epb.ResponseStreamEvent:
    event = epb.ResponseStreamEvent(sequence_number=99)
    event.output_item_added.output_index = index
    if kind == "reasoning":
        event.output_item_added.item.reasoning.SetInParent()
    else:
        event.output_item_added.item.message.role = "assistant"
    return event


def _done(index: int, text: str) -> epb.ResponseStreamEvent:
    event = epb.ResponseStreamEvent()
    event.output_item_done.output_index = index
    message = event.output_item_done.item.message
    message.role = "assistant"
    message.parts.parts.add().output_text.text = text
    return event


def _delta(index: int, text: str) -> epb.ResponseStreamEvent:
    event = epb.ResponseStreamEvent()
    event.output_text_delta.output_index = index
    event.output_text_delta.delta = text
    return event


def test_ids_statuses_and_sequence_are_ours() -> None:
    asm = StreamAssembler(_snapshot(), include_encrypted=False)
    events = list(asm.start())
    for upstream in (_added(0, "reasoning"), _added(1, "message"), _delta(1, "Hi"), _done(1, "Hi")):
        events.extend(asm.feed(upstream))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].created.response.id == "resp_ours"
    reasoning = events[2].output_item_added.item.reasoning
    assert reasoning.id.startswith("rs_") and reasoning.status == "in_progress"
    message_id = events[3].output_item_added.item.message.id
    assert message_id.startswith("msg_")
    assert events[4].output_text_delta.item_id == message_id
    assert events[5].output_item_done.item.message.id == message_id


def test_a_vanished_upstream_ends_with_error_then_failed() -> None:
    asm = StreamAssembler(_snapshot(), include_encrypted=False)
    list(asm.start())
    list(asm.feed(_added(0, "message")))
    error_events = list(asm.fail(UpstreamError("gone", code="server_error")))
    assert [e.WhichOneof("event") for e in error_events] == ["error"]
    terminal = asm.terminal()
    assert terminal.WhichOneof("event") == "failed"
    final = terminal.failed.response
    assert final.status == "failed" and final.error.code == "server_error"
    assert final.HasField("usage")


def test_encrypted_reasoning_is_stored_but_hidden() -> None:
    asm = StreamAssembler(_snapshot(), include_encrypted=False)
    list(asm.start())
    done = epb.ResponseStreamEvent()
    done.output_item_done.item.reasoning.id = "rs_1"
    done.output_item_done.item.reasoning.encrypted_content = "secret-state"
    [client_event] = list(asm.feed(done))
    assert not client_event.output_item_done.item.reasoning.HasField("encrypted_content")
    completed = epb.ResponseStreamEvent()
    completed.completed.response.status = "completed"
    list(asm.feed(completed))
    assert asm.stored_output[0].reasoning.encrypted_content == "secret-state"
    assert asm.final is not None and not asm.final.output[0].reasoning.HasField("encrypted_content")
    assert asm.final.output[0].reasoning.status == "completed"


def _part_added(index: int) -> epb.ResponseStreamEvent:
    event = epb.ResponseStreamEvent()
    event.content_part_added.output_index = index
    event.content_part_added.part.output_text.text = ""
    return event


def test_a_stream_cut_mid_answer_keeps_every_delta_the_client_saw() -> None:
    asm = StreamAssembler(_snapshot(), include_encrypted=False)
    list(asm.start())
    call = epb.ResponseStreamEvent()
    call.output_item_added.output_index = 1
    call.output_item_added.item.function_call.name = "lookup"
    summary = epb.ResponseStreamEvent()
    summary.reasoning_summary_part_added.output_index = 0
    upstream = [_added(0, "reasoning"), summary]
    for word in ("Thinking", " hard"):
        delta = epb.ResponseStreamEvent()
        delta.reasoning_summary_text_delta.output_index = 0
        delta.reasoning_summary_text_delta.delta = word
        upstream.append(delta)
    upstream += [call]
    for piece in ('{"q":', ' "x"}'):
        delta = epb.ResponseStreamEvent()
        delta.function_call_arguments_delta.output_index = 1
        delta.function_call_arguments_delta.delta = piece
        upstream.append(delta)
    upstream += [_added(2, "message"), _part_added(2)]
    upstream += [_delta(2, f" word{i}") for i in range(5000)]
    for event in upstream:
        list(asm.feed(event))
    list(asm.fail(UpstreamError("gone", code="server_error")))

    reasoning, function_call, message = asm.stored_output
    assert [s.text for s in reasoning.reasoning.summary] == ["Thinking hard"]
    assert function_call.function_call.arguments == '{"q": "x"}'
    text = message.message.parts.parts[0].output_text.text
    assert text == "".join(f" word{i}" for i in range(5000))
    assert message.message.status == "incomplete"
    assert asm.final is not None and asm.final.output[2].message.parts.parts[0].output_text.text == text
