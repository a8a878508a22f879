"""The gRPC face, end to end: the same scenarios as the SDK suite, through grpc.aio stubs.

Errors arrive as gRPC statuses whose rich details carry the OpenAI error object
(`responses_gateway.v1.ErrorDetail`); health and reflection work the way
grpc_health_probe and grpcurl use them.
"""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from responses_gateway.api.v1 import events_pb2, items_pb2, responses_pb2, service_pb2, service_pb2_grpc
from tests.e2e.conftest import Gateway

SERVICE = "responses_gateway.v1.ResponsesService"
Stub = service_pb2_grpc.ResponsesServiceStub


def error_detail(exc: grpc.aio.AioRpcError) -> responses_pb2.ErrorDetail:
    """The ErrorDetail packed in the status details of a failed call (exactly one)."""
    status = rpc_status.from_call(exc)
    assert status is not None, f"no grpc-status-details-bin on {exc.code()}: {exc.details()}"
    assert status.code == exc.code().value[0]
    details = [d for d in status.details if d.Is(responses_pb2.ErrorDetail.DESCRIPTOR)]
    assert len(details) == 1, status
    detail = responses_pb2.ErrorDetail()
    assert details[0].Unpack(detail)
    return detail


def reply_text(response: responses_pb2.Response) -> str:
    last = response.output[-1]
    assert last.WhichOneof("item") == "message"
    assert last.message.role == "assistant"
    assert last.message.WhichOneof("content") == "parts"
    part = last.message.parts.parts[0]
    assert part.WhichOneof("part") == "output_text"
    return part.output_text.text


def user(text: str) -> items_pb2.Item:
    return items_pb2.Item(message=items_pb2.MessageItem(role="user", text=text))


def assistant(text: str) -> items_pb2.Item:
    return items_pb2.Item(message=items_pb2.MessageItem(role="assistant", text=text))


def create(input_text: str, /, **fields: object) -> responses_pb2.CreateResponseRequest:
    fields.setdefault("model", "gpt-5.4")
    return responses_pb2.CreateResponseRequest(input_text=input_text, **fields)


async def collect(call: object) -> list[events_pb2.ResponseStreamEvent]:
    return [event async for event in call]  # type: ignore[attr-defined]


# --- create / stream ---------------------------------------------------------


async def test_create_unary_input_text(stub: Stub) -> None:
    response = await stub.CreateResponse(create("hello"))
    assert response.id.startswith("resp_")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == "gpt-5.4"
    assert reply_text(response) == "You said: hello (turn 1)"
    assert response.output[0].WhichOneof("item") == "reasoning"
    assert response.HasField("usage")
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert not response.HasField("error")


async def test_create_unary_input_items_counts_turns(stub: Stub) -> None:
    items = items_pb2.ItemList(items=[user("one"), assistant("You said: one (turn 1)"), user("two")])
    response = await stub.CreateResponse(responses_pb2.CreateResponseRequest(model="gpt-5.4", input_items=items))
    assert response.status == "completed"
    assert reply_text(response) == "You said: two (turn 2)"


async def test_stream_response_event_order(stub: Stub) -> None:
    events = await collect(stub.StreamResponse(create("hello there")))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    kinds = [e.WhichOneof("event") for e in events]
    deltas = kinds.count("output_text_delta")
    assert deltas >= 2
    assert kinds == [
        "created",
        "in_progress",
        "output_item_added",
        "output_item_done",
        "output_item_added",
        "content_part_added",
        *["output_text_delta"] * deltas,
        "output_text_done",
        "content_part_done",
        "output_item_done",
        "completed",
    ]
    assert events[0].created.response.status == "in_progress"
    assert events[2].output_item_added.item.WhichOneof("item") == "reasoning"
    assert events[3].output_item_done.item.WhichOneof("item") == "reasoning"
    assert events[4].output_item_added.item.WhichOneof("item") == "message"
    text = "".join(e.output_text_delta.delta for e in events if e.WhichOneof("event") == "output_text_delta")
    assert text == "You said: hello there (turn 1)"
    done = next(e.output_text_done for e in events if e.WhichOneof("event") == "output_text_done")
    assert done.text == text
    final = events[-1].completed.response
    assert final.status == "completed"
    assert final.id == events[0].created.response.id
    assert final.id.startswith("resp_")
    assert reply_text(final) == text
    assert final.HasField("usage")
    assert final.usage.output_tokens > 0


