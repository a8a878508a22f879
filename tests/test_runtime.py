"""Start-up wiring: the embedded model joins the default routing table at start-up, not when config loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from responses_gateway.config import ModelConfig, Settings
from responses_gateway.providers.local import weights
from responses_gateway.runtime import replica_id, run_service, with_embedded_models
from responses_gateway.store import Store


def test_loading_the_configuration_reads_no_model_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_io(_path: object) -> int:
        raise AssertionError("Settings() read a GGUF header")

    monkeypatch.setattr(weights, "context_length", no_io)
    ids = [m.id for m in Settings().models]
    assert ids == ["gpt-5.4", "gpt-5.4-mini", "deepseek-v4-pro"]


def test_start_up_adds_the_embedded_model_to_the_default_models() -> None:
    models = {m.id: m for m in with_embedded_models(Settings()).models}
    assert set(models) == {"gpt-5.4", "gpt-5.4-mini", "deepseek-v4-pro", weights.PUBLIC_ID}
    assert models[weights.PUBLIC_ID].provider == "local"
    assert models[weights.PUBLIC_ID].context_window == 8192


def test_a_configured_model_list_is_taken_as_written() -> None:
    mine = ModelConfig(id="only-this", provider="openai")
    settings = Settings(models=[mine])
    assert with_embedded_models(settings).models == [mine]


def test_without_a_local_provider_nothing_is_added() -> None:
    settings = Settings(providers=[p for p in Settings().providers if p.type != "local"])
    assert [m.id for m in with_embedded_models(settings).models] == ["gpt-5.4", "gpt-5.4-mini", "deepseek-v4-pro"]


def test_replica_names_carry_the_port_and_the_worker() -> None:
    assert replica_id(Settings(replica_id="pod-a"), 50051) == "pod-a"
    assert replica_id(Settings(replica_id="pod-a", workers=3, worker_index=2), 50051) == "pod-a/2"
    assert replica_id(Settings(), 4242).endswith(":4242")


async def test_a_service_told_not_to_migrate_leaves_the_schema_to_the_deployment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Helm chart migrates once in a hook Job; its pods start with migrate_on_start off."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}", grpc_port=0, providers=[], models=[])
    async with run_service(settings):  # the first start migrates, as `responses-gateway migrate` would
        pass

    async def refuse(_store: Store) -> None:
        raise AssertionError("a pod migrated")

    monkeypatch.setattr(Store, "migrate", refuse)
    async with run_service(settings.model_copy(update={"migrate_on_start": False})) as service:
        assert service.grpc_port > 0
    with pytest.raises(AssertionError, match="a pod migrated"):
        async with run_service(settings):
            pass
