"""The bridge's REST routes over a fake backend: what reaches the service, what the client gets back."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient

from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from tests.bridge.fakes import FakeBackend, error_of, serve

Client = TestClient[web.Request, web.Application]


# --- routes ------------------------------------------------------------------


async def test_creating_a_response_returns_the_services_response_as_openai_json(client: Client, backend: FakeBackend) -> None:
    resp = await client.post("/v1/responses", json={"model": "gpt-test", "input": "Say hello", "temperature": 0.5})

    assert resp.status == 200
    assert resp.content_type == "application/json"
    assert resp.headers["x-request-id"].startswith("req_")
    body = await resp.json()
    assert body["id"] == "resp_1"
    assert body["object"] == "response"
    assert body["status"] == "completed"
    assert body["model"] == "gpt-test"
    assert body["output"] == [
        {
            "id": "msg_1",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hello!", "annotations": [], "logprobs": []}],
        }
    ]
    assert body["usage"]["total_tokens"] == 7
    assert body["error"] is None
    [sent] = backend.requests("create_response")
    assert sent == pb.CreateResponseRequest(model="gpt-test", input_text="Say hello", temperature=0.5)
    assert backend.requests("stream_response") == []


async def test_getting_a_stored_response_passes_its_id_and_include_to_the_service(client: Client, backend: FakeBackend) -> None:
    resp = await client.get(
        "/v1/responses/resp_abc",
        params=[("include[]", "message.output_text.logprobs"), ("include[]", "reasoning.encrypted_content")],
    )

    assert resp.status == 200
    assert (await resp.json())["id"] == "resp_abc"
    assert backend.requests("get_response") == [
        spb.GetResponseRequest(id="resp_abc", include=["message.output_text.logprobs", "reasoning.encrypted_content"])
    ]


async def test_deleting_a_response_returns_openais_deletion_object(client: Client, backend: FakeBackend) -> None:
    resp = await client.delete("/v1/responses/resp_abc")

    assert resp.status == 200
    assert await resp.json() == {"id": "resp_abc", "object": "response", "deleted": True}
    assert backend.requests("delete_response") == [spb.DeleteResponseRequest(id="resp_abc")]


async def test_listing_input_items_passes_every_paging_parameter_to_the_service(client: Client, backend: FakeBackend) -> None:
    resp = await client.get(
        "/v1/responses/resp_abc/input_items",
        params=[
            ("after", "msg_a"),
            ("before", "msg_b"),
            ("limit", "5"),
            ("order", "asc"),
            ("include[]", "file_search_call.results"),
        ],
    )

    assert resp.status == 200
    assert await resp.json() == {
        "object": "list",
        "data": [{"id": "msg_in", "type": "message", "role": "user", "content": "Hi there"}],
        "first_id": "msg_in",
        "last_id": "msg_in",
        "has_more": True,
    }
    assert backend.requests("list_input_items") == [
        spb.ListInputItemsRequest(
            id="resp_abc", after="msg_a", before="msg_b", limit=5, order="asc", include=["file_search_call.results"]
        )
    ]


async def test_listing_input_items_without_parameters_leaves_the_service_its_defaults(
    client: Client, backend: FakeBackend
) -> None:
    resp = await client.get("/v1/responses/resp_abc/input_items")

    assert resp.status == 200
    [sent] = backend.requests("list_input_items")
    assert isinstance(sent, spb.ListInputItemsRequest)
    assert sent.id == "resp_abc"
    assert [f for f in ("after", "before", "limit", "order") if sent.HasField(f)] == []
    assert list(sent.include) == []


async def test_cancelling_a_response_returns_the_cancelled_response(client: Client, backend: FakeBackend) -> None:
    resp = await client.post("/v1/responses/resp_abc/cancel")

    assert resp.status == 200
    body = await resp.json()
    assert (body["id"], body["status"]) == ("resp_abc", "cancelled")
    assert backend.requests("cancel_response") == [spb.CancelResponseRequest(id="resp_abc")]


async def test_counting_input_tokens_returns_openais_input_tokens_object(client: Client, backend: FakeBackend) -> None:
    resp = await client.post(
        "/v1/responses/input_tokens", json={"model": "gpt-test", "input": "How many tokens?", "instructions": "Be brief."}
    )

    assert resp.status == 200
    assert await resp.json() == {"object": "response.input_tokens", "input_tokens": 42}
    assert backend.requests("count_input_tokens") == [
        pb.CreateResponseRequest(model="gpt-test", input_text="How many tokens?", instructions="Be brief.")
    ]
    # Counting is not a create: nothing was generated.
    assert backend.requests("create_response") == []


async def test_counting_input_tokens_refuses_a_create_only_field_by_name(client: Client, backend: FakeBackend) -> None:
    resp = await client.post("/v1/responses/input_tokens", json={"model": "gpt-test", "input": "hi", "temperature": 0.2})

    assert resp.status == 400
    assert await error_of(resp) == {
        "message": "Unknown parameter: 'temperature'.",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "unknown_parameter",
    }
    assert backend.requests("count_input_tokens") == []


async def test_listing_models_returns_openais_model_list(client: Client) -> None:
    resp = await client.get("/v1/models")

    assert resp.status == 200
    assert await resp.json() == {
        "object": "list",
        "data": [
            {"id": "gpt-test", "object": "model", "created": 1_700_000_000, "owned_by": "openai"},
            {"id": "openrouter/meta/llama-3", "object": "model", "created": 1_700_000_001, "owned_by": "openrouter"},
        ],
    }


async def test_getting_a_model_whose_id_contains_slashes_passes_the_whole_id(client: Client, backend: FakeBackend) -> None:
    resp = await client.get("/v1/models/openrouter/meta/llama-3")

    assert resp.status == 200
    assert await resp.json() == {
        "id": "openrouter/meta/llama-3",
        "object": "model",
        "created": 1_700_000_000,
        "owned_by": "gateway",
    }
    assert backend.requests("get_model") == [spb.GetModelRequest(id="openrouter/meta/llama-3")]


async def test_healthz_answers_without_asking_the_service(client: Client, backend: FakeBackend) -> None:
    backend.is_ready = False

    resp = await client.get("/healthz")

    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}
    assert backend.calls == []


async def test_readyz_is_200_when_the_service_is_ready(client: Client, backend: FakeBackend) -> None:
    resp = await client.get("/readyz")

    assert resp.status == 200
    assert await resp.json() == {"status": "ready"}
    assert backend.calls == [("ready", None)]


async def test_readyz_is_503_with_an_openai_error_when_the_service_is_not_ready(client: Client, backend: FakeBackend) -> None:
    backend.is_ready = False

    resp = await client.get("/readyz")

    assert resp.status == 503
    assert await error_of(resp) == {
        "message": "The responses service is not ready.",
        "type": "service_unavailable_error",
        "param": None,
        "code": "not_ready",
    }


async def test_the_app_leaves_the_backend_open_when_it_shuts_down(backend: FakeBackend) -> None:
    async with serve(backend) as client:
        assert (await client.get("/healthz")).status == 200
    # The caller owns the backend's lifetime (a shared in-process service outlives one app).
    assert backend.closed is False


# --- request decoding --------------------------------------------------------


async def test_a_body_that_is_not_json_is_refused_as_an_unsupported_content_type(
    client: Client, backend: FakeBackend
) -> None:
    resp = await client.post("/v1/responses", data=b"model=gpt-test", headers={"Content-Type": "text/plain"})

    assert resp.status == 400
    error = await error_of(resp)
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, "unsupported_content_type")
    assert "'Content-Type: text/plain'" in error["message"]
    assert backend.calls == []


async def test_malformed_json_is_refused_as_invalid_json(client: Client, backend: FakeBackend) -> None:
    resp = await client.post("/v1/responses", data=b'{"model": "gpt-test",', headers={"Content-Type": "application/json"})

    assert resp.status == 400
    error = await error_of(resp)
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, "invalid_json")
    assert error["message"].startswith("We could not parse the JSON body of your request.")
    assert backend.calls == []


async def test_a_json_body_that_is_not_an_object_is_refused_naming_the_body(client: Client, backend: FakeBackend) -> None:
    resp = await client.post("/v1/responses", json=["gpt-test"])

    assert resp.status == 400
    error = await error_of(resp)
    assert (error["param"], error["code"]) == ("body", "invalid_type")
    assert backend.calls == []


async def test_a_body_over_the_size_limit_is_413_with_openais_body(backend: FakeBackend) -> None:
    async with serve(backend, max_body_bytes=1024) as client:
        small = await client.post("/v1/responses", json={"model": "gpt-test", "input": "x" * 900})
        large = await client.post("/v1/responses", json={"model": "gpt-test", "input": "x" * 2000})

        assert small.status == 200
        assert large.status == 413
        assert await error_of(large) == {
            "message": "The request body is too large.",
            "type": "invalid_request_error",
            "param": None,
            "code": "request_too_large",
        }
    assert len(backend.requests("create_response")) == 1


async def test_an_unknown_route_is_404_with_openais_body(client: Client) -> None:
    resp = await client.get("/v1/chat/nothing-here")

    assert resp.status == 404
    assert resp.headers["x-request-id"].startswith("req_")
    assert await error_of(resp) == {
        "message": "Invalid URL (GET /v1/chat/nothing-here)",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


async def test_a_wrong_method_is_405_with_openais_body(client: Client, backend: FakeBackend) -> None:
    resp = await client.put("/v1/responses/resp_abc", json={})

    assert resp.status == 405
    assert await error_of(resp) == {
        "message": "Invalid method for URL (PUT /v1/responses/resp_abc)",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert backend.calls == []


async def test_a_limit_that_is_not_an_integer_is_refused_naming_limit(client: Client, backend: FakeBackend) -> None:
    resp = await client.get("/v1/responses/resp_abc/input_items", params={"limit": "abc"})

    assert resp.status == 400
    assert await error_of(resp) == {
        "message": "Invalid type for 'limit': expected an integer, but got a string instead.",
        "type": "invalid_request_error",
        "param": "limit",
        "code": "invalid_type",
    }
    assert backend.calls == []


async def test_streaming_a_stored_response_is_refused(client: Client, backend: FakeBackend) -> None:
    resp = await client.get("/v1/responses/resp_abc", params={"stream": "true"})

    assert resp.status == 400
    error = await error_of(resp)
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", "stream", "unsupported_parameter")
    assert backend.calls == []


async def test_an_input_items_limit_beyond_any_integer_is_a_400_naming_it(client: Client) -> None:
    for value in ("99999999999999999999", "1_0", " 5"):
        resp = await client.get("/v1/responses/resp_1/input_items", params={"limit": value})
        assert resp.status == 400, value
        assert (await resp.json())["error"]["param"] == "limit"


async def test_a_wrong_method_names_the_allowed_ones(client: Client) -> None:
    resp = await client.put("/v1/models")
    assert resp.status == 405
    assert "GET" in resp.headers["Allow"]


async def test_every_v1_call_carries_the_callers_authorization_to_the_service(client: Client, backend: FakeBackend) -> None:
    headers = {"Authorization": "Bearer rg-secret"}
    await client.post("/v1/responses", json={"model": "gpt-test", "input": "hi"}, headers=headers)
    await client.get("/v1/responses/resp_1", headers=headers)
    await client.delete("/v1/responses/resp_1", headers=headers)
    await client.get("/v1/responses/resp_1/input_items", headers=headers)
    await client.post("/v1/responses/resp_1/cancel", headers=headers)
    await client.post("/v1/responses/input_tokens", json={"model": "gpt-test", "input": "hi"}, headers=headers)
    await client.get("/v1/models", headers=headers)
    await client.get("/v1/models/gpt-test", headers=headers)
    await client.get("/v1/models")
    assert backend.credentials == ["Bearer rg-secret"] * 8 + [None]
    await client.get("/healthz")
    await client.get("/readyz")
    assert len(backend.credentials) == 9  # probes reach no authenticated call
