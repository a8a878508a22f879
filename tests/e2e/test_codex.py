"""The Codex CLI (npm `@openai/codex`, pinned in package.json) as a real client of the gateway.

`codex exec` runs with the gateway as a custom provider (`wire_api = "responses"`),
on gpt-5.4 (the fake OpenAI Responses upstream) and on deepseek-v4-pro (the fake
DeepSeek Chat Completions upstream, behind the gateway's translation): the fake
answers with a call to one of Codex's tools, Codex runs it and sends the output
back, and the fake's final text is what Codex prints.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Gateway

CODEX = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "codex"


def _config(home: Path, base_url: str, model: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f'model = "{model}"\n'
        'model_provider = "gateway"\n\n'
        "[model_providers.gateway]\n"
        'name = "gateway"\n'
        f'base_url = "{base_url}/v1"\n'
        'wire_api = "responses"\n'
        'env_key = "GATEWAY_KEY"\n'
    )


def _bodies(gateway: Gateway, model: str) -> list[dict[str, Any]]:
    """What the model's upstream received, in order."""
    if model == "gpt-5.4":
        return gateway.upstream_bodies()
    assert gateway.deepseek is not None
    return [r.body for r in gateway.deepseek.requests if r.method == "POST" and r.body is not None]


def _tool_results(model: str, body: dict[str, Any]) -> list[Any]:
    if model == "gpt-5.4":
        return [i for i in body["input"] if isinstance(i, dict) and i.get("type") in ("function_call_output", "custom_tool_call_output")]
    return [m for m in body["messages"] if m.get("role") == "tool"]


def _conversation(model: str, body: dict[str, Any]) -> str:
    return str(body["input"] if model == "gpt-5.4" else body["messages"])


@pytest.mark.skipif(not CODEX.exists(), reason="node_modules/.bin/codex is missing: `npm install` (make test runs it) failed")
@pytest.mark.parametrize("model", ["gpt-5.4", "deepseek-v4-pro"])
async def test_codex_exec_runs_a_tool_loop_and_resumes_through_the_gateway(deepseek_gateway: Gateway, tmp_path: Path, model: str) -> None:
    gateway = deepseek_gateway
    home, work = tmp_path / "codex-home", tmp_path / "work"
    work.mkdir()
    _config(home, gateway.http_url, model)
    env = {**os.environ, "CODEX_HOME": str(home), "GATEWAY_KEY": "sk-codex-client", "NO_COLOR": "1"}
    proc = await asyncio.create_subprocess_exec(
        str(CODEX), "exec", "--skip-git-repo-check", "Say hello",
        cwd=work, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(proc.communicate(), 120)
    text = output.decode(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    bodies = _bodies(gateway, model)
    assert len(bodies) >= 2, text[-3000:]  # the call, then the answer after the tool's output
    first, last = bodies[0], bodies[-1]
    if model == "gpt-5.4":
        assert first["client_metadata"], "Codex's client_metadata reached the Responses upstream"
    else:
        # Translated: caller-only fields stay behind, Codex's tools arrive as functions, web_search is withheld.
        assert "client_metadata" not in first and "prompt_cache_key" not in first
        names = [t["function"]["name"] for t in first["tools"]]
        assert names and all(t["type"] == "function" for t in first["tools"]), names
        assert "web_search" not in str(first["tools"])
    assert _tool_results(model, last), text[-3000:]
    assert "Tool said:" in text  # the fake's answer to the tool's output, printed by Codex

    # `codex exec resume --last` continues that session: Codex resends the whole conversation (store: false).
    before = len(bodies)
    proc = await asyncio.create_subprocess_exec(
        str(CODEX), "exec", "--skip-git-repo-check", "resume", "--last", "And goodbye",
        cwd=work, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(proc.communicate(), 120)
    resumed = output.decode(errors="replace")
    assert proc.returncode == 0, resumed[-3000:]
    continued = _bodies(gateway, model)[before]
    sent = _conversation(model, continued)
    assert "Say hello" in sent and "And goodbye" in sent, sent[-2000:]  # the first turn travels with the second
