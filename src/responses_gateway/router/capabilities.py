"""What a request needs from a model, checked against what the model declares."""

from __future__ import annotations

from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.config import ModelConfig
from responses_gateway.errors import InvalidRequest
from responses_gateway.context.transcript import EMPTY, Transcript, uses_images


def check_capabilities(model: ModelConfig, request: pb.CreateResponseRequest, history: Transcript = EMPTY) -> None:
    """400 naming the capability a request (continuing `history`) needs and the model lacks."""
    caps = model.capabilities
    if request.tools and not caps.tools:
        raise InvalidRequest(
            f"The model '{model.id}' does not support tools (tool calling).", code="unsupported_parameter", param="tools"
        )
    if request.HasField("reasoning") and request.reasoning.HasField("effort") and not caps.reasoning:
        if request.reasoning.effort != "none":
            raise InvalidRequest(
                f"Unsupported parameter: 'reasoning.effort' is not supported with the model '{model.id}'.",
                code="unsupported_parameter",
                param="reasoning.effort",
            )
    if not caps.images and (history.uses_images or uses_images(request.input_items.items)):
        raise InvalidRequest(
            f"The model '{model.id}' does not support image input.", code="unsupported_parameter", param="input"
        )
