"""Secrets never leave: a whole conversation with distinctive keys, then every log line, answer and stored byte is searched.

Gateway keys, the provider's key and a database password must appear in no
log record, no response body or header, and nowhere in the database files.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from responses_gateway.config import AuthConfig, ModelConfig, ProviderConfig
from responses_gateway.security import key_admin
from tests.e2e.conftest import FAKE_KEY_ENV, gateway_settings, serve
from tests.upstreams.openai_responses import FakeOpenAIResponses

WRONG_PROVIDER_ENV = "E2E_WRONG_PROVIDER_KEY"


@pytest.mark.parametrize("mode", ["inprocess", "remote"])
async def test_no_secret_reaches_a_log_an_answer_or_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    provider_key = f"sk-upstream-{secrets.token_hex(16)}"
    wrong_provider_key = f"sk-wrong-{secrets.token_hex(16)}"
    wrong_gateway_key = f"rg-wrong-{secrets.token_hex(16)}"
    upstream = FakeOpenAIResponses(api_key=provider_key)
    base_url = await upstream.start()
    monkeypatch.setenv(FAKE_KEY_ENV, provider_key)
    monkeypatch.setenv(WRONG_PROVIDER_ENV, wrong_provider_key)
    settings = gateway_settings(tmp_path, base_url, auth=AuthConfig(mode="required"))
    settings = settings.model_copy(
        update={
            "providers": [
                *settings.providers,
                ProviderConfig(name="rejected", type="openai_responses", base_url=base_url, api_key_env=WRONG_PROVIDER_ENV),
            ],
            "models": [*settings.models, ModelConfig(id="rejected-model", provider="rejected")],
        }
    )
    seen: list[str] = []
    caplog.set_level(logging.DEBUG)
    try:
        async with serve(settings, mode) as (url, _, service):
            _, key = await key_admin.create_key(service.store, "acme", rpm=1000, tpm=10_000_000)
            good = {"Authorization": f"Bearer {key}"}
            async with aiohttp.ClientSession() as session:

                async def call(method: str, path: str, headers: dict[str, str], body: object = None) -> dict[str, object]:
                    async with session.request(method, f"{url}{path}", json=body, headers=headers) as resp:
                        text = await resp.text()
                        seen.append(f"{resp.status} {dict(resp.headers)!r} {text}")
                        return await resp.json(content_type=None) if text.startswith("{") else {}

                first = await call("POST", "/v1/responses", good, {"model": "gpt-5.4", "input": "the plan"})
                await call("POST", "/v1/responses", good, {"model": "gpt-5.4", "input": "go on", "stream": True, "previous_response_id": first["id"]})
                await call("GET", f"/v1/responses/{first['id']}", good)
                await call("GET", f"/v1/responses/{first['id']}/input_items", good)
                await call("POST", "/v1/responses/input_tokens", good, {"model": "gpt-5.4", "input": "count me"})
                await call("POST", "/v1/responses", good, {"model": "rejected-model", "input": "hi"})  # upstream 401
                await call("POST", "/v1/responses", {"Authorization": f"Bearer {wrong_gateway_key}"}, {"model": "gpt-5.4", "input": "hi"})
                await call("POST", "/v1/responses", good, {"model": "gpt-5.4", "input": "hi", "temperature": 9})
                await call("DELETE", f"/v1/responses/{first['id']}", good)
            await service.service.drain()
            await service.service.flush_usage()
    finally:
        await upstream.close()
    assert any("upstream_authentication_failed" in answer for answer in seen)  # the upstream refusal did happen
    assert "auth: required" in caplog.text  # the logs were captured
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("gateway.db*"))
    for secret in (key, provider_key, wrong_provider_key, wrong_gateway_key):
        assert secret not in caplog.text
        assert not any(secret in answer for answer in seen)
        assert secret.encode() not in stored


def test_a_database_password_is_not_in_what_a_failing_start_prints(tmp_path: Path) -> None:
    password = f"pw{secrets.token_hex(12)}"
    env = {**os.environ, "RG_DATABASE_URL": f"postgresql+asyncpg://gateway:{password}@127.0.0.1:9/responses"}
    done = subprocess.run(
        [sys.executable, "-m", "responses_gateway.cli", "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert password not in done.stdout + done.stderr
