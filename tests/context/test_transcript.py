"""A long conversation is encoded for the upstream once: each turn adds only its new items."""

from __future__ import annotations

import orjson

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.config import ModelConfig
from responses_gateway.providers.base import ProviderCall
from responses_gateway.providers.openai_responses import STATELESS_ITEMS, input_json
from responses_gateway.context.transcript import EMPTY, Transcript

MODEL = ModelConfig(id="gpt-5.4", provider="openai", context_window=1000, max_output_tokens=100)


def message(role: str, text: str) -> ipb.Item:
    item = ipb.Item()
    item.message.role = role
    item.message.id = f"msg_{abs(hash(text))}"
    part = item.message.parts.parts.add()
    if role == "assistant":
        part.output_text.text = text
    else:
        part.input_text.text = text
    return item


def reasoning_without_state() -> ipb.Item:
    item = ipb.Item()
    item.reasoning.id = "rs_1"
    return item


class CountingFormat:
    """Encodes as the OpenAI adapter does and counts how many items it was asked for."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, item: ipb.Item) -> bytes | None:
        self.calls += 1
        return STATELESS_ITEMS.encode(item)


def fresh_json(items: list[ipb.Item]) -> list[object]:
    return [orjson.loads(e) for e in map(STATELESS_ITEMS.encode, items) if e is not None]


def turns(n: int) -> list[ipb.Item]:
    out: list[ipb.Item] = []
    for i in range(n):
        out += [message("user", f"question {i}"), message("assistant", f"answer {i}")]
    return out


def test_a_continuation_encodes_only_its_new_items_and_matches_a_fresh_encoding() -> None:
    fmt = CountingFormat()
    first = Transcript(turns(50), [3] * 100, "o200k")
    first.encoded(fmt)
    assert fmt.calls == 100
    second = first.extend(turns(51)[100:], [3, 3])
    blob = second.encoded(fmt).from_item(0)
    assert fmt.calls == 102
    assert orjson.loads(b"[" + blob[:-1] + b"]") == fresh_json(list(second.items))
    assert second.total_tokens == 306
    assert second.encoded(fmt) is second.encoded(fmt)  # computed once


def test_a_truncated_view_is_a_slice_of_the_same_bytes() -> None:
    items = turns(10)
    transcript = Transcript(items, [1] * 20, "o200k")
    encoded = transcript.encoded(STATELESS_ITEMS)
    for start in (0, 1, 7, 19, 20):
        blob = encoded.from_item(start)
        assert orjson.loads(b"[" + blob[:-1] + b"]") == fresh_json(items[start:])


def test_items_the_upstream_must_not_see_are_left_out_without_shifting_the_others() -> None:
    items = [message("user", "hi"), reasoning_without_state(), message("assistant", "hello"), message("user", "more")]
    encoded = Transcript(items, [1, 1, 1, 1], "o200k").encoded(STATELESS_ITEMS)
    assert orjson.loads(b"[" + encoded.from_item(1)[:-1] + b"]") == fresh_json(items[2:])
    assert orjson.loads(b"[" + encoded.from_item(2)[:-1] + b"]") == fresh_json(items[2:])


def test_the_upstream_input_is_history_then_new_items() -> None:
    history = Transcript(turns(3), [1] * 6, "o200k")
    request = pb.CreateResponseRequest(model="gpt-5.4")
    request.input_items.items.append(message("user", "and then?"))
    for start in (0, 2, 6):
        call = ProviderCall(request=request, model=MODEL, upstream_model="gpt-5.4", history=history, history_start=start)
        expected = fresh_json([*history.items[start:], *request.input_items.items])
        assert orjson.loads(orjson.dumps({"input": input_json(call)}))["input"] == expected
    empty = ProviderCall(request=pb.CreateResponseRequest(model="gpt-5.4"), model=MODEL, upstream_model="gpt-5.4", history=history)
    assert orjson.loads(orjson.dumps(input_json(empty))) == fresh_json(list(history.items))
    nothing = ProviderCall(request=pb.CreateResponseRequest(model="gpt-5.4"), model=MODEL, upstream_model="gpt-5.4", history=EMPTY)
    assert orjson.loads(orjson.dumps(input_json(nothing))) == []


def test_images_anywhere_in_the_history_are_remembered() -> None:
    image = ipb.Item()
    image.message.role = "user"
    image.message.parts.parts.add().input_image.image_url = "https://example.com/cat.png"
    plain = Transcript(turns(2), [1] * 4, "o200k")
    assert not plain.uses_images
    with_image = plain.extend([image], [1])
    assert with_image.uses_images
    assert with_image.extend(turns(1), [1, 1]).uses_images
