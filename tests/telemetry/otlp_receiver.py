"""An OTLP receiver for tests: the collector's two transports, decoded with `opentelemetry-proto`.

gRPC: `TraceService/Export` and `MetricsService/Export`.
HTTP: `POST /v1/traces` and `POST /v1/metrics`, protobuf bodies (gzip or not).
Every span received is kept with the resource (service name) it came from; every
metric export request is kept whole.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from dataclasses import dataclass
from typing import Any

import grpc
from aiohttp import web
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

KINDS = {value: name.removeprefix("SPAN_KIND_") for name, value in trace_pb2.Span.SpanKind.items()}


def _value(value: common_pb2.AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


@dataclass
class ReceivedSpan:
    """One span as the receiver decoded it."""

    service: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: str
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    links: list[tuple[str, str]]
    status_code: int
    transport: str
    start: int  # ns since the epoch


class OTLPReceiver:
    """Listens on a gRPC and an HTTP port; `spans` grows as exports arrive."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.metric_exports: list[tuple[metrics_service_pb2.ExportMetricsServiceRequest, str]] = []
        self.grpc_port = 0
        self.http_port = 0
        self._server: grpc.aio.Server | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._server = grpc.aio.server()
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Servicer(self), self._server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsServicer(self), self._server)
        self.grpc_port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        app = web.Application()
        app.router.add_post("/v1/traces", self._http_export)
        app.router.add_post("/v1/metrics", self._http_metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.http_port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        if self._server is not None:
            await self._server.stop(None)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def keep(self, request: trace_service_pb2.ExportTraceServiceRequest, transport: str) -> None:
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        ReceivedSpan(
                            service=str(resource.get("service.name", "")),
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            name=span.name,
                            kind=KINDS[span.kind],
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            events=[(e.name, {a.key: _value(a.value) for a in e.attributes}) for e in span.events],
                            links=[(link.trace_id.hex(), link.span_id.hex()) for link in span.links],
                            status_code=span.status.code,
                            transport=transport,
                            start=span.start_time_unix_nano,
                        )
                    )

    async def _http_export(self, request: web.Request) -> web.Response:
        self.keep(trace_service_pb2.ExportTraceServiceRequest.FromString(await _body(request)), "http")
        reply = trace_service_pb2.ExportTraceServiceResponse()
        return web.Response(body=reply.SerializeToString(), content_type="application/x-protobuf")

    async def _http_metrics(self, request: web.Request) -> web.Response:
        self.metric_exports.append((metrics_service_pb2.ExportMetricsServiceRequest.FromString(await _body(request)), "http"))
        reply = metrics_service_pb2.ExportMetricsServiceResponse()
        return web.Response(body=reply.SerializeToString(), content_type="application/x-protobuf")

    def metrics(self) -> dict[str, tuple[str, Any]]:
        """The latest of each metric received: name → (service name, the proto Metric)."""
        latest: dict[str, tuple[str, Any]] = {}
        for export, _ in self.metric_exports:
            for resource_metrics in export.resource_metrics:
                resource = {a.key: _value(a.value) for a in resource_metrics.resource.attributes}
                for scope in resource_metrics.scope_metrics:
                    for metric in scope.metrics:
                        latest[metric.name] = (str(resource.get("service.name", "")), metric)
        return latest

    async def wait_for(self, *names: str, timeout: float = 20.0) -> list[ReceivedSpan]:
        """The spans received once every name in `names` has arrived (AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = {s.name for s in self.spans}
            if all(n in seen for n in names):
                await asyncio.sleep(0.5)  # the rest of the batch
                return list(self.spans)
            await asyncio.sleep(0.1)
        seen = sorted({(s.name, s.service) for s in self.spans})
        raise AssertionError(f"spans not received: {sorted(set(names) - {s.name for s in self.spans})}; received: {seen}")


async def _body(request: web.Request) -> bytes:
    """An OTLP/HTTP request's protobuf body, inflated when the exporter compressed it."""
    body = await request.read()
    return gzip.decompress(body) if request.headers.get("Content-Encoding") == "gzip" else body


class _Servicer(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OTLPReceiver) -> None:
        self._receiver = receiver

    async def Export(  # noqa: N802 - the RPC's name
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.aio.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self._receiver.keep(request, "grpc")
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricsServicer(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: OTLPReceiver) -> None:
        self._receiver = receiver

    async def Export(  # noqa: N802 - the RPC's name
        self, request: metrics_service_pb2.ExportMetricsServiceRequest, context: grpc.aio.ServicerContext
    ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        self._receiver.metric_exports.append((request, "grpc"))
        return metrics_service_pb2.ExportMetricsServiceResponse()


def tree(spans: list[ReceivedSpan], trace_id: str) -> str:
    """The trace as an indented tree (name, kind, service), for reading in a test's output."""
    ours = [s for s in spans if s.trace_id == trace_id]
    children: dict[str, list[ReceivedSpan]] = {}
    for span in ours:
        children.setdefault(span.parent_id, []).append(span)
    ids = {s.span_id for s in ours}
    lines: list[str] = []

    def walk(span: ReceivedSpan, depth: int) -> None:
        lines.append(f"{'  ' * depth}{span.name}  [{span.kind.lower()}, {span.service}]")
        for child in sorted(children.get(span.span_id, []), key=lambda c: c.start):
            walk(child, depth + 1)

    for root in [s for s in ours if s.parent_id not in ids]:
        walk(root, 0)
    return "\n".join(lines)
