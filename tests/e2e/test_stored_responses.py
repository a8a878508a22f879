"""The stored-response API: input items pages, cancel, in OpenAI's shapes."""

from __future__ import annotations

import aiohttp
import openai
import pytest

from responses_gateway.api.v1 import service_pb2 as spb
from tests.e2e.conftest import Gateway

FIVE_MESSAGES = [{"role": "user", "content": f"message {i}"} for i in range(5)]


async def test_input_items_come_back_with_ids_and_parts(client: openai.AsyncOpenAI) -> None:
    """A plain-string input is listed as a user message with an input_text part."""
    created = await client.responses.create(model="gpt-5.4", input="hello")
    page = await client.responses.input_items.list(created.id)
    [item] = page.data
    assert item.type == "message" and item.role == "user" and item.id.startswith("msg_")
    assert item.status == "completed"
    assert [(c.type, c.text) for c in item.content] == [("input_text", "hello")]


async def test_input_items_paginate_newest_first_by_default(client: openai.AsyncOpenAI) -> None:
    created = await client.responses.create(model="gpt-5.4", input=FIVE_MESSAGES)
    first = await client.responses.input_items.list(created.id, limit=2)
    assert [i.content[0].text for i in first.data] == ["message 4", "message 3"]
    assert first.has_more is True
    everything = [i.content[0].text async for i in await client.responses.input_items.list(created.id, limit=2)]
    assert everything == [f"message {i}" for i in (4, 3, 2, 1, 0)]
    ascending = await client.responses.input_items.list(created.id, order="asc", limit=100)
    assert [i.content[0].text for i in ascending.data] == [f"message {i}" for i in range(5)]
    assert ascending.has_more is False
    assert ascending.first_id == ascending.data[0].id and ascending.last_id == ascending.data[-1].id
    after = await client.responses.input_items.list(created.id, order="asc", after=ascending.data[1].id)
    assert [i.content[0].text for i in after.data] == ["message 2", "message 3", "message 4"]


async def test_input_items_of_unknown_or_unstored_responses_are_404(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        await client.responses.input_items.list("resp_missing")
    unstored = await client.responses.create(model="gpt-5.4", input="x", store=False)
    with pytest.raises(openai.NotFoundError):
        await client.responses.input_items.list(unstored.id)


@pytest.mark.parametrize(("query", "param"), [("limit=0", "limit"), ("limit=101", "limit"), ("limit=ten", "limit"), ("order=up", "order")])
async def test_bad_list_parameters_are_400(gateway: Gateway, client: openai.AsyncOpenAI, query: str, param: str) -> None:
    created = await client.responses.create(model="gpt-5.4", input="x")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gateway.http_url}/v1/responses/{created.id}/input_items?{query}") as resp:
            assert resp.status == 400
            assert (await resp.json())["error"]["param"] == param


async def test_cancel_is_for_background_responses_only(client: openai.AsyncOpenAI) -> None:
    created = await client.responses.create(model="gpt-5.4", input="x")
    with pytest.raises(openai.BadRequestError):
        await client.responses.cancel(created.id)
    with pytest.raises(openai.NotFoundError):
        await client.responses.cancel("resp_missing")


async def test_input_items_over_grpc(client: openai.AsyncOpenAI, stub) -> None:  # type: ignore[no-untyped-def]
    created = await client.responses.create(model="gpt-5.4", input=FIVE_MESSAGES)
    page = await stub.ListInputItems(spb.ListInputItemsRequest(id=created.id, limit=3, order="asc"))
    assert page.object == "list" and page.has_more
    assert [i.message.parts.parts[0].input_text.text for i in page.data] == ["message 0", "message 1", "message 2"]


async def test_retrieve_can_include_the_encrypted_reasoning(client: openai.AsyncOpenAI) -> None:
    """Stored without asking, the encrypted reasoning is still there for a later `include`."""
    created = await client.responses.create(model="gpt-5.4", input="think")
    assert created.output[0].type == "reasoning" and created.output[0].encrypted_content is None
    plain = await client.responses.retrieve(created.id)
    assert plain.output[0].encrypted_content is None
    full = await client.responses.retrieve(created.id, include=["reasoning.encrypted_content"])
    assert full.output[0].encrypted_content
    assert full.output_text == created.output_text
