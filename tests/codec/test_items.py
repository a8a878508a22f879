"""Items and content parts: what clients send comes back as they sent it, mistakes name their param."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from responses_gateway.api.v1 import items_pb2 as pb
from responses_gateway.codec.items import (
    ENCRYPTED_REASONING,
    IMAGE_DETAILS,
    ITEM_TYPES,
    PART_TYPES,
    ROLES,
    function_call_to_json,
    item_from_json,
    item_to_json,
    items_from_json,
    json_value,
    message_to_json,
    part_from_json,
    part_to_json,
    parts_from_json,
    reasoning_item_to_json,
)
from responses_gateway.errors import InvalidRequest


def wire(value: Any) -> Any:
    """What a client receives: the encoded dict through orjson (embedded JSON fragments become values)."""
    return orjson.loads(orjson.dumps(value))


def round_trip(obj: dict[str, Any]) -> Any:
    return wire(item_to_json(item_from_json(obj, "input[0]")))


URL_CITATION = {
    "type": "url_citation",
    "start_index": 12,
    "end_index": 40,
    "url": "https://example.com/weather",
    "title": "Weather",
}
LOGPROB = {"token": "Hi", "logprob": -0.25, "bytes": [72, 105], "top_logprobs": []}

LOSSLESS_ITEMS: list[tuple[str, dict[str, Any]]] = [
    ("short_user_message_with_string_content", {"role": "user", "content": "What is the weather in Paris?"}),
    ("short_assistant_message_with_string_content", {"role": "assistant", "content": "Sunny."}),
    ("typed_developer_message_with_string_content", {"type": "message", "role": "developer", "content": "Be brief."}),
    ("typed_system_message_with_empty_string", {"type": "message", "role": "system", "content": ""}),
    (
        "user_message_with_every_input_part",
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Compare these."},
                {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "high"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "original"},
                {"type": "input_image", "file_id": "file-img1", "detail": "low"},
                {"type": "input_file", "file_id": "file-abc"},
                {"type": "input_file", "file_url": "https://example.com/report.pdf"},
                {"type": "input_file", "file_data": "data:application/pdf;base64,JVBERi0=", "filename": "r.pdf"},
            ],
        },
    ),
    ("short_message_with_empty_parts_array", {"role": "user", "content": []}),
    (
        "resent_assistant_output_message_with_annotations_logprobs_refusal_and_phase",
        {
            "id": "msg_68ca94fa",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "It is sunny in Paris.", "annotations": [URL_CITATION], "logprobs": [LOGPROB]},
                {"type": "refusal", "refusal": "I cannot help with the rest."},
            ],
            "phase": "final_answer",
        },
    ),
    (
        "function_call_as_output",
        {
            "id": "fc_123",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_abc",
            "name": "get_weather",
            "arguments": '{"city":"Paris","days":3}',
        },
    ),
    (
        "function_call_as_input_without_id_or_status",
        {"type": "function_call", "call_id": "call_abc", "name": "get_weather", "arguments": "{}"},
    ),
    (
        "function_call_output_with_string_output",
        {"type": "function_call_output", "call_id": "call_abc", "output": '{"temp_c":21}'},
    ),
    (
        "function_call_output_with_id_and_status",
        {"id": "fco_1", "type": "function_call_output", "status": "completed", "call_id": "call_abc", "output": "ok"},
    ),
    (
        "function_call_output_with_content_parts",
        {
            "type": "function_call_output",
            "call_id": "call_shot",
            "output": [
                {"type": "input_text", "text": "Screenshot attached."},
                {"type": "input_image", "image_url": "https://example.com/shot.png", "detail": "auto"},
                {"type": "input_file", "file_id": "file-log", "filename": "log.txt"},
            ],
        },
    ),
    ("function_call_output_with_empty_parts", {"type": "function_call_output", "call_id": "c1", "output": []}),
    (
        "reasoning_with_summary_content_and_encrypted_content",
        {
            "id": "rs_68ca",
            "type": "reasoning",
            "summary": [
                {"type": "summary_text", "text": "**Checking the forecast**"},
                {"type": "summary_text", "text": "**Answering**"},
            ],
            "content": [{"type": "reasoning_text", "text": "The user wants Paris weather."}],
            "encrypted_content": "gAAAAABo-opaque==",
        },
    ),
    ("reasoning_as_captured_without_status", {"id": "rs_1", "type": "reasoning", "summary": []}),
    (
        "reasoning_with_status",
        {"id": "rs_2", "type": "reasoning", "status": "completed", "summary": [{"type": "summary_text", "text": "s"}]},
    ),
    ("reasoning_with_empty_encrypted_content", {"id": "rs_3", "type": "reasoning", "summary": [], "encrypted_content": ""}),
    ("typed_item_reference", {"type": "item_reference", "id": "msg_earlier"}),
]


@pytest.mark.parametrize("obj", [obj for _, obj in LOSSLESS_ITEMS], ids=[name for name, _ in LOSSLESS_ITEMS])
def test_items_round_trip_to_the_same_json(obj: dict[str, Any]) -> None:
    assert round_trip(obj) == obj


def test_each_item_kind_decodes_to_its_own_oneof_case() -> None:
    items = items_from_json([obj for _, obj in LOSSLESS_ITEMS], "input")
    assert [i.WhichOneof("item") for i in items] == [
        "message",
        "message",
        "message",
        "message",
        "message",
        "message",
        "message",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
        "function_call_output",
        "function_call_output",
        "reasoning",
        "reasoning",
        "reasoning",
        "reasoning",
        "item_reference",
    ]


def test_a_short_form_message_remembers_it_had_no_type() -> None:
    short = item_from_json({"role": "user", "content": "hi"}, "input[0]").message
    typed = item_from_json({"type": "message", "role": "user", "content": "hi"}, "input[0]").message
    assert (short.typed, short.WhichOneof("content"), short.text, short.id, short.status) == (False, "text", "hi", "", "")
    assert typed.typed is True
    assert "type" not in message_to_json(short)
    assert message_to_json(typed)["type"] == "message"


def test_string_content_stays_a_string_and_an_array_stays_an_array_even_when_empty() -> None:
    empty_text = item_from_json({"role": "user", "content": ""}, "input[0]").message
    empty_parts = item_from_json({"role": "user", "content": []}, "input[0]").message
    assert empty_text.WhichOneof("content") == "text"
    assert empty_parts.WhichOneof("content") == "parts"
    output = item_from_json({"type": "function_call_output", "call_id": "c", "output": []}, "input[0]")
    assert output.function_call_output.WhichOneof("output") == "parts"


def test_parts_decode_to_their_fields() -> None:
    message = item_from_json(LOSSLESS_ITEMS[4][1], "input[0]").message
    parts = message.parts.parts
    assert [p.WhichOneof("part") for p in parts] == [
        "input_text",
        "input_image",
        "input_image",
        "input_image",
        "input_file",
        "input_file",
        "input_file",
    ]
    assert parts[0].input_text.text == "Compare these."
    url_image, _, file_image = parts[1].input_image, parts[2].input_image, parts[3].input_image
    assert (url_image.image_url, url_image.HasField("file_id"), url_image.detail) == ("https://example.com/a.png", False, "high")
    assert (file_image.file_id, file_image.HasField("image_url"), file_image.detail) == ("file-img1", False, "low")
    data_file = parts[6].input_file
    assert (data_file.file_data, data_file.filename) == ("data:application/pdf;base64,JVBERi0=", "r.pdf")
    assert not data_file.HasField("file_id") and not data_file.HasField("file_url")


def test_annotations_and_logprobs_are_kept_byte_exact_with_integers_intact() -> None:
    part = part_from_json(
        {"type": "output_text", "text": "t", "annotations": [URL_CITATION], "logprobs": [LOGPROB]},
        "input[0].content[0].",
    )
    assert list(part.output_text.annotations_json) == [orjson.dumps(URL_CITATION).decode()]
    annotation = json_value(part.output_text.annotations_json[0])
    assert annotation == URL_CITATION
    assert type(annotation["start_index"]) is int and type(annotation["end_index"]) is int
    assert json_value(part.output_text.logprobs_json[0])["bytes"] == [72, 105]


def test_json_value_decodes_any_json_text() -> None:
    assert json_value('{"a":[1,2.5,null,true]}') == {"a": [1, 2.5, None, True]}
    assert json_value('"s"') == "s"
    assert json_value("17") == 17


def test_reasoning_decodes_summary_content_and_encrypted_state() -> None:
    reasoning = item_from_json(LOSSLESS_ITEMS[13][1], "input[0]").reasoning
    assert reasoning.id == "rs_68ca"
    assert [s.text for s in reasoning.summary] == ["**Checking the forecast**", "**Answering**"]
    assert [c.text for c in reasoning.content] == ["The user wants Paris weather."]
    assert reasoning.HasField("encrypted_content") and reasoning.encrypted_content == "gAAAAABo-opaque=="
    assert not reasoning.HasField("status")


def test_encrypted_reasoning_include_value() -> None:
    assert ENCRYPTED_REASONING == "reasoning.encrypted_content"


def test_the_allowed_sets_match_the_api() -> None:
    assert ROLES == ("user", "assistant", "system", "developer")
    assert set(ITEM_TYPES) == {
        "message",
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "reasoning",
        "item_reference",
    }
    assert set(PART_TYPES) == {"input_text", "input_image", "input_file", "output_text", "refusal"}
    assert IMAGE_DETAILS == ("auto", "low", "high", "original")


# --- normalisations: where the codec writes a canonical form ----------------


def test_untyped_item_reference_gains_its_type_because_encoding_always_names_the_kind() -> None:
    item = item_from_json({"id": "msg_earlier"}, "input[0]")
    assert item.WhichOneof("item") == "item_reference"
    assert wire(item_to_json(item)) == {"type": "item_reference", "id": "msg_earlier"}


def test_untyped_message_with_id_gains_type_because_items_with_ids_are_output_items() -> None:
    out = round_trip({"id": "msg_1", "role": "assistant", "content": "x"})
    assert out == {"id": "msg_1", "type": "message", "role": "assistant", "content": "x"}


def test_image_without_detail_comes_back_with_detail_auto_the_api_default() -> None:
    obj = {"role": "user", "content": [{"type": "input_image", "image_url": "https://example.com/a.png"}]}
    assert round_trip(obj)["content"] == [{"type": "input_image", "image_url": "https://example.com/a.png", "detail": "auto"}]


def test_output_text_without_annotations_gains_empty_lists_as_output_parts_always_carry_them() -> None:
    obj = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}
    assert round_trip(obj)["content"] == [{"type": "output_text", "text": "ok", "annotations": [], "logprobs": []}]


def test_reasoning_without_summary_gains_an_empty_summary_because_summary_is_required() -> None:
    assert round_trip({"id": "rs_1", "type": "reasoning"}) == {"id": "rs_1", "type": "reasoning", "summary": []}


def test_reasoning_with_empty_content_drops_the_key_as_captures_vary() -> None:
    obj = {"id": "rs_1", "type": "reasoning", "summary": [], "content": []}
    assert round_trip(obj) == {"id": "rs_1", "type": "reasoning", "summary": []}


def test_null_optional_fields_count_as_absent_and_are_not_echoed() -> None:
    obj = {
        "type": "function_call",
        "id": None,
        "status": None,
        "call_id": "c1",
        "name": "f",
        "arguments": "{}",
    }
    assert round_trip(obj) == {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    image = {"role": "user", "content": [{"type": "input_image", "image_url": None, "file_id": "file-1", "detail": None}]}
    assert round_trip(image)["content"] == [{"type": "input_image", "file_id": "file-1", "detail": "auto"}]


# --- encoding writes only what is present ------------------------------------


@pytest.mark.parametrize(
    "obj",
    [
        {"role": "user", "content": "hi"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "42"},
        {"type": "reasoning", "summary": []},
    ],
    ids=["short_message", "typed_message", "function_call", "function_call_output", "reasoning"],
)
def test_an_input_item_without_an_id_goes_out_without_one(obj: dict[str, Any]) -> None:
    out = round_trip(obj)
    assert "id" not in out
    assert "status" not in out
    assert "phase" not in out


def test_items_built_in_proto_encode_only_their_set_fields() -> None:
    call = pb.Item(function_call=pb.FunctionCallItem(call_id="c", name="f", arguments="{}"))
    assert item_to_json(call) == {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}
    output = pb.Item(function_call_output=pb.FunctionCallOutputItem(call_id="c"))
    assert item_to_json(output) == {"type": "function_call_output", "call_id": "c", "output": ""}
    assert reasoning_item_to_json(pb.ReasoningItem()) == {"type": "reasoning", "summary": []}
    assert item_to_json(pb.Item(item_reference=pb.ItemReference(id="fc_1"))) == {"type": "item_reference", "id": "fc_1"}


def test_output_items_the_service_filled_come_out_with_id_type_and_status() -> None:
    message = pb.MessageItem(id="msg_1", role="assistant", status="completed")
    message.parts.parts.add(output_text=pb.OutputText(text="Hello"))
    assert wire(message_to_json(message)) == {
        "id": "msg_1",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Hello", "annotations": [], "logprobs": []}],
    }
    call = pb.FunctionCallItem(id="fc_1", status="in_progress", call_id="call_1", name="f", arguments="")
    assert function_call_to_json(call) == {
        "id": "fc_1",
        "type": "function_call",
        "status": "in_progress",
        "call_id": "call_1",
        "name": "f",
        "arguments": "",
    }


def test_parts_built_in_proto_encode_only_their_set_fields() -> None:
    assert part_to_json(pb.ContentPart(input_image=pb.InputImage())) == {"type": "input_image", "detail": "auto"}
    assert part_to_json(pb.ContentPart(input_file=pb.InputFile(filename="a.txt"))) == {
        "type": "input_file",
        "filename": "a.txt",
    }
    assert part_to_json(pb.ContentPart(refusal=pb.Refusal(refusal="no"))) == {"type": "refusal", "refusal": "no"}
    assert part_to_json(pb.ContentPart(input_text=pb.InputText(text=""))) == {"type": "input_text", "text": ""}


def test_empty_item_and_empty_part_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="empty item"):
        item_to_json(pb.Item())
    with pytest.raises(ValueError, match="empty content part"):
        part_to_json(pb.ContentPart())


# --- leniency: newer fields inside items -------------------------------------


def test_unknown_keys_inside_items_and_parts_are_tolerated_and_not_echoed() -> None:
    """Clients resend output items carrying fields newer than ours."""
    resent = [
        {
            "id": "msg_1",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "created_by": "agent",
            "content": [
                {"type": "output_text", "text": "ok", "annotations": [], "logprobs": [], "citations_v2": {"x": 1}}
            ],
        },
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}", "namespace": "tools", "caller": None},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "s", "lang": "en"}], "x": 1},
        {"type": "function_call_output", "call_id": "c1", "output": "42", "created_by": "client"},
    ]
    items = items_from_json(resent, "input")
    assert [wire(item_to_json(i)) for i in items] == [
        {
            "id": "msg_1",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "ok", "annotations": [], "logprobs": []}],
        },
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}", "namespace": "tools"},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "s"}]},
        {"type": "function_call_output", "call_id": "c1", "output": "42"},
    ]


# --- mistakes name their exact param -----------------------------------------

_OK = {"role": "user", "content": "first"}


@pytest.mark.parametrize(
    ("bad", "param", "code"),
    [
        ("not an item", "input[2]", "invalid_type"),
        ({"content": "no role, no type"}, "input[2].type", "missing_required_parameter"),
        ({"type": "web_search_call", "id": "ws_1"}, "input[2].type", "invalid_value"),
        ({"type": 5, "role": "user", "content": "x"}, "input[2].type", "invalid_type"),
        ({"type": "message", "role": "wizard", "content": "x"}, "input[2].role", "invalid_value"),
        ({"role": "tool", "content": "x"}, "input[2].role", "invalid_value"),
        ({"type": "message", "content": "x"}, "input[2].role", "missing_required_parameter"),
        ({"type": "message", "role": 1, "content": "x"}, "input[2].role", "invalid_type"),
        ({"type": "message", "role": "user"}, "input[2].content", "missing_required_parameter"),
        ({"role": "user", "content": {"text": "x"}}, "input[2].content", "invalid_type"),
        ({"role": "user", "content": ["hi"]}, "input[2].content[0]", "invalid_type"),
        ({"role": "user", "content": [{"type": "input_audio", "data": "x"}]}, "input[2].content[0].type", "invalid_value"),
        (
            {"role": "user", "content": [{"type": "input_text", "text": "a"}, {"text": "b"}]},
            "input[2].content[1].type",
            "missing_required_parameter",
        ),
        ({"role": "user", "content": [{"type": ["input_text"], "text": "a"}]}, "input[2].content[0].type", "invalid_type"),
        ({"role": "user", "content": [{"type": "input_text"}]}, "input[2].content[0].text", "missing_required_parameter"),
        ({"role": "user", "content": [{"type": "input_text", "text": 3}]}, "input[2].content[0].text", "invalid_type"),
        (
            {"role": "user", "content": [{"type": "input_image", "image_url": "u", "detail": "ultra"}]},
            "input[2].content[0].detail",
            "invalid_value",
        ),
        ({"role": "user", "content": [{"type": "input_image", "image_url": 7}]}, "input[2].content[0].image_url", "invalid_type"),
        ({"role": "user", "content": [{"type": "input_file", "file_id": False}]}, "input[2].content[0].file_id", "invalid_type"),
        ({"role": "assistant", "content": [{"type": "refusal"}]}, "input[2].content[0].refusal", "missing_required_parameter"),
        (
            {"role": "assistant", "content": [{"type": "output_text", "text": "t", "annotations": {}}]},
            "input[2].content[0].annotations",
            "invalid_type",
        ),
        ({"type": "message", "role": "assistant", "content": "x", "phase": 3}, "input[2].phase", "invalid_type"),
        ({"type": "message", "role": "assistant", "content": "x", "status": 1}, "input[2].status", "invalid_type"),
        ({"type": "function_call", "name": "f", "arguments": "{}"}, "input[2].call_id", "missing_required_parameter"),
        ({"type": "function_call", "call_id": "c", "arguments": "{}"}, "input[2].name", "missing_required_parameter"),
        ({"type": "function_call", "call_id": "c", "name": "f"}, "input[2].arguments", "missing_required_parameter"),
        ({"type": "function_call", "call_id": "c", "name": "f", "arguments": {"a": 1}}, "input[2].arguments", "invalid_type"),
        ({"type": "function_call_output", "call_id": "c"}, "input[2].output", "missing_required_parameter"),
        ({"type": "function_call_output", "output": "x"}, "input[2].call_id", "missing_required_parameter"),
        ({"type": "function_call_output", "call_id": "c", "output": 42}, "input[2].output", "invalid_type"),
        (
            {"type": "function_call_output", "call_id": "c", "output": [{"type": "image", "url": "u"}]},
            "input[2].output[0].type",
            "invalid_value",
        ),
        ({"type": "reasoning", "summary": "short"}, "input[2].summary", "invalid_type"),
        ({"type": "reasoning", "summary": ["s"]}, "input[2].summary[0]", "invalid_type"),
        ({"type": "reasoning", "summary": [{"type": "summary_text"}]}, "input[2].summary[0].text", "missing_required_parameter"),
        (
            {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": 1}]},
            "input[2].content[0].text",
            "invalid_type",
        ),
        ({"type": "reasoning", "summary": [], "encrypted_content": 1}, "input[2].encrypted_content", "invalid_type"),
        ({"type": "reasoning", "id": 9, "summary": []}, "input[2].id", "invalid_type"),
        ({"type": "item_reference"}, "input[2].id", "missing_required_parameter"),
        ({"id": 12}, "input[2].id", "invalid_type"),
    ],
)
def test_mistakes_in_the_third_item_name_their_param(bad: object, param: str, code: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        items_from_json([_OK, _OK, bad], "input")
    assert (caught.value.param, caught.value.code) == (param, code)
    assert caught.value.http_status == 400
    assert caught.value.type == "invalid_request_error"
    if code == "invalid_value":  # OpenAI's wording names the value, not the param
        assert caught.value.message.startswith("Invalid value: '")
    else:
        assert f"'{param}'" in caught.value.message


def test_an_unknown_item_type_lists_the_supported_ones() -> None:
    with pytest.raises(InvalidRequest) as caught:
        item_from_json({"type": "computer_call"}, "input[0]")
    assert caught.value.message == (
        "Invalid value: 'computer_call'. Supported values are: 'message', 'function_call', "
        "'function_call_output', 'custom_tool_call', 'custom_tool_call_output', 'reasoning', and 'item_reference'."
    )


def test_a_wrong_type_says_what_was_expected_and_what_came() -> None:
    with pytest.raises(InvalidRequest) as caught:
        item_from_json({"role": "user", "content": 42}, "input[0]")
    assert caught.value.message == (
        "Invalid type for 'input[0].content': expected a string or an array, but got an integer instead."
    )


def test_a_missing_part_type_names_the_part() -> None:
    with pytest.raises(InvalidRequest) as caught:
        item_from_json({"role": "user", "content": [{"text": "hi"}]}, "input[0]")
    assert caught.value.message == "Missing required parameter: 'input[0].content[0].type'."


def test_part_helpers_use_the_prefix_they_are_given() -> None:
    with pytest.raises(InvalidRequest) as caught:
        part_from_json({"type": "video"}, "input[4].content[3].")
    assert (caught.value.param, caught.value.code) == ("input[4].content[3].type", "invalid_value")
    with pytest.raises(InvalidRequest) as caught:
        parts_from_json([{"type": "input_text", "text": "a"}, 5], "input[1].output")
    assert (caught.value.param, caught.value.code) == ("input[1].output[1]", "invalid_type")


def test_the_path_prefix_is_the_callers_array_name() -> None:
    with pytest.raises(InvalidRequest) as caught:
        items_from_json([{"type": "message", "role": "assistant", "content": [{"type": "nope"}]}], "output")
    assert caught.value.param == "output[0].content[0].type"
