"""Request fields newer than the contract: what Codex sends on its first request must not break it.

`client_metadata` only describes the caller: it travels to a Responses upstream
unchanged and never reaches a translated one; a malformed one is our 400.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from tests.e2e.conftest import Gateway, start_deepseek_gateway

CODEX_METADATA = {"originator": "codex_exec", "session_id": "019a-session", "turn_id": "1"}


@pytest.fixture(params=["inprocess", "remote"])
async def both(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Gateway]:
    async with start_deepseek_gateway(tmp_path, request.param, monkeypatch) as gw:
        yield gw


async def test_client_metadata_reaches_a_responses_upstream_and_never_a_translated_one(both: Gateway) -> None:
    assert both.deepseek is not None
    async with both.client() as client:
        for model in ("gpt-5.4", "deepseek-v4-pro"):
            response = await client.responses.create(
                model=model, input="hi", store=False, prompt_cache_key="codex-1", extra_body={"client_metadata": CODEX_METADATA}
            )
            assert response.status == "completed"
    (openai_body,) = [r.body for r in both.upstream.requests if r.method == "POST"]
    assert openai_body is not None and openai_body["client_metadata"] == CODEX_METADATA
    (deepseek_body,) = [r.body for r in both.deepseek.requests if r.method == "POST"]
    assert deepseek_body is not None and "client_metadata" not in deepseek_body


@pytest.mark.parametrize(
    ("value", "param"),
    [
        (["not", "a", "map"], "client_metadata"),
        ({"originator": 7}, "client_metadata.originator"),
        ({f"k{i}": "v" for i in range(65)}, "client_metadata"),
    ],
)
async def test_a_malformed_client_metadata_is_a_400_naming_it(both: Gateway, value: object, param: str) -> None:
    async with both.client() as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.responses.create(model="gpt-5.4", input="hi", extra_body={"client_metadata": value})
    assert refused.value.param == param
    assert [r for r in both.upstream.requests if r.method == "POST"] == []
