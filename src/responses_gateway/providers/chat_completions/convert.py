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

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.codec.fields import fragment
from responses_gateway.codec.items import json_value
from responses_gateway.config import ChatDialect
from responses_gateway.errors import InvalidRequest


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

    def __init__(self, thinking: bool, reasoning_field: str | None) -> None:
        self.messages: list[dict[str, Any]] = []
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
            self._call_ids.add(call.call_id)
            message = self._assistant()
            message.setdefault("tool_calls", []).append(
                {"id": call.call_id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            )
        elif kind == "function_call_output":
            output = item.function_call_output
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


def _tools(req: pb.CreateResponseRequest) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    for index, tool in enumerate(req.tools):
        if tool.WhichOneof("tool") != "function":
            kind = json_value(tool.hosted_json).get("type", "unknown")
            raise InvalidRequest(
                f"Tools of type '{kind}' are not supported by model '{req.model}'.",
                code="unsupported_tool",
                param=f"tools[{index}]",
            )
        fn = tool.function
        function: dict[str, Any] = {"name": fn.name}
        if fn.HasField("description"):
            function["description"] = fn.description
        function["parameters"] = fragment(fn.parameters_json) if fn.HasField("parameters_json") else {"type": "object", "properties": {}}
        tools.append({"type": "function", "function": function})
    return tools


def _tool_choice(choice: pb.ToolChoice) -> Any:
    kind = choice.WhichOneof("choice")
    if kind == "function_name":
        return {"type": "function", "function": {"name": choice.function_name}}
    if kind == "allowed_tools":
        return choice.allowed_tools.mode
    if kind == "other_json":
        raise InvalidRequest("This tool_choice is not supported by this model.", code="unsupported_value", param="tool_choice")
    return choice.mode or "auto"


def _allowed_names(choice: pb.ToolChoice) -> set[str] | None:
    if choice.WhichOneof("choice") != "allowed_tools":
        return None
    names = set()
    for text in choice.allowed_tools.tools_json:
        ref = json_value(text)
        if isinstance(ref, dict) and ref.get("type") == "function" and isinstance(ref.get("name"), str):
            names.add(ref["name"])
    return names


def to_chat_request(
    req: pb.CreateResponseRequest,
    upstream_model: str,
    dialect: ChatDialect,
    *,
    stream: bool,
    items: Iterable[ipb.Item] | None = None,
) -> dict[str, Any]:
    """The Chat Completions body for a Responses request whose conversation is `items` (default: its input)."""
    thinking = is_thinking(req, dialect)
    builder = _MessageBuilder(thinking, dialect.reasoning_field)
    if req.HasField("instructions"):
        builder.messages.append({"role": "system", "content": req.instructions})
    if req.WhichOneof("input") == "input_text":
        builder.messages.append({"role": "user", "content": req.input_text})
    else:
        for index, item in enumerate(req.input_items.items if items is None else items):
            builder.add(item, index)
    body: dict[str, Any] = {"model": upstream_model, "messages": builder.finish()}
    tools = _tools(req)
    if tools:
        allowed = _allowed_names(req.tool_choice) if req.HasField("tool_choice") else None
        body["tools"] = [t for t in tools if allowed is None or t["function"]["name"] in allowed]
        if req.HasField("tool_choice"):
            body["tool_choice"] = _tool_choice(req.tool_choice)
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
