"""Configuration: YAML file, environment overrides, conventional provider variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from responses_gateway.config import Settings


def test_defaults_follow_the_conventional_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9999/v1/")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    settings = Settings.load()
    openai = settings.provider("openai")
    assert openai is not None
    assert openai.resolved_base_url() == "http://127.0.0.1:9999/v1"
    assert openai.api_key() == "sk-x"
    deepseek = settings.provider("deepseek")
    assert deepseek is not None and deepseek.api_key() is None
    assert [m.id for m in settings.models][:3] == ["gpt-5.4", "gpt-5.4-mini", "deepseek-v4-pro"]


def test_environment_wins_over_the_yaml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text("http_port: 9001\ngrpc_port: 9002\n")
    monkeypatch.setenv("RG_HTTP_PORT", "9100")
    settings = Settings.load(config)
    assert (settings.http_port, settings.grpc_port) == (9100, 9002)


def test_a_key_file_is_read_and_stripped(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("sk-from-file\n")
    settings = Settings(providers=[{"name": "p", "type": "openai_responses", "base_url": "http://x", "api_key_file": key}], models=[])
    provider = settings.provider("p")
    assert provider is not None and provider.api_key() == "sk-from-file"


def test_unknown_settings_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text("http_prot: 1\n")
    with pytest.raises(ValueError):
        Settings.load(config)
