"""What a request's access line says beyond route and status: the model asked for and the tokens used."""

from __future__ import annotations

from aiohttp import web

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb

MODEL = web.RequestKey("model", str)
USAGE = web.RequestKey("usage", pb.Usage)
# A model name in a log line is the client's text: bounded.
MAX_LOGGED_MODEL = 128
_TERMINAL = ("completed", "incomplete", "failed")


def note_model(request: web.Request, model: str) -> None:
    """The model the request named."""
    request[MODEL] = model[:MAX_LOGGED_MODEL]


def note_usage(request: web.Request, response: pb.Response) -> None:
    """The usage of the response the request received."""
    request[USAGE] = response.usage


def note_terminal(request: web.Request, event: epb.ResponseStreamEvent) -> None:
    """The usage of a stream's terminal event, when `event` is one."""
    kind = event.WhichOneof("event")
    if kind in _TERMINAL:
        request[USAGE] = getattr(event, kind).response.usage
