"""Responses request (proto) → Chat Completions request body.

The Responses input is a flat list of items; Chat wants role-tagged messages.
One assistant turn of the Responses API — reasoning, text, function calls —
becomes one assistant message whose `tool_calls` gather the calls and whose
reasoning field carries the reasoning text, which DeepSeek's thinking mode
requires on every assistant message that called tools.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.config import ChatDialect
from responses_gateway.errors import InvalidRequest
from responses_gateway.providers.chat_completions.tools import ToolMap


def is_thinking(req: pb.CreateResponseRequest, dialect: ChatDialect) -> bool:
    """Whether the upstream will think: DeepSeek thinks unless effort is 'none'."""
    if dialect.reasoning_field is None:
        return False
    return not (req.HasField("reasoning") and req.reasoning.HasField("effort") and req.reasoning.effort == "none")


def _text_of(parts: ipb.ContentList) -> str:
    out: list[str] = []
    for part in parts.parts:
        kind = part.WhichOneof("part")
        if kind == "input_text":
            out.append(part.input_text.text)
        elif kind == "output_text":
            out.append(part.output_text.text)
        elif kind == "refusal":
            out.append(part.refusal.refusal)
    return "".join(out)


def _user_content(message: ipb.MessageItem, index: int) -> Any:
    if message.WhichOneof("content") == "text":
        return message.text
    parts: list[dict[str, Any]] = []
    for part in message.parts.parts:
        kind = part.WhichOneof("part")
        if kind in ("input_text", "output_text"):
            parts.append({"type": "text", "text": getattr(part, kind).text})
        elif kind == "input_image" and part.input_image.HasField("image_url"):
            parts.append({"type": "image_url", "image_url": {"url": part.input_image.image_url}})
        else:
            raise InvalidRequest(
                f"Content of type '{kind}' cannot be sent to this model.", code="unsupported_content", param=f"input[{index}].content"
            )
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


class _MessageBuilder:
    """Accumulates chat messages from Responses items, in order."""

    def __init__(self, thinking: bool, reasoning_field: str | None, tools: ToolMap) -> None:
        self.messages: list[dict[str, Any]] = []
        self._tools = tools
        self._thinking = thinking
        self._reasoning_field = reasoning_field
        self._pending_reasoning: list[str] = []
        self._call_ids: set[str] = set()

    def _assistant(self) -> dict[str, Any]:
        """The assistant message of the current turn, opened if needed."""
        last = self.messages[-1] if self.messages else None
        if last is None or last["role"] != "assistant":
            last = {"role": "assistant", "content": ""}
            self.messages.append(last)
        if self._pending_reasoning and self._reasoning_field:
            last[self._reasoning_field] = last.get(self._reasoning_field, "") + "".join(self._pending_reasoning)
        self._pending_reasoning = []
        return last

    def add(self, item: ipb.Item, index: int) -> None:
        kind = item.WhichOneof("item")
        if kind == "message":
            self._message(item.message, index)
        elif kind == "reasoning":
            texts = [c.text for c in item.reasoning.content] or [s.text for s in item.reasoning.summary]
            self._pending_reasoning.append("".join(texts))
        elif kind == "function_call":
            call = item.function_call
            namespace = call.namespace if call.HasField("namespace") else None
            self._tool_call(call.call_id, self._tools.chat_name(call.name, namespace, custom=False), call.arguments)
        elif kind == "custom_tool_call":
            custom = item.custom_tool_call
            namespace = custom.namespace if custom.HasField("namespace") else None
            arguments = orjson.dumps({"input": custom.input}).decode()
            self._tool_call(custom.call_id, self._tools.chat_name(custom.name, namespace, custom=True), arguments)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            output = getattr(item, kind)
            if output.call_id not in self._call_ids:
                raise InvalidRequest(
                    f"No tool call found for function call output with call_id '{output.call_id}'.",
                    code="invalid_value",
                    param=f"input[{index}].call_id",
                )
            content = output.text if output.WhichOneof("output") == "text" else _text_of(output.parts)
            self.messages.append({"role": "tool", "tool_call_id": output.call_id, "content": content})
        else:
            raise InvalidRequest(f"Input items of type '{kind}' cannot be sent to this model.", param=f"input[{index}]")

    def _tool_call(self, call_id: str, name: str, arguments: str) -> None:
        self._call_ids.add(call_id)
        message = self._assistant()
        message.setdefault("tool_calls", []).append({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}})

    def _message(self, message: ipb.MessageItem, index: int) -> None:
        if message.role == "assistant":
            text = message.text if message.WhichOneof("content") == "text" else _text_of(message.parts)
            current = self.messages[-1] if self.messages else None
            # A new assistant message starts a new turn unless reasoning was just
            # read for it; text after tool calls of the same turn cannot merge.
            if current is not None and current["role"] == "assistant" and "tool_calls" not in current and not current["content"]:
                current["content"] = text
            else:
                self.messages.append({"role": "assistant", "content": text})
            self._assistant()
            return
        role = "system" if message.role in ("system", "developer") else "user"
        if role == "system":
            text = message.text if message.WhichOneof("content") == "text" else _text_of(message.parts)
            self.messages.append({"role": "system", "content": text})
        else:
            self.messages.append({"role": "user", "content": _user_content(message, index)})

    def finish(self) -> list[dict[str, Any]]:
        if self._thinking and self._reasoning_field:
            for message in self.messages:
                if message["role"] == "assistant" and "tool_calls" in message:
                    # DeepSeek answers 400 unless every tool-calling turn brings its reasoning back.
                    message.setdefault(self._reasoning_field, "")
        return self.messages


def to_chat_request(
    req: pb.CreateResponseRequest,
    upstream_model: str,
    dialect: ChatDialect,
    *,
    stream: bool,
    items: Iterable[ipb.Item] | None = None,
    tools: ToolMap | None = None,
) -> dict[str, Any]:
    """The Chat Completions body for a Responses request whose conversation is `items` (default: its input).

    `tools`: the request's tools as mapped for the upstream (default: mapped here).
    """
    thinking = is_thinking(req, dialect)
    tools = ToolMap.of(req) if tools is None else tools
    builder = _MessageBuilder(thinking, dialect.reasoning_field, tools)
    if req.HasField("instructions"):
        builder.messages.append({"role": "system", "content": req.instructions})
    if req.WhichOneof("input") == "input_text":
        builder.messages.append({"role": "user", "content": req.input_text})
    else:
        for index, item in enumerate(req.input_items.items if items is None else items):
            builder.add(item, index)
    body: dict[str, Any] = {"model": upstream_model, "messages": builder.finish()}
    # Checked even with no function left to offer: forcing a withheld hosted tool is the client's error.
    choice = tools.chat_tool_choice(req.tool_choice, req.model) if req.HasField("tool_choice") else None
    offered = tools.allowed(req.tool_choice) if req.HasField("tool_choice") else tools.functions
    if offered:
        body["tools"] = offered
        if choice is not None:
            body["tool_choice"] = choice
        if req.HasField("parallel_tool_calls") and not req.parallel_tool_calls:
            body["parallel_tool_calls"] = False
    if req.HasField("max_output_tokens"):
        body["max_tokens"] = req.max_output_tokens
    if not (thinking and dialect.drop_sampling_when_thinking):
        if req.HasField("temperature"):
            body["temperature"] = req.temperature
        if req.HasField("top_p"):
            body["top_p"] = req.top_p
    if dialect.thinking_control and dialect.reasoning_field is not None:
        body["thinking"] = {"type": "enabled" if thinking else "disabled"}
        if thinking and req.HasField("reasoning") and req.reasoning.HasField("effort"):
            body["reasoning_effort"] = dialect.effort_map.get(req.reasoning.effort, "high")
    if req.HasField("text") and req.text.HasField("format") and req.text.format.type in ("json_object", "json_schema"):
        body["response_format"] = {"type": "json_object"}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body
