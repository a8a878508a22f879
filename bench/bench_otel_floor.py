"""The floor under always-on tracing: what the OpenTelemetry Python SDK alone costs per request.

    python bench/bench_otel_floor.py                     # about 1 minute
    python bench/bench_otel_floor.py --base-us 417       # the gateway's CPU per request before tracing

No gateway code runs here. Per simulated request, the spans issue 18 requires are started, given
attributes like the gateway's (same counts and value types) and ended, nested as in a request:

  store off  HTTP server span > service span > model-call span > upstream HTTP client span   (4)
  store on   the same + store.write, two statement spans, and the request's share of a commit (8)

Rows (CPU of the whole process, exporter thread included, per request):

  api only        the OpenTelemetry API with no SDK installed: what tracing off pays per span call
  sdk, no export  the SDK's TracerProvider, spans recorded and dropped (a processor that keeps nothing)
  sdk + batch     the SDK's BatchSpanProcessor with an exporter that encodes to OTLP protobuf
                  (the exporter package's own encoder) and sends nothing
  sdk + otlp/grpc the full default path: BatchSpanProcessor, OTLPSpanExporter over gRPC to
                  bench/_otlp_sink.py in another process

The last column divides the added CPU by --base-us: the always-on target of issue 18 is ≤ 0.25.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import SpanKind

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import Children, free_port, wait_tcp  # noqa: E402

BENCH = Path(__file__).resolve().parent

# Attribute sets of the gateway's spans (keys as the conventions name them; values of the same types).
SERVER_ATTRS = {
    "http.request.method": "POST",
    "http.route": "/v1/responses",
    "url.path": "/v1/responses",
    "url.scheme": "http",
    "server.address": "127.0.0.1",
    "server.port": 8080,
    "network.protocol.version": "1.1",
    "client.address": "127.0.0.1",
    "user_agent.original": "OpenAI/Python 3.57.0",
}
SERVICE_ATTRS = {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-5.4",
    "responses_gateway.tenant": "default",
}
SERVICE_END_ATTRS = {
    "gen_ai.response.id": "resp_0123456789abcdef0123456789abcdef",
    "gen_ai.usage.input_tokens": 4,
    "gen_ai.usage.output_tokens": 5,
}
MODEL_ATTRS = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-5.4",
    "server.address": "api.openai.com",
    "server.port": 443,
    "openai.api.type": "responses",
    "responses_gateway.tenant": "default",
}
MODEL_END_ATTRS = {
    "gen_ai.response.id": "resp_upstream0123456789",
    "gen_ai.response.model": "gpt-5.4-2026-03-05",
    "gen_ai.response.finish_reasons": ("stop",),
    "gen_ai.usage.input_tokens": 4,
    "gen_ai.usage.output_tokens": 5,
}
CLIENT_ATTRS = {
    "http.request.method": "POST",
    "url.full": "https://api.openai.com/v1/responses",
    "server.address": "api.openai.com",
    "server.port": 443,
}
STATEMENT_ATTRS = {
    "db.system": "sqlite",
    "db.name": "gateway.db",
    "db.statement": "INSERT INTO responses (id, tenant_id, model, status, data) VALUES (?, ?, ?, ?, ?)",
}


class Drop(SpanProcessor):
    """Keeps nothing: the SDK's recording cost without any export."""

    def on_end(self, span: ReadableSpan) -> None:
        pass