async def test_previous_response_chain_three_turns(gateway: Gateway, stub: Stub) -> None:
    first = await stub.CreateResponse(create("one"))
    second = await stub.CreateResponse(create("two", previous_response_id=first.id))
    third = await stub.CreateResponse(create("three", previous_response_id=second.id))
    assert reply_text(first) == "You said: one (turn 1)"
    assert reply_text(second) == "You said: two (turn 2)"
    assert reply_text(third) == "You said: three (turn 3)"
    assert third.previous_response_id == second.id
    bodies = gateway.upstream_bodies()
    assert len(bodies) == 3
    for body in bodies:
        assert "previous_response_id" not in body
        assert body["store"] is False
    # The last upstream call carries the whole conversation, rebuilt by the gateway.
    assert isinstance(bodies[-1]["input"], list)


# --- stored responses ----------------------------------------------------------


async def test_get_returns_what_create_returned(stub: Stub) -> None:
    created = await stub.CreateResponse(create("keep me"))
    fetched = await stub.GetResponse(service_pb2.GetResponseRequest(id=created.id))
    assert fetched == created


async def test_delete_then_get_is_not_found(stub: Stub) -> None:
    created = await stub.CreateResponse(create("delete me"))
    deleted = await stub.DeleteResponse(service_pb2.DeleteResponseRequest(id=created.id))
    assert deleted.id == created.id
    assert deleted.deleted is True
    assert deleted.object == "response"  # reference §1: {"id","object":"response","deleted":true}
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.GetResponse(service_pb2.GetResponseRequest(id=created.id))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    detail = error_detail(info.value)
    assert detail.http_status == 404
    assert detail.type == "invalid_request_error"
    assert created.id in detail.message


async def test_store_false_is_not_retrievable(stub: Stub) -> None:
    created = await stub.CreateResponse(create("forget me", store=False))
    assert created.store is False
    assert reply_text(created) == "You said: forget me (turn 1)"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.GetResponse(service_pb2.GetResponseRequest(id=created.id))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_detail(info.value).http_status == 404


# --- errors as statuses ----------------------------------------------------------


