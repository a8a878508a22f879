"""Token counts and truncation, seen by a client: exact counts, 400 when too long, `auto` fitting."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from responses_gateway.config import ModelConfig
from responses_gateway.context import counter_for
from tests.e2e.conftest import FAKE_KEY_ENV, Gateway, gateway_settings, serve
from tests.upstreams.openai_responses import FakeOpenAIResponses

LONG = " ".join(f"word{i}" for i in range(200))  # ≈ 400 o200k tokens


@contextlib.asynccontextmanager
async def small_window_gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Gateway]:
    upstream = FakeOpenAIResponses(api_key="sk-upstream-secret")
    base_url = await upstream.start()
    monkeypatch.setenv(FAKE_KEY_ENV, "sk-upstream-secret")
    settings = gateway_settings(tmp_path, base_url)
    settings = settings.model_copy(
        update={
            "models": [
                *settings.models,
                ModelConfig(
                    id="gpt-small-window",
                    provider="openai",
                    upstream_model="gpt-5.4",
                    context_window=1000,
                    max_output_tokens=100,
                    tokenizer="o200k",
                ),
            ]
        }
    )
    try:
        async with serve(settings, "inprocess") as (http_url, target, service):
            yield Gateway(http_url, target, upstream, "inprocess", service)
    finally:
        await upstream.close()


@pytest.fixture
async def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Gateway]:
    async with small_window_gateway(tmp_path, monkeypatch) as gw:
        yield gw


@pytest.fixture
async def small_client(small: Gateway) -> AsyncIterator[openai.AsyncOpenAI]:
    client = small.client()
    try:
        yield client
    finally:
        await client.close()


async def test_input_tokens_are_counted_exactly_for_openai_models(client: openai.AsyncOpenAI) -> None:
    """The text part of the count is o200k's exact count; framing adds a fixed, documented margin."""
    short = await client.responses.input_tokens.count(model="gpt-5.4", input="hello")
    long = await client.responses.input_tokens.count(model="gpt-5.4", input=f"hello {LONG}")
    counter = counter_for("o200k")
    assert long.input_tokens - short.input_tokens == counter.count_text(f"hello {LONG}") - counter.count_text("hello")
    assert short.object == "response.input_tokens"


async def test_input_tokens_include_the_previous_conversation(client: openai.AsyncOpenAI) -> None:
    first = await client.responses.create(model="gpt-5.4", input=LONG)
    alone = await client.responses.input_tokens.count(model="gpt-5.4", input="next")
    chained = await client.responses.input_tokens.count(model="gpt-5.4", input="next", previous_response_id=first.id)
    assert chained.input_tokens > alone.input_tokens + 300


async def test_input_tokens_refuse_unknown_fields(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.input_tokens.count(model="gpt-5.4", input="x", extra_body={"stream": True})
    assert caught.value.param == "stream"


async def test_too_long_is_refused_before_any_upstream_call(small: Gateway, small_client: openai.AsyncOpenAI) -> None:
    before = len(small.upstream.requests)
    with pytest.raises(openai.BadRequestError) as caught:
        await small_client.responses.create(model="gpt-small-window", input=f"{LONG} {LONG} {LONG}")
    assert caught.value.code == "context_length_exceeded" and caught.value.param == "input"
    assert len(small.upstream.requests) == before


async def test_auto_truncation_drops_the_oldest_turns(small: Gateway, small_client: openai.AsyncOpenAI) -> None:
    previous = None
    for turn in range(4):
        response = await small_client.responses.create(
            model="gpt-small-window", input=f"turn {turn}: {LONG}", previous_response_id=previous, truncation="auto"
        )
        previous = response.id
    sent = small.upstream_bodies()[-1]["input"]
    texts = [str(item.get("content")) for item in sent]
    assert "turn 3" in texts[-1] and not any("turn 0" in t for t in texts)
    raw = response.model_dump()
    assert raw["truncation"] == "auto"
    assert response.model_extra is not None and response.model_extra["truncation_details"]["dropped_items"] >= 2


async def test_a_function_call_is_never_separated_from_its_output(small: Gateway, small_client: openai.AsyncOpenAI) -> None:
    tool = {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {"text": {"type": "string"}}}}
    first = await small_client.responses.create(model="gpt-small-window", input=f"look up {LONG}", tools=[tool])
    call = next(item for item in first.output if item.type == "function_call")
    second = await small_client.responses.create(
        model="gpt-small-window",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        truncation="auto",
    )
    assert second.output_text == "Tool said: sunny"
    sent = small.upstream_bodies()[-1]["input"]
    # The long user message went; the call and its output stayed together.
    assert [item.get("type") for item in sent][-2:] == ["function_call", "function_call_output"]
    assert not any(item.get("role") == "user" for item in sent)


async def test_an_upstream_overflow_trims_further_and_retries_once(
    small: Gateway, small_client: openai.AsyncOpenAI
) -> None:
    first = await small_client.responses.create(model="gpt-small-window", input="short one")
    before = len(small.upstream.requests)
    with pytest.raises(openai.BadRequestError) as caught:
        await small_client.responses.create(
            model="gpt-small-window", input="[[http:400]] still too long", previous_response_id=first.id, truncation="auto"
        )
    assert caught.value.code == "context_length_exceeded"
    bodies = small.upstream_bodies()[before - len(small.upstream.requests) :]
    assert len(bodies) == 2
    assert len(bodies[1]["input"]) < len(bodies[0]["input"])


async def test_item_token_counts_are_stored(small: Gateway, small_client: openai.AsyncOpenAI, tmp_path: Path) -> None:
    await small_client.responses.create(model="gpt-small-window", input="hello there")
    await small.writes_settled()
    with sqlite3.connect(tmp_path / "gateway.db") as db:
        rows = db.execute("select kind, token_count, token_counter from response_items").fetchall()
    assert rows and all(count and count > 0 and counter == "o200k" for _, count, counter in rows)
