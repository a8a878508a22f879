"""The routing table built from config: which provider serves which model."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from responses_gateway.config import ModelConfig, ProviderConfig, Settings
from responses_gateway.errors import ModelNotFound, Unavailable
from responses_gateway.providers import PROVIDER_TYPES, Provider, ProviderFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Route:
    """Where one request for a model goes."""

    model: ModelConfig
    provider: Provider


class Router:
    """Resolves public model ids; owns one provider instance per configured upstream."""

    def __init__(self, settings: Settings, factories: Mapping[str, ProviderFactory] = PROVIDER_TYPES) -> None:
        self._models = {m.id: m for m in settings.models}
        self._configs: dict[str, ProviderConfig] = {p.name: p for p in settings.providers}
        self._providers: dict[str, Provider] = {}
        self._unavailable: dict[str, str] = {}
        for config in settings.providers:
            factory = factories.get(config.type)
            key = config.api_key()
            if factory is None:
                self._unavailable[config.name] = (
                    f"its provider '{config.name}' has type '{config.type}', which this build cannot serve yet"
                )
            elif key is None:
                self._unavailable[config.name] = f"its provider '{config.name}' has no API key: {config.key_hint()}"
            else:
                self._providers[config.name] = factory(config, key)
        for model in settings.models:
            if model.provider not in self._configs:
                raise ValueError(f"model '{model.id}' names unknown provider '{model.provider}'")
            if model.provider in self._unavailable:
                log.warning("model %s is not servable: %s", model.id, self._unavailable[model.provider])

    def models(self) -> list[ModelConfig]:
        """Every configured model, in config order."""
        return list(self._models.values())

    def model(self, model_id: str) -> ModelConfig:
        """The config of a public model id, or ModelNotFound."""
        model = self._models.get(model_id)
        if model is None:
            raise ModelNotFound(model_id)
        return model

    def resolve(self, model_id: str) -> Route:
        """The route for a request, or a clear error saying why there is none."""
        model = self.model(model_id)
        provider = self._providers.get(model.provider)
        if provider is None:
            raise Unavailable(
                f"The model '{model_id}' is configured, but {self._unavailable[model.provider]}.",
                code="provider_not_configured",
                param="model",
            )
        return Route(model=model, provider=provider)

    async def aclose(self) -> None:
        """Close every provider's connection pool."""
        for provider in self._providers.values():
            await provider.aclose()
