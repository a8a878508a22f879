"""Builders of items for the context tests."""

from __future__ import annotations

from responses_gateway.api.v1 import items_pb2 as ipb


def user(text: str) -> ipb.Item:
    return ipb.Item(message=ipb.MessageItem(role="user", text=text))


def assistant(text: str) -> ipb.Item:
    message = ipb.MessageItem(role="assistant")
    message.parts.parts.add(output_text=ipb.OutputText(text=text))
    return ipb.Item(message=message)


def call(call_id: str, name: str = "f", arguments: str = "{}") -> ipb.Item:
    return ipb.Item(function_call=ipb.FunctionCallItem(call_id=call_id, name=name, arguments=arguments))


def output(call_id: str, text: str = "ok") -> ipb.Item:
    return ipb.Item(function_call_output=ipb.FunctionCallOutputItem(call_id=call_id, text=text))


def reasoning(summary: str = "thinking") -> ipb.Item:
    item = ipb.ReasoningItem()
    item.summary.add(text=summary)
    return ipb.Item(reasoning=item)
