"""The Codex CLI (npm `@openai/codex`, pinned in package.json) as a real client of the gateway.

`codex exec` runs with the gateway as a custom provider (`wire_api = "responses"`),
in front of the fake OpenAI upstream: its first request carries `client_metadata`,
the fake answers with a call to one of Codex's tools, Codex runs it and sends the
output back, and the fake's final text is what Codex prints.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.e2e.conftest import Gateway

CODEX = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "codex"


def _config(home: Path, base_url: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        'model = "gpt-5.4"\n'
        'model_provider = "gateway"\n\n'
        "[model_providers.gateway]\n"
        'name = "gateway"\n'
        f'base_url = "{base_url}/v1"\n'
        'wire_api = "responses"\n'
        'env_key = "GATEWAY_KEY"\n'
    )


@pytest.mark.skipif(not CODEX.exists(), reason="node_modules/.bin/codex is missing: `npm install` (make test runs it) failed")
async def test_codex_exec_runs_a_tool_loop_and_resumes_through_the_gateway(gateway: Gateway, tmp_path: Path) -> None:
    home, work = tmp_path / "codex-home", tmp_path / "work"
    work.mkdir()
    _config(home, gateway.http_url)
    env = {**os.environ, "CODEX_HOME": str(home), "GATEWAY_KEY": "sk-codex-client", "NO_COLOR": "1"}
    proc = await asyncio.create_subprocess_exec(
        str(CODEX), "exec", "--skip-git-repo-check", "Say hello",
        cwd=work, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(proc.communicate(), 120)
    text = output.decode(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    bodies = gateway.upstream_bodies()
    assert len(bodies) >= 2, text[-3000:]  # the call, then the answer after the tool's output
    first, last = bodies[0], bodies[-1]
    assert first["client_metadata"], "Codex's client_metadata reached the Responses upstream"
    assert any(item.get("type") == "function_call_output" for item in last["input"] if isinstance(item, dict))
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
    continued = gateway.upstream_bodies()[before]
    sent = str(continued["input"])
    assert "Say hello" in sent and "And goodbye" in sent, sent[-2000:]  # the first turn travels with the second
