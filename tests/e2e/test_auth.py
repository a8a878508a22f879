"""API keys and tenants, end to end: `auth.mode: required`, keys made as the `keys` command makes them.

Every scenario runs in-process and over the split layout (the bridge passes the
caller's credential as gRPC metadata, the service's interceptor decides).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import openai
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.api.v1 import service_pb2_grpc
from responses_gateway.config import AuthConfig
from responses_gateway.errors import Unauthenticated, from_rpc_error
from responses_gateway.security import key_admin
from tests.e2e.conftest import FAKE_KEY_ENV, Gateway, gateway_settings, serve
from tests.upstreams.openai_responses import FakeOpenAIResponses

CACHE_SECONDS = 0.2


@dataclass
class Tenants:
    gateway: Gateway
    alice: str  # a key of tenant "acme"
    bob: str  # a key of tenant "globex"
    alice_key_id: str
    clients: dict[str, openai.AsyncOpenAI] = field(default_factory=dict)

    def client(self, key: str) -> openai.AsyncOpenAI:
        """The SDK with this key (one per key, closed with the fixture)."""
        if key not in self.clients:
            self.clients[key] = openai.AsyncOpenAI(base_url=f"{self.gateway.http_url}/v1", api_key=key, max_retries=0)
        return self.clients[key]


@pytest.fixture(params=["inprocess", "remote"])
async def tenants(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Tenants]:
    upstream = FakeOpenAIResponses(api_key="sk-upstream-secret")
    base_url = await upstream.start()
    monkeypatch.setenv(FAKE_KEY_ENV, "sk-upstream-secret")
    settings = gateway_settings(tmp_path, base_url, auth=AuthConfig(mode="required", cache_seconds=CACHE_SECONDS))
    try:
        async with serve(settings, request.param) as (http_url, target, service):
            alice, alice_key = await key_admin.create_key(service.store, "acme", name="alice")
            _, bob_key = await key_admin.create_key(service.store, "globex")
            gateway = Gateway(http_url, target, upstream, request.param, service)
            made = Tenants(gateway, alice_key, bob_key, alice.id)
            try:
                yield made
            finally:
                for client in made.clients.values():
                    await client.close()
    finally:
        await upstream.close()


async def _raw(t: Tenants, method: str, path: str, key: str | None, body: Any = None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with aiohttp.ClientSession() as session:
        async with session.request(method, f"{t.gateway.http_url}{path}", json=body, headers=headers) as resp:
            return resp.status, await resp.json()


# --------------------------------------------------------------------------- who may call


async def test_a_call_without_a_key_or_with_a_wrong_one_is_401_invalid_api_key(tenants: Tenants) -> None:
    for key in (None, "rg-not-a-real-key", "Basic"):
        for method, path, body in (
            ("POST", "/v1/responses", {"model": "gpt-5.4", "input": "hi"}),
            ("POST", "/v1/responses", {"model": "gpt-5.4", "input": "hi", "stream": True}),
            ("GET", "/v1/models", None),
            ("GET", "/v1/responses/resp_x", None),
        ):
            status, error = await _raw(tenants, method, path, key, body)
            assert status == 401, (key, path)
            assert error["error"]["type"] == "invalid_request_error"
            assert error["error"]["code"] == "invalid_api_key"
            assert "rg-not-a-real-key" not in error["error"]["message"]
    assert tenants.gateway.upstream_bodies() == []  # nothing reached the upstream


async def test_the_sdk_reports_a_missing_key_as_authentication_error(tenants: Tenants) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        await tenants.client("rg-wrong").responses.create(model="gpt-5.4", input="hi")
    assert info.value.code == "invalid_api_key"


async def test_probes_the_contract_and_metrics_answer_without_a_key(tenants: Tenants) -> None:
    async with aiohttp.ClientSession() as session:
        for path in ("/healthz", "/readyz", "/openapi.json", "/metrics"):
            async with session.get(f"{tenants.gateway.http_url}{path}") as resp:
                assert resp.status == 200, path
        async with session.get(f"{tenants.gateway.http_url}/v1/models") as resp:
            assert resp.status == 401
        async with session.get(f"{tenants.gateway.http_url}/metrics") as resp:
            text = await resp.text()
    # The refused call was counted by its route pattern; no key or tenant is a label.
    assert 'responses_gateway_http_requests_total{method="GET",route="/v1/models",status="401"} 1.0' in text
    assert tenants.alice not in text and "acme" not in text


async def test_a_key_answers_and_a_revoked_key_stops_within_the_cache_time(tenants: Tenants) -> None:
    client = tenants.client(tenants.alice)
    assert (await client.responses.create(model="gpt-5.4", input="hello")).status == "completed"
    assert await key_admin.revoke_key(tenants.gateway.service.store, tenants.alice_key_id)  # type: ignore[union-attr]
    await asyncio.sleep(CACHE_SECONDS * 2)
    with pytest.raises(openai.AuthenticationError):
        await client.responses.create(model="gpt-5.4", input="hello")


# --------------------------------------------------------------------------- tenant isolation over HTTP


def _without_ids(body: dict[str, Any], *ids: str) -> str:
    text = repr(body)
    for value in ids:
        text = text.replace(value, "<id>")
    return text


async def test_another_tenants_response_is_indistinguishable_from_one_that_never_existed(tenants: Tenants) -> None:
    mine = await tenants.client(tenants.alice).responses.create(model="gpt-5.4", input="my secret plan")
    never = "resp_000000000000000000000000000000000000000000000000"
    for method, path, body in (
        ("GET", "/v1/responses/{id}", None),
        ("DELETE", "/v1/responses/{id}", None),
        ("GET", "/v1/responses/{id}/input_items", None),
        ("POST", "/v1/responses/{id}/cancel", None),
        ("POST", "/v1/responses", {"model": "gpt-5.4", "input": "continue", "previous_response_id": "{id}"}),
        ("POST", "/v1/responses/input_tokens", {"model": "gpt-5.4", "input": "x", "previous_response_id": "{id}"}),
    ):

        def fill(value: Any, rid: str) -> Any:
            return {k: (v.replace("{id}", rid) if isinstance(v, str) else v) for k, v in value.items()} if value else None

        theirs = await _raw(tenants, method, path.replace("{id}", mine.id), tenants.bob, fill(body, mine.id))
        missing = await _raw(tenants, method, path.replace("{id}", never), tenants.bob, fill(body, never))
        assert theirs[0] == missing[0] and theirs[0] in (400, 404), (method, path, theirs)
        assert _without_ids(theirs[1], mine.id) == _without_ids(missing[1], never), (method, path)
    # The owner still has it, untouched by the other tenant's delete.
    again = await tenants.client(tenants.alice).responses.retrieve(mine.id)
    assert again.output_text == mine.output_text
    assert [i.id for i in (await tenants.client(tenants.alice).responses.input_items.list(mine.id)).data]


async def test_each_tenant_continues_only_its_own_conversation(tenants: Tenants) -> None:
    first = await tenants.client(tenants.alice).responses.create(model="gpt-5.4", input="remember 42")
    second = await tenants.client(tenants.alice).responses.create(
        model="gpt-5.4", input="what number?", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    with pytest.raises(openai.BadRequestError) as info:
        await tenants.client(tenants.bob).responses.create(model="gpt-5.4", input="what number?", previous_response_id=first.id)
    assert info.value.code == "previous_response_not_found"


# --------------------------------------------------------------------------- the gRPC face


async def test_grpc_needs_authorization_metadata_and_isolates_tenants(tenants: Tenants) -> None:
    stored = await tenants.client(tenants.alice).responses.create(model="gpt-5.4", input="over grpc")
    async with grpc.aio.insecure_channel(tenants.gateway.grpc_target) as channel:
        stub = service_pb2_grpc.ResponsesServiceStub(channel)
        request = pb.CreateResponseRequest(model="gpt-5.4", input_text="hi")
        for metadata in (None, (("authorization", "Bearer rg-wrong"),)):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.CreateResponse(request, metadata=metadata)
            assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
            assert isinstance(from_rpc_error(info.value), Unauthenticated)
            with pytest.raises(grpc.aio.AioRpcError) as streamed:
                async for _ in stub.StreamResponse(request, metadata=metadata):
                    pass
            assert streamed.value.code() is grpc.StatusCode.UNAUTHENTICATED

        alice = (("authorization", f"Bearer {tenants.alice}"),)
        bob = (("authorization", f"Bearer {tenants.bob}"),)
        assert (await stub.GetResponse(spb.GetResponseRequest(id=stored.id), metadata=alice)).id == stored.id
        with pytest.raises(grpc.aio.AioRpcError) as foreign:
            await stub.GetResponse(spb.GetResponseRequest(id=stored.id), metadata=bob)
        assert foreign.value.code() is grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as deleted:
            await stub.DeleteResponse(spb.DeleteResponseRequest(id=stored.id), metadata=bob)
        assert deleted.value.code() is grpc.StatusCode.NOT_FOUND
        created = await stub.CreateResponse(request, metadata=bob)
        assert created.status == "completed"

        # Probes and discovery stay open.
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_credential_grpc_text_metadata_cannot_carry_is_judged_like_any_other(tenants: Tenants) -> None:
    for weird in ("Bearer \u00e9t\u00e9", "Bearer a\tb"):
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{tenants.gateway.http_url}/v1/models", headers={"Authorization": weird}) as resp:
                status, error = resp.status, await resp.json()
        assert status == 401, error
        assert error["error"]["code"] == "invalid_api_key"
