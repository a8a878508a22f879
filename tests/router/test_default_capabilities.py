"""The default models declare what their upstreams accept: an image for deepseek-v4-pro is our 400, not DeepSeek's."""

from __future__ import annotations

import pytest

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.config import Settings
from responses_gateway.errors import InvalidRequest
from responses_gateway.router.capabilities import check_capabilities


def with_image() -> pb.CreateResponseRequest:
    image = ipb.ContentPart(input_image=ipb.InputImage(image_url="data:image/png;base64,iVBORw0KGgo=", detail="auto"))
    text = ipb.ContentPart(input_text=ipb.InputText(text="What is in this picture?"))
    message = ipb.MessageItem(role="user", parts=ipb.ContentList(parts=[text, image]))
    return pb.CreateResponseRequest(model="deepseek-v4-pro", input_items=ipb.ItemList(items=[ipb.Item(message=message)]))


def test_an_image_for_deepseek_v4_pro_is_a_400_naming_the_capability() -> None:
    models = {m.id: m for m in Settings().models}
    with pytest.raises(InvalidRequest) as refused:
        check_capabilities(models["deepseek-v4-pro"], with_image())
    assert refused.value.param == "input" and "image input" in refused.value.message
    check_capabilities(models["gpt-5.4"], with_image())  # OpenAI's models take images
