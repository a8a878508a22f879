"""Tracing, set up from the standard `OTEL_*` variables only, or not at all.

On when `OTEL_TRACES_EXPORTER` names an exporter (not `none`) or an OTLP
endpoint variable is set; off otherwise, and then nothing is instrumented, so
it costs nothing. The exporters, the batch processor, the sampler
(`OTEL_TRACES_SAMPLER`) and the resource (`OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`) read their own variables; this module only picks
the exporter class by `OTEL_TRACES_EXPORTER` and the OTLP protocol.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from responses_gateway.telemetry import http_spans

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
INSTRUMENTATION_NAME = "responses_gateway"


class TracingConfigError(ValueError):
    """An `OTEL_*` variable names something this process cannot set up."""


@dataclass(frozen=True)
class Tracing:
    """The process's tracer provider, once tracing is on."""

    provider: TracerProvider
    # OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: prompt and output text on model-call spans.
    capture_content: bool
    # For the start-up line: the exporters and the sampler.
    description: str = ""

    @property
    def tracer(self) -> trace.Tracer:
        """The tracer the gateway's own spans come from."""
        return self.provider.get_tracer(INSTRUMENTATION_NAME)

    def shutdown(self) -> None:
        """Export what is still buffered and stop."""
        self.provider.shutdown()


def tracing_requested(env: Mapping[str, str]) -> bool:
    """Whether the variables ask for traces."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return any(env.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def span_exporters(env: Mapping[str, str]) -> list[SpanExporter]:
    """The exporters `OTEL_TRACES_EXPORTER` names (default `otlp`), each reading its own variables."""
    exporters: list[SpanExporter] = []
    for name in (n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",")):
        if name in ("", "none"):
            continue
        if name == "otlp":
            exporters.append(_otlp_exporter(env))
        elif name == "console":
            exporters.append(ConsoleSpanExporter())
        else:
            raise TracingConfigError(f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (otlp, console or none)")
    return exporters


def _otlp_exporter(env: Mapping[str, str]) -> SpanExporter:
    protocol = _protocol(env)
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        return HttpExporter()
    raise TracingConfigError(f"OTEL_EXPORTER_OTLP_PROTOCOL: {protocol!r} is not supported (grpc or http/protobuf)")


def _protocol(env: Mapping[str, str]) -> str:
    # grpc unless told otherwise, as the Python SDK's own configuration does.
    return (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc").strip()


def _resource(default_service_name: str, env: Mapping[str, str]) -> Resource:
    named = env.get("OTEL_SERVICE_NAME", "").strip() or "service.name=" in env.get("OTEL_RESOURCE_ATTRIBUTES", "")
    # Attributes given here win over the variables, so the default is given only when they name none.
    return Resource.create({} if named else {SERVICE_NAME: default_service_name})


def start_tracing(default_service_name: str, env: MutableMapping[str, str] | None = None) -> Tracing | None:
    """Set up tracing for this process when the variables ask for it; None when they do not.

    Sets the global tracer provider (the gRPC and SQLAlchemy instrumentations
    and the upstream HTTP client spans read it) and one default an operator can
    override: the stable HTTP attribute names (OTEL_SEMCONV_STABILITY_OPT_IN=http).
    """
    env = os.environ if env is None else env
    if not tracing_requested(env):
        return None
    env.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    provider = TracerProvider(resource=_resource(default_service_name, env))
    for exporter in span_exporters(env):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    http_spans.enabled = True
    capture = env.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "").strip().lower()
    description = (
        f"service {provider.resource.attributes.get(SERVICE_NAME)}, exporters {env.get('OTEL_TRACES_EXPORTER', 'otlp')}"
        f" ({_protocol(env)}), sampler {provider.sampler.get_description()}"
    )
    return Tracing(provider, capture_content=capture in ("true", "span_only", "span_and_event"), description=description)


def untraced() -> contextlib.AbstractContextManager[object]:
    """Work outside any request (migrations, checkpoints, timers): no spans, and tasks started here inherit that."""
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    return suppress_instrumentation()


def _not_health_checks() -> Any:
    from opentelemetry.instrumentation.grpc import filters

    return filters.negate(filters.service_name("grpc.health.v1.Health"))


def grpc_server_interceptors(tracing: Tracing | None) -> list[Any]:
    """The gRPC server span's interceptor (W3C context read from metadata); none when tracing is off."""
    if tracing is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor(tracer_provider=tracing.provider, filter_=_not_health_checks())]  # type: ignore[no-untyped-call]


def grpc_client_interceptors(tracing: Tracing | None) -> list[Any]:
    """The gRPC client span's interceptors (W3C context sent as metadata); none when tracing is off."""
    if tracing is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    return list(aio_client_interceptors(tracer_provider=tracing.provider, filter_=_not_health_checks()))  # type: ignore[no-untyped-call]


def parent_declined() -> bool:
    """Whether the current span is one the sampler declined: its children would be declined too.

    True for an unsampled request under the parent-based samplers (the SDK's default), so the
    gateway's own spans skip the sampler, the ids and the context switches altogether.
    """
    context = trace.get_current_span().get_span_context()
    return context.is_valid and not context.trace_flags.sampled
