"""The bridge in front of several service replicas, as on Kubernetes (a headless Service)."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from responses_gateway.bridge.server import run_remote_bridge
from responses_gateway.runtime import run_service
from tests.e2e.conftest import FAKE_KEY_ENV, gateway_settings
from tests.upstreams.openai_responses import FakeOpenAIResponses


async def test_the_bridge_spreads_calls_over_every_replica_its_target_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    upstream = FakeOpenAIResponses(api_key="sk-upstream-secret")
    base_url = await upstream.start()
    monkeypatch.setenv(FAKE_KEY_ENV, "sk-upstream-secret")
    settings = gateway_settings(tmp_path, base_url)
    try:
        async with run_service(settings) as first, run_service(settings) as second:
            # What `dns:///` a headless Service resolves to: every replica's address.
            target = f"ipv4:127.0.0.1:{first.grpc_port},127.0.0.1:{second.grpc_port}"
            async with run_remote_bridge(settings.model_copy(update={"backend_target": target})) as bridge:
                async with openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{bridge.http_port}/v1", api_key="sk-x", max_retries=0) as client:
                    for _ in range(8):
                        response = await client.responses.create(model="gpt-5.4", input="hi", store=False)
                        assert response.status == "completed"
            # round_robin: both replicas answered (pick_first, grpc's default, would send all 8 to one).
            assert first.router.stats.attempts >= 2 and second.router.stats.attempts >= 2, (first.router.stats, second.router.stats)
    finally:
        await upstream.close()
