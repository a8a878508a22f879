"""Real servers on ephemeral ports: the fake upstream, the gRPC service, the bridge.

Every end-to-end test runs twice: with the bridge calling the service
in-process (`serve`) and over a real gRPC channel (`serve grpc` + `serve bridge`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import openai
import pytest

from responses_gateway.api.v1 import service_pb2_grpc
from responses_gateway.config import Capabilities, ModelConfig, ProviderConfig, RetryPolicy, Settings, Timeouts
from responses_gateway.bridge.server import run_remote_bridge
from responses_gateway.runtime import ServiceRuntime, run_all, run_service
from tests.upstreams.deepseek_chat import FakeDeepSeekChat
from tests.upstreams.openai_responses import FakeOpenAIResponses

FAKE_KEY_ENV = "E2E_FAKE_OPENAI_KEY"


@dataclass
class Gateway:
    """A running gateway and the fake upstream(s) behind it."""

    http_url: str
    grpc_target: str
    upstream: FakeOpenAIResponses
    mode: str
    # The service side, for assertions on routing state (retries, breakers).
    service: ServiceRuntime | None = None
    deepseek: FakeDeepSeekChat | None = None

    def client(self) -> openai.AsyncOpenAI:
        """The official SDK pointed at the bridge, retries off so faults show."""
        return openai.AsyncOpenAI(base_url=f"{self.http_url}/v1", api_key="sk-anything", max_retries=0)

    def channel(self) -> grpc.aio.Channel:
        return grpc.aio.insecure_channel(self.grpc_target)

    async def writes_settled(self) -> None:
        """Wait for writes still behind their answers: a test reading the database file is a reader outside the gateway."""
        assert self.service is not None
        await self.service.service.drain()

    def upstream_bodies(self) -> list[dict]:
        return [r.body for r in self.upstream.requests if r.method == "POST" and r.body is not None]


def gateway_settings(tmp_path: Path, upstream_url: str, **overrides: object) -> Settings:
    return Settings(
        grpc_host="127.0.0.1",
        grpc_port=0,
        http_host="127.0.0.1",
        http_port=0,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
        providers=[
            ProviderConfig(
                name="openai",
                type="openai_responses",
                base_url=upstream_url,
                api_key_env=FAKE_KEY_ENV,
                timeouts=Timeouts(connect=2, first_token=10, idle=10, total=30),
            ),
            ProviderConfig(name="nokey", type="openai_responses", base_url="http://127.0.0.1:9", api_key_env="E2E_UNSET_KEY"),
        ],
        models=[
            ModelConfig(id="gpt-5.4", provider="openai", owned_by="openai", tokenizer="o200k"),
            ModelConfig(id="gpt-5.4-mini", provider="openai", owned_by="openai", tokenizer="o200k"),
            ModelConfig(
                id="gpt-4.1-classic", provider="openai", upstream_model="gpt-4.1", owned_by="openai", tokenizer="o200k"
            ),
            ModelConfig(id="keyless-model", provider="nokey"),
        ],
        # Fast retries: the fault-matrix tests set their own policy.
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, max_retry_after=0.5),
        **overrides,
    )


@contextlib.asynccontextmanager
async def serve(settings: Settings, mode: str) -> AsyncIterator[tuple[str, str, ServiceRuntime]]:
    """Run the gateway in `mode`; yield (http_url, grpc_target, service runtime)."""
    if mode == "inprocess":
        async with run_all(settings) as (service, bridge):
            yield f"http://127.0.0.1:{bridge.http_port}", f"127.0.0.1:{service.grpc_port}", service
    else:
        async with run_service(settings) as service:
            target = f"127.0.0.1:{service.grpc_port}"
            async with run_remote_bridge(settings.model_copy(update={"backend_target": target})) as bridge:
                yield f"http://127.0.0.1:{bridge.http_port}", target, service


@contextlib.asynccontextmanager
async def start_gateway(tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Gateway]:
    upstream = FakeOpenAIResponses(api_key="sk-upstream-secret")
    base_url = await upstream.start()
    monkeypatch.setenv(FAKE_KEY_ENV, "sk-upstream-secret")
    monkeypatch.delenv("E2E_UNSET_KEY", raising=False)
    settings = gateway_settings(tmp_path, base_url)
    try:
        async with serve(settings, mode) as (http_url, target, service):
            yield Gateway(http_url, target, upstream, mode, service)
    finally:
        await upstream.close()


DEEPSEEK_KEY_ENV = "E2E_FAKE_DEEPSEEK_KEY"


@contextlib.asynccontextmanager
async def start_deepseek_gateway(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch, **overrides: object
) -> AsyncIterator[Gateway]:
    """A gateway routing deepseek-v4-pro to the fake DeepSeek and gpt-5.4 to the fake OpenAI.

    deepseek-v4-pro falls back to gpt-5.4; deepseek-no-tools is the same
    upstream configured without tool calling. `overrides` replace Settings fields.
    """
    openai_fake = FakeOpenAIResponses(api_key="sk-upstream-secret")
    deepseek_fake = FakeDeepSeekChat(api_key="sk-deepseek-secret")
    openai_url = await openai_fake.start()
    deepseek_url = await deepseek_fake.start()
    monkeypatch.setenv(FAKE_KEY_ENV, "sk-upstream-secret")
    monkeypatch.setenv(DEEPSEEK_KEY_ENV, "sk-deepseek-secret")
    timeouts = Timeouts(connect=2, first_token=10, idle=10, total=30)
    fields: dict[str, object] = dict(
        grpc_host="127.0.0.1",
        grpc_port=0,
        http_host="127.0.0.1",
        http_port=0,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
        providers=[
            ProviderConfig(name="openai", type="openai_responses", base_url=openai_url, api_key_env=FAKE_KEY_ENV, timeouts=timeouts),
            ProviderConfig(name="deepseek", type="chat_completions", base_url=deepseek_url, api_key_env=DEEPSEEK_KEY_ENV, timeouts=timeouts),
        ],
        models=[
            ModelConfig(
                id="deepseek-v4-pro", provider="deepseek", owned_by="deepseek", fallbacks=["gpt-5.4"], tokenizer="deepseek_v4"
            ),
            ModelConfig(id="gpt-5.4", provider="openai", owned_by="openai", tokenizer="o200k"),
            ModelConfig(
                id="deepseek-no-tools",
                provider="deepseek",
                upstream_model="deepseek-v4-pro",
                capabilities=Capabilities(tools=False),
            ),
        ],
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, max_retry_after=0.5),
    )
    fields.update(overrides)
    settings = Settings(**fields)  # type: ignore[arg-type]
    try:
        async with serve(settings, mode) as (http_url, target, service):
            yield Gateway(http_url, target, openai_fake, mode, service, deepseek_fake)
    finally:
        await deepseek_fake.close()
        await openai_fake.close()


@pytest.fixture(params=["inprocess", "remote"])
async def gateway(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Gateway]:
    async with start_gateway(tmp_path, request.param, monkeypatch) as gw:
        yield gw


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[openai.AsyncOpenAI]:
    c = gateway.client()
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
async def stub(gateway: Gateway) -> AsyncIterator[service_pb2_grpc.ResponsesServiceStub]:
    channel = gateway.channel()
    try:
        yield service_pb2_grpc.ResponsesServiceStub(channel)
    finally:
        await channel.close()


@pytest.fixture(params=["inprocess", "remote"])
async def deepseek_gateway(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    async with start_deepseek_gateway(tmp_path, request.param, monkeypatch) as gw:
        yield gw