class EncodeOnly(SpanExporter):
    """Encodes each batch to OTLP protobuf bytes as the OTLP exporters do, then drops it."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        encode_spans(spans).SerializeToString()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def one_request(tracer: trace.Tracer, store: bool) -> None:
    """The spans of one request, nested and ended as the gateway does."""
    server = tracer.start_span(
        "POST /v1/responses", kind=SpanKind.SERVER, attributes=SERVER_ATTRS
    )
    token = otel_context.attach(trace.set_span_in_context(server))
    service = tracer.start_span("create_response gpt-5.4", attributes=SERVICE_ATTRS)
    service_token = otel_context.attach(trace.set_span_in_context(service))
    model = tracer.start_span(
        "chat gpt-5.4", kind=SpanKind.CLIENT, attributes=MODEL_ATTRS
    )
    client = tracer.start_span(
        "POST",
        context=trace.set_span_in_context(model),
        kind=SpanKind.CLIENT,
        attributes=CLIENT_ATTRS,
    )
    client.set_attribute("http.response.status_code", 200)
    client.end()
    model.set_attributes(MODEL_END_ATTRS)
    model.end()
    if store:
        write = tracer.start_span("store.write", attributes={"db.system": "sqlite"})
        write_ctx = trace.set_span_in_context(write)
        for _ in range(2):
            tracer.start_span(
                "INSERT gateway.db",
                context=write_ctx,
                kind=SpanKind.CLIENT,
                attributes=STATEMENT_ATTRS,
            ).end()
        write.end()
        # A commit span links every request of its group; at c=1 each request has its own.
        tracer.start_span(
            "store.commit", links=[trace.Link(write.get_span_context())]
        ).end()
    service.set_attributes(SERVICE_END_ATTRS)
    otel_context.detach(service_token)
    service.end()
    server.set_attribute("http.response.status_code", 200)
    otel_context.detach(token)
    server.end()


# Large enough that no span of a run is dropped: the loop produces spans faster than a server would.
QUEUE = 1 << 20


def cpu_per_request(
    make: Callable[[], tuple[trace.Tracer, Callable[[], None]]], store: bool, n: int
) -> float:
    """Process CPU µs per request (all threads), the exporter's final flush included."""
    tracer, finish = make()
    for _ in range(200):  # warm-up: imports, caches
        one_request(tracer, store)
    start = time.process_time()
    for _ in range(n):
        one_request(tracer, store)
    finish()
    return (time.process_time() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--base-us",
        type=float,
        default=417.0,
        help="the gateway's CPU µs per request without tracing (bench_tracing.py, c=1)",
    )
    args = parser.parse_args()

    resource = Resource.create({"service.name": "responses-gateway"})
    sink_port = free_port()
    children = Children(Path(tempfile.mkdtemp(prefix="rg-bench-floor.")))
    children.install_handlers()
    sink = children.spawn(
        "otlp-sink",
        [sys.executable, str(BENCH / "_otlp_sink.py"), "--port", str(sink_port)],
        cwd=BENCH,
    )
    try:
        wait_tcp(sink_port, sink, 30)

        def api_only() -> tuple[trace.Tracer, Callable[[], None]]:
            return trace.NoOpTracer(), lambda: None

        def sdk_dropped() -> tuple[trace.Tracer, Callable[[], None]]:
            provider = TracerProvider(resource=resource)
            provider.add_span_processor(Drop())
            return provider.get_tracer("bench"), provider.shutdown

        def sdk_batch_encode() -> tuple[trace.Tracer, Callable[[], None]]:
            provider = TracerProvider(resource=resource)
            provider.add_span_processor(
                BatchSpanProcessor(EncodeOnly(), max_queue_size=QUEUE)
            )
            return provider.get_tracer("bench"), provider.shutdown

        def sdk_otlp_grpc() -> tuple[trace.Tracer, Callable[[], None]]:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter,
            )

            provider = TracerProvider(resource=resource)
            provider.add_span_processor(
                BatchSpanProcessor(
                    OTLPSpanExporter(endpoint=f"127.0.0.1:{sink_port}", insecure=True),
                    max_queue_size=QUEUE,
                )
            )
            return provider.get_tracer("bench"), provider.shutdown

        rows = [
            ("api only", api_only),
            ("sdk, no export", sdk_dropped),
            ("sdk + batch + encode", sdk_batch_encode),
            ("sdk + otlp/grpc", sdk_otlp_grpc),
        ]
        print(
            f"## the OpenTelemetry Python SDK's own cost per request ({args.requests} requests x {args.rounds} rounds, median)"
        )
        print(
            f"python {sys.version.split()[0]}; budget for always-on: 0.25 x {args.base_us:.0f} µs = {0.25 * args.base_us:.0f} µs per request\n"
        )
        print("| path | spans/request | CPU µs/request | µs/span | / base CPU |")
        print("|---|---|---|---|---|")
        for store in (False, True):
            spans = 8 if store else 4
            for name, make in rows:
                us = statistics.median(
                    cpu_per_request(make, store, args.requests)
                    for _ in range(args.rounds)
                )
                print(
                    f"| {name} | {spans} | {us:.1f} | {us / spans:.1f} | {us / args.base_us:.3f} |",
                    flush=True,
                )
    finally:
        children.stop_all()


if __name__ == "__main__":
    main()
