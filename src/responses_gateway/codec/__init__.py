"""The Responses JSON wire format ⇄ proto, spoken at both edges: to clients
(bridge) and to Responses-protocol upstreams (providers.openai_responses)."""

from responses_gateway.codec.events import event_from_json, event_to_json, event_to_sse
from responses_gateway.codec.request import request_from_json, request_to_json
from responses_gateway.codec.response import response_from_json, response_to_json

__all__ = [
    "event_from_json",
    "event_to_json",
    "event_to_sse",
    "request_from_json",
    "request_to_json",
    "response_from_json",
    "response_to_json",
]