async def test_unknown_model_is_not_found(gateway: Gateway, stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.CreateResponse(create("hi", model="no-such-model"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    detail = error_detail(info.value)
    assert detail.code == "model_not_found"
    assert detail.param == "model"
    assert detail.http_status == 400
    assert detail.type == "invalid_request_error"
    assert "no-such-model" in detail.message
    assert gateway.upstream_bodies() == []


async def test_temperature_out_of_range(gateway: Gateway, stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.CreateResponse(create("hi", temperature=3))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    detail = error_detail(info.value)
    assert detail.param == "temperature"
    assert detail.code == "decimal_above_max_value"
    assert detail.http_status == 400
    assert gateway.upstream_bodies() == []


async def test_missing_model(stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.CreateResponse(responses_pb2.CreateResponseRequest(input_text="hi"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    detail = error_detail(info.value)
    assert detail.param == "model"
    assert detail.code == "missing_required_parameter"
    assert detail.message == "Missing required parameter: 'model'."


async def test_unknown_previous_response(stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.CreateResponse(create("hi", previous_response_id="resp_doesnotexist"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    detail = error_detail(info.value)
    assert detail.code == "previous_response_not_found"
    assert detail.param == "previous_response_id"
    assert detail.http_status == 400


async def test_upstream_429_is_resource_exhausted(stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.CreateResponse(create("hi [[http:429]]"))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    detail = error_detail(info.value)
    assert detail.http_status == 429


async def test_stream_upstream_429_raises_on_first_read(stub: Stub) -> None:
    call = stub.StreamResponse(create("hi [[http:429]]"))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call.read()
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_detail(info.value).http_status == 429


async def test_stream_error_event_then_failed(stub: Stub) -> None:
    events = await collect(stub.StreamResponse(create("hi [[stream:error]]")))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[0] == "created"
    assert kinds[-2:] == ["error", "failed"], kinds
    assert events[-2].error.error.message
    failed = events[-1].failed.response
    assert failed.status == "failed"
    assert failed.HasField("error")
    assert failed.error.message


async def test_batched_stream_carries_the_same_events_in_fewer_messages(stub: Stub) -> None:
    """StreamResponseBatches: what the bridge uses over the hop; same events, same order."""
    prompt = "please echo these twelve words back to me in order right now thanks"
    plain = await collect(stub.StreamResponse(create(prompt, store=False)))
    batches = [batch async for batch in stub.StreamResponseBatches(create(prompt, store=False))]
    flat = [event for batch in batches for event in batch.events]
    assert all(batch.events for batch in batches)
    assert [e.WhichOneof("event") for e in flat] == [e.WhichOneof("event") for e in plain]
    assert [e.sequence_number for e in flat] == list(range(len(flat)))
    assert flat[-1].completed.response.output[-1].message.parts.parts[0].output_text.text == (
        plain[-1].completed.response.output[-1].message.parts.parts[0].output_text.text
    )
    assert len(batches) < len(flat)  # the fake sends its deltas in bursts: they travel together


async def test_batched_stream_errors_before_the_first_event_are_statuses(stub: Stub) -> None:
    call = stub.StreamResponseBatches(create("hi [[http:429]]"))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call.read()
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_detail(info.value).http_status == 429


# --- models -------------------------------------------------------------------


async def test_list_models(stub: Stub) -> None:
    models = await stub.ListModels(service_pb2.ListModelsRequest())
    assert models.object == "list"
    assert sorted(m.id for m in models.data) == sorted(["gpt-5.4", "gpt-5.4-mini", "gpt-4.1-classic", "keyless-model"])
    assert all(m.object == "model" for m in models.data)


async def test_get_model(stub: Stub) -> None:
    model = await stub.GetModel(service_pb2.GetModelRequest(id="gpt-5.4"))
    assert model.id == "gpt-5.4"
    assert model.object == "model"
    assert model.owned_by == "openai"


async def test_get_unknown_model_is_not_found(stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.GetModel(service_pb2.GetModelRequest(id="nope"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    detail = error_detail(info.value)
    assert detail.http_status in (400, 404)
    assert "nope" in detail.message


# --- health & reflection ----------------------------------------------------------


@pytest.mark.parametrize("service", ["", SERVICE])
async def test_health_serving(gateway: Gateway, service: str) -> None:
    async with gateway.channel() as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def _reflect(
    reflection: reflection_pb2_grpc.ServerReflectionStub, request: reflection_pb2.ServerReflectionRequest
) -> reflection_pb2.ServerReflectionResponse:
    call = reflection.ServerReflectionInfo()
    await call.write(request)
    await call.done_writing()
    replies = [reply async for reply in call]
    assert len(replies) == 1
    assert replies[0].WhichOneof("message_response") != "error_response", replies[0].error_response
    return replies[0]


async def test_reflection_only_client(gateway: Gateway) -> None:
    """What grpcurl does with no .proto files: list, fetch descriptors, call by JSON."""
    async with gateway.channel() as channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)

        listed = await _reflect(reflection, reflection_pb2.ServerReflectionRequest(list_services=""))
        names = {s.name for s in listed.list_services_response.service}
        assert {SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names

        # Fetch the file holding the service, then every dependency by name.
        files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
        reply = await _reflect(reflection, reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE))
        pending = list(reply.file_descriptor_response.file_descriptor_proto)
        assert pending
        while pending:
            proto = descriptor_pb2.FileDescriptorProto.FromString(pending.pop())
            if proto.name in files:
                continue
            files[proto.name] = proto
            for dep in proto.dependency:
                if dep not in files:
                    reply = await _reflect(reflection, reflection_pb2.ServerReflectionRequest(file_by_filename=dep))
                    pending.extend(reply.file_descriptor_response.file_descriptor_proto)

        pool = descriptor_pool.DescriptorPool()
        added: set[str] = set()

        def add(name: str) -> None:
            if name in added:
                return
            for dep in files[name].dependency:
                add(dep)
            pool.Add(files[name])
            added.add(name)

        for name in files:
            add(name)

        method = pool.FindServiceByName(SERVICE).methods_by_name["CreateResponse"]
        request_cls = message_factory.GetMessageClass(method.input_type)
        response_cls = message_factory.GetMessageClass(method.output_type)
        assert request_cls is not responses_pb2.CreateResponseRequest

        request = json_format.ParseDict({"model": "gpt-5.4", "input_text": "hi"}, request_cls())
        call = channel.unary_unary(
            f"/{SERVICE}/CreateResponse",
            request_serializer=request_cls.SerializeToString,
            response_deserializer=response_cls.FromString,
        )
        response = await call(request)

    as_json = json_format.MessageToDict(response, preserving_proto_field_name=True)
    assert as_json["status"] == "completed"
    assert as_json["id"].startswith("resp_")
    message = as_json["output"][-1]["message"]
    assert message["parts"]["parts"][0]["output_text"]["text"] == "You said: hi (turn 1)"


# --- bad input through gRPC: the service checks it, not only the HTTP decoder ----------
#
# A gRPC caller builds the proto directly, so nothing the JSON decoder enforces
# (item kinds, roles, well-formed *_json fields, the passthrough allowlist) has
# happened. The service must still answer INVALID_ARGUMENT naming the param (as
# the HTTP decoder would name it; a missing oneof may be named by its parent
# path or by `.type`), and nothing may reach the upstream.


def _items(*items: items_pb2.Item) -> responses_pb2.CreateResponseRequest:
    return responses_pb2.CreateResponseRequest(model="gpt-5.4", input_items=items_pb2.ItemList(items=list(items)))


def _message(**fields: object) -> items_pb2.Item:
    return items_pb2.Item(message=items_pb2.MessageItem(**fields))


GRPC_BAD = [
    pytest.param(_items(items_pb2.Item()), ("input[0]", "input[0].type"), id="empty-item"),
    pytest.param(
        _items(_message(role="user", parts=items_pb2.ContentList(parts=[items_pb2.ContentPart()]))),
        ("input[0].content[0]", "input[0].content[0].type"),
        id="empty-content-part",
    ),
    pytest.param(_items(_message(role="wizard", text="x")), ("input[0].role",), id="role-wizard"),
    pytest.param(_items(_message(text="x")), ("input[0].role",), id="role-missing"),
    pytest.param(_items(_message(role="user")), ("input[0].content",), id="content-missing"),
    pytest.param(
        _items(items_pb2.Item(function_call_output=items_pb2.FunctionCallOutputItem(text="x"))),
        ("input[0].call_id",),
        id="call-output-without-call_id",
    ),
    pytest.param(create("hi", tools=[responses_pb2.Tool()]), ("tools[0]", "tools[0].type"), id="empty-tool"),
    pytest.param(
        create("hi", tools=[responses_pb2.Tool(function=responses_pb2.FunctionTool(name="f", parameters_json="{nope"))]),
        ("tools[0].parameters",),
        id="tool-parameters-not-json",
    ),
    pytest.param(create("hi", tools=[responses_pb2.Tool(hosted_json="{nope")]), ("tools[0]",), id="hosted-tool-not-json"),
    pytest.param(
        create(
            "hi",
            text=responses_pb2.TextConfig(
                format=responses_pb2.TextFormat(type="json_schema", name="n", schema_json="{nope")
            ),
        ),
        ("text.format.schema",),
        id="text-schema-not-json",
    ),
    pytest.param(
        create("hi", extra_json={"context_management": "{nope"}),
        ("context_management", "extra_json.context_management"),
        id="extra-json-not-json",
    ),
    # extra_json is for the passthrough fields only: it must not override what
    # the gateway decides (the routed model, store:false upstream, the input).
    pytest.param(create("hi", extra_json={"model": '"gpt-4.1"'}), ("model", "extra_json.model"), id="extra-json-model"),
    pytest.param(create("hi", extra_json={"store": "true"}), ("store", "extra_json.store"), id="extra-json-store"),
    pytest.param(create("hi", extra_json={"frobnicate": "true"}), ("frobnicate", "extra_json.frobnicate"), id="extra-json-unknown"),
]


@pytest.mark.parametrize(("request_", "params"), GRPC_BAD)
async def test_grpc_bad_input_is_invalid_argument(
    gateway: Gateway, stub: Stub, request_: responses_pb2.CreateResponseRequest, params: tuple[str, ...]
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.CreateResponse(request_)
    sent = gateway.upstream_bodies()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (info.value.code(), info.value.details(), sent)
    detail = error_detail(info.value)
    assert detail.http_status == 400
    assert detail.type == "invalid_request_error"
    assert detail.param in params, (detail.param, detail.message)
    assert sent == []


async def test_stream_bad_input_raises_on_first_read(gateway: Gateway, stub: Stub) -> None:
    call = stub.StreamResponse(create("hi", temperature=3))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call.read()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_detail(info.value).param == "temperature"
    assert gateway.upstream_bodies() == []
