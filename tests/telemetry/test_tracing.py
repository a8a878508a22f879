"""Tracing's set-up from the standard OTEL_* variables (start_tracing itself runs in the e2e processes)."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from responses_gateway.telemetry.tracing import TracingConfigError, _resource, span_exporters, tracing_requested


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_tracing_is_on_only_when_an_exporter_or_an_endpoint_is_named(env: dict[str, str], on: bool) -> None:
    assert tracing_requested(env) is on


def test_the_exporter_follows_the_protocol_and_the_names() -> None:
    assert [type(e) for e in span_exporters({})] == [GrpcExporter]
    assert [type(e) for e in span_exporters({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"})] == [HttpExporter]
    assert [type(e) for e in span_exporters({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})] == [HttpExporter]
    assert [type(e) for e in span_exporters({"OTEL_TRACES_EXPORTER": "otlp,console"})] == [GrpcExporter, ConsoleSpanExporter]
    with pytest.raises(TracingConfigError, match="zipkin"):
        span_exporters({"OTEL_TRACES_EXPORTER": "zipkin"})
    with pytest.raises(TracingConfigError, match="http/json"):
        span_exporters({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})


def test_each_process_has_its_own_name_unless_the_operator_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    assert _resource("responses-gateway-bridge", {}).attributes["service.name"] == "responses-gateway-bridge"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "edge-gateway")
    assert _resource("responses-gateway-bridge", {"OTEL_SERVICE_NAME": "edge-gateway"}).attributes["service.name"] == "edge-gateway"
    monkeypatch.delenv("OTEL_SERVICE_NAME")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes,deployment.environment=prod")
    resource = _resource("responses-gateway-service", {"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attributes"})
    assert resource.attributes["service.name"] == "from-attributes"
