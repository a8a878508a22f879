"""Chat Completions chunks → the complete Responses event sequence.

A chunk carries a little reasoning, text or tool-call argument at a time;
the Responses API wants items opened, filled and closed in order with stable
ids and indexes. `ChunkTranslator` is that state machine. A non-streamed
completion is fed through it as a single chunk, so both paths share one
translation.

Order produced (as the OpenAI API orders them): reasoning item (summary
events when a summary was asked for, raw reasoning_text events otherwise) →
message item (content part, text deltas, done events) → one function_call
item per tool call (a custom_tool_call for a custom tool, `tools.py`) → a terminal `completed`/`incomplete` event with the full
output and usage.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.errors import UpstreamOverloaded, UpstreamServerError
from responses_gateway.providers.chat_completions.tools import ToolMap, custom_input
from responses_gateway.ids import new_id

_INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


@dataclass
class _Call:
    index: int
    item: ipb.Item
    arguments: list[str] = field(default_factory=list)


def item_is_unnamed(item: ipb.Item) -> bool:
    """A function call item whose first fragment named no function (a later one may)."""
    return item.HasField("function_call") and not item.function_call.name


def usage_from_chat(usage: dict[str, Any]) -> pb.Usage:
    """Chat usage → Responses usage (DeepSeek's cache-hit count becomes cached_tokens)."""
    details_in = usage.get("prompt_tokens_details") or {}
    details_out = usage.get("completion_tokens_details") or {}
    cached = usage.get("prompt_cache_hit_tokens")
    if not isinstance(cached, int):
        cached = details_in.get("cached_tokens") if isinstance(details_in, dict) else 0
    result = pb.Usage(
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
    )
    result.total_tokens = int(usage.get("total_tokens") or result.input_tokens + result.output_tokens)
    result.input_tokens_details.cached_tokens = int(cached or 0)
    reasoning = details_out.get("reasoning_tokens") if isinstance(details_out, dict) else 0
    result.output_tokens_details.reasoning_tokens = int(reasoning or 0)
    return result


class ChunkTranslator:
    """One per response: feed chunks (decoded JSON), get Responses events."""

    def __init__(self, *, reasoning_field: str | None, summarize: bool, tools: ToolMap | None = None) -> None:
        self._reasoning_field = reasoning_field
        self._tools = tools or ToolMap()
        self._summarize = summarize
        self._output: list[ipb.Item] = []
        self._reasoning: ipb.Item | None = None
        self._message: ipb.Item | None = None
        # The open items' text as deltas, joined once when the item closes
        # (appending to a protobuf string copies it into the message's arena).
        self._reasoning_text: list[str] = []
        self._message_text: list[str] = []
        self._calls: dict[int, _Call] = {}
        self.finish_reason: str | None = None
        self.usage: pb.Usage | None = None
        # The upstream's completion id and model, as it named them (traces report them).
        self._upstream_id = ""
        self._upstream_model = ""

    # --- helpers -------------------------------------------------------------

    def _index_of(self, item: ipb.Item) -> int:
        return next(i for i, candidate in enumerate(self._output) if candidate is item)

    def _open(self, item: ipb.Item) -> Iterator[epb.ResponseStreamEvent]:
        self._output.append(item)
        added = epb.ResponseStreamEvent()
        added.output_item_added.output_index = len(self._output) - 1
        added.output_item_added.item.CopyFrom(item)
        yield added

    def _done(self, item: ipb.Item, status: str = "completed") -> epb.ResponseStreamEvent:
        getattr(item, item.WhichOneof("item") or "message").status = status
        done = epb.ResponseStreamEvent()
        done.output_item_done.output_index = self._index_of(item)
        done.output_item_done.item.CopyFrom(item)
        return done

    # --- reasoning -----------------------------------------------------------

    def _reasoning_delta(self, text: str) -> Iterator[epb.ResponseStreamEvent]:
        if self._reasoning is None:
            item = ipb.Item()
            item.reasoning.id = new_id("rs")
            item.reasoning.status = "in_progress"
            self._reasoning = item
            yield from self._open(item)
            if self._summarize:
                event = epb.ResponseStreamEvent()
                part = event.reasoning_summary_part_added
                part.item_id, part.output_index, part.summary_index = item.reasoning.id, self._index_of(item), 0
                part.part.SetInParent()
                yield event
            item.reasoning.content.add()
            if self._summarize:
                item.reasoning.summary.add()
        reasoning = self._reasoning.reasoning
        self._reasoning_text.append(text)
        event = epb.ResponseStreamEvent()
        if self._summarize:
            delta = event.reasoning_summary_text_delta
            delta.summary_index = 0
        else:
            delta = event.reasoning_text_delta  # type: ignore[assignment]
        delta.item_id, delta.output_index, delta.delta = reasoning.id, self._index_of(self._reasoning), text
        yield event

    def _close_reasoning(self) -> Iterator[epb.ResponseStreamEvent]:
        item, self._reasoning = self._reasoning, None
        if item is None:
            return
        reasoning, index = item.reasoning, self._index_of(item)
        text = "".join(self._reasoning_text)
        self._reasoning_text = []
        reasoning.content[0].text = text
        if self._summarize:
            reasoning.summary[0].text = text
            event = epb.ResponseStreamEvent()
            event.reasoning_summary_text_done.item_id = reasoning.id
            event.reasoning_summary_text_done.output_index = index
            event.reasoning_summary_text_done.text = text
            yield event
            event = epb.ResponseStreamEvent()
            event.reasoning_summary_part_done.item_id = reasoning.id
            event.reasoning_summary_part_done.output_index = index
            event.reasoning_summary_part_done.part.text = text
            yield event
        else:
            event = epb.ResponseStreamEvent()
            event.reasoning_text_done.item_id = reasoning.id
            event.reasoning_text_done.output_index = index
            event.reasoning_text_done.text = text
            yield event
        yield self._done(item)

    # --- message -------------------------------------------------------------

    def _content_delta(self, text: str) -> Iterator[epb.ResponseStreamEvent]:
        yield from self._close_reasoning()
        if self._message is None:
            item = ipb.Item()
            item.message.id = new_id("msg")
            item.message.role = "assistant"
            item.message.status = "in_progress"
            item.message.typed = True
            item.message.parts.SetInParent()
            self._message = item
            yield from self._open(item)
            event = epb.ResponseStreamEvent()
            part = event.content_part_added
            part.item_id, part.output_index, part.content_index = item.message.id, self._index_of(item), 0
            part.part.output_text.SetInParent()
            yield event
            item.message.parts.parts.add().output_text.SetInParent()
        message = self._message.message
        self._message_text.append(text)
        event = epb.ResponseStreamEvent()
        delta = event.output_text_delta
        delta.item_id, delta.output_index, delta.content_index, delta.delta = message.id, self._index_of(self._message), 0, text
        yield event

    def _close_message(self, status: str) -> Iterator[epb.ResponseStreamEvent]:
        item, self._message = self._message, None
        if item is None:
            return
        message, index = item.message, self._index_of(item)
        text = "".join(self._message_text)
        self._message_text = []
        message.parts.parts[0].output_text.text = text
        event = epb.ResponseStreamEvent()
        event.output_text_done.item_id, event.output_text_done.output_index = message.id, index
        event.output_text_done.text = text
        yield event
        event = epb.ResponseStreamEvent()
        done = event.content_part_done
        done.item_id, done.output_index = message.id, index
        done.part.output_text.text = text
        yield event
        yield self._done(item, status)

    # --- tool calls ----------------------------------------------------------

    def _tool_fragment(self, fragment: dict[str, Any]) -> Iterator[epb.ResponseStreamEvent]:
        yield from self._close_reasoning()
        yield from self._close_message("completed")
        index = fragment.get("index")
        index = index if isinstance(index, int) else len(self._calls)
        function = fragment.get("function") or {}
        call = self._calls.get(index)
        if call is None:
            item = self._tools.call_item(function.get("name") or "")
            payload = getattr(item, item.WhichOneof("item") or "function_call")
            payload.id = new_id("ctc" if item.HasField("custom_tool_call") else "fc")
            payload.call_id = fragment.get("id") or new_id("call")
            payload.status = "in_progress"
            call = _Call(index=index, item=item)
            self._calls[index] = call
            yield from self._open(item)
        elif function.get("name") and item_is_unnamed(call.item):
            call.item.function_call.name = function["name"]
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            call.arguments.append(arguments)
            # A custom tool's input is a string inside the JSON arguments: it is streamed
            # once decoded, when the call closes.
            if call.item.HasField("function_call"):
                event = epb.ResponseStreamEvent()
                delta = event.function_call_arguments_delta
                delta.item_id, delta.output_index, delta.delta = call.item.function_call.id, self._index_of(call.item), arguments
                yield event

    def _close_calls(self) -> Iterator[epb.ResponseStreamEvent]:
        for call in sorted(self._calls.values(), key=lambda c: c.index):
            event = epb.ResponseStreamEvent()
            if call.item.HasField("custom_tool_call"):
                custom = call.item.custom_tool_call
                custom.input = custom_input("".join(call.arguments))
                output_index = self._index_of(call.item)
                if custom.input:
                    delta = event.custom_tool_call_input_delta
                    delta.item_id, delta.output_index, delta.delta = custom.id, output_index, custom.input
                    yield event
                    event = epb.ResponseStreamEvent()
                done_input = event.custom_tool_call_input_done
                done_input.item_id, done_input.output_index, done_input.input = custom.id, output_index, custom.input
                yield event
            else:
                fc = call.item.function_call
                fc.arguments = "".join(call.arguments)
                done = event.function_call_arguments_done
                done.item_id, done.output_index, done.arguments = fc.id, self._index_of(call.item), fc.arguments
                yield event
            yield self._done(call.item)
        self._calls.clear()

    # --- chunks --------------------------------------------------------------

    def feed(self, chunk: dict[str, Any]) -> Iterator[epb.ResponseStreamEvent]:
        """Events for one chunk (`choices[0].delta` or, for non-streamed, `.message`)."""
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = usage_from_chat(usage)
        if not self._upstream_id:
            upstream_id, model = chunk.get("id"), chunk.get("model")
            self._upstream_id = upstream_id if isinstance(upstream_id, str) else ""
            self._upstream_model = model if isinstance(model, str) else ""
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return
        choice = choices[0]
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else choice.get("message")
        if isinstance(delta, dict):
            reasoning = delta.get(self._reasoning_field) if self._reasoning_field else None
            if isinstance(reasoning, str) and reasoning:
                yield from self._reasoning_delta(reasoning)
            content = delta.get("content")
            if isinstance(content, str) and content:
                yield from self._content_delta(content)
            for fragment in delta.get("tool_calls") or []:
                if isinstance(fragment, dict):
                    yield from self._tool_fragment(fragment)
        if isinstance(choice.get("finish_reason"), str):
            self.finish_reason = choice["finish_reason"]

    def finish(self) -> Iterator[epb.ResponseStreamEvent]:
        """Close what is open and emit the terminal event; the stream must have finished."""
        if self.finish_reason is None:
            raise UpstreamServerError("The upstream provider closed the stream before it finished.")
        if self.finish_reason == "insufficient_system_resource":
            raise UpstreamOverloaded("The upstream provider ran out of capacity while generating the response.")
        reason = _INCOMPLETE_REASONS.get(self.finish_reason)
        yield from self._close_reasoning()
        yield from self._close_message("incomplete" if reason else "completed")
        yield from self._close_calls()
        terminal = epb.ResponseStreamEvent()
        response = (terminal.incomplete if reason else terminal.completed).response
        response.status = "incomplete" if reason else "completed"
        response.id, response.model = self._upstream_id, self._upstream_model
        if reason:
            response.incomplete_details.reason = reason
        response.usage.CopyFrom(self.usage or pb.Usage())
        response.usage.input_tokens_details.SetInParent()
        response.usage.output_tokens_details.SetInParent()
        response.output.extend(self._output)
        response.withheld_tools.extend(self._tools.withheld)
        yield terminal
