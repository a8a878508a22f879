"""A create seen from outside: the service's span for the request, and the GenAI server metrics.

The span (INTERNAL, `create_response {model}`) is the parent of the request's
model-call and database spans and carries the gateway's `resp_…` id, the
tenant and the usage the client receives. It is made current only around the
steps that do work (never across a stream's yields), so the caller's code
between events does not run inside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import error_attributes
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.errors import GatewayError
from responses_gateway.service.call import CallContext
from responses_gateway.telemetry import Telemetry
from responses_gateway.telemetry.genai import OPERATION, TENANT, finish_reasons, usage_attributes
from responses_gateway.telemetry.instruments import CounterSeries, HistogramSeries
from responses_gateway.telemetry.metrics import Metrics, exemplar_of
from responses_gateway.telemetry.tracing import parent_declined

# Events that carry generated tokens: the first one is the time to first token.
_TOKEN_EVENTS = frozenset(
    {
        "output_text_delta",
        "refusal_delta",
        "function_call_arguments_delta",
        "reasoning_summary_text_delta",
        "reasoning_text_delta",
    }
)


# Reused: entering a nullcontext changes nothing, so one serves every untraced step.
_UNTRACED = contextlib.nullcontext()


@dataclass(slots=True)
class _Completed:
    """The series a completed response of one model and tenant counts into."""

    duration: HistogramSeries
    responses: CounterSeries
    input: CounterSeries
    cached: CounterSeries
    output: CounterSeries
    reasoning: CounterSeries

    @classmethod
    def of(cls, m: Metrics, model: str, tenant: str) -> _Completed:
        return cls(
            m.server_duration.labels(OPERATION, model, ""),
            m.responses.labels(model, tenant, "completed"),
            *(m.tokens.labels(model, tenant, kind) for kind in ("input", "cached", "output", "reasoning")),
        )


class ObservedCreate:
    """One create, from its arrival at the service to its last event."""

    def __init__(
        self,
        metrics: Metrics | None,
        span: Span | None,
        model: str,
        tenant: str,
        streamed: bool,
        series: dict[tuple[str, str], _Completed],
    ) -> None:
        self._series = series
        self._metrics = metrics
        self._span = span
        self._model = model
        # The model as a metric label once the router knew it (a client's unknown name is no label).
        self._label = ""
        self._tenant = tenant
        self._streamed = streamed
        self._started = time.perf_counter()
        self._first_token: float | None = None
        self._ended = False
        if streamed and metrics is not None:
            metrics.streams_in_flight.inc()

    def current(self) -> contextlib.AbstractContextManager[object]:
        """The request's span made current, for one step of the work."""
        if self._span is None:
            return _UNTRACED
        return trace.use_span(self._span, end_on_exit=False)

    def identified(self, response_id: str, dropped_items: int) -> None:
        """The gateway's id for the response (the model is a known one); the items truncation dropped, as an event."""
        self._label = self._model
        if self._span is not None:
            self._span.set_attribute(gen_ai.GEN_AI_RESPONSE_ID, response_id)
            if dropped_items:
                self._span.add_event("gen_ai.truncation", {"dropped_items": dropped_items})

    def saw(self, event: epb.ResponseStreamEvent) -> None:
        """A streamed event; the first that carries tokens marks the time to first token."""
        if self._first_token is None and event.WhichOneof("event") in _TOKEN_EVENTS:
            self._first_token = time.perf_counter()

    def _end(self) -> bool:
        """Mark the create ended; False when it already was."""
        if self._ended:
            return False
        self._ended = True
        if self._streamed and self._metrics is not None:
            self._metrics.streams_in_flight.dec()
        return True

    def finished(self, response: pb.Response) -> None:
        """The final response, as the client receives it."""
        if not self._end():
            return
        error_type = (response.error.code or "failed") if response.status == "failed" else ""
        if self._span is not None:
            self._span.set_attributes(
                {gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: finish_reasons(response), **usage_attributes(response.usage)}
            )
            if error_type:
                self._span.set_attribute(error_attributes.ERROR_TYPE, error_type)
                self._span.set_status(Status(StatusCode.ERROR, response.error.message or None))
            self._span.end()
        if self._metrics is not None:
            self._record(response, error_type)

    def failed(self, exc: BaseException) -> None:
        """The create failed before it had a response to give (an error status, not a failed response)."""
        if not self._end():
            return
        gone = isinstance(exc, (GeneratorExit, asyncio.CancelledError))
        error_type = "client_disconnected" if gone else type(exc).__name__
        if self._span is not None:
            self._span.set_attribute(error_attributes.ERROR_TYPE, error_type)
            message = exc.message if isinstance(exc, GatewayError) else ""
            self._span.set_status(Status(StatusCode.ERROR, message or None))
            self._span.end()
        if self._metrics is not None:
            m = self._metrics
            elapsed = time.perf_counter() - self._started
            exemplar = exemplar_of(self._span) if m.exemplars else None
            m.server_duration.labels(OPERATION, self._label, error_type).observe(elapsed, exemplar)

    def _record(self, response: pb.Response, error_type: str) -> None:
        m = self._metrics
        assert m is not None
        now = time.perf_counter()
        exemplar = exemplar_of(self._span) if m.exemplars else None
        usage = response.usage
        if not error_type and response.status == "completed":
            # The common case: its series found with one lookup, counted in place.
            key = (self._label, self._tenant)
            done = self._series.get(key)
            if done is None:
                done = self._series[key] = _Completed.of(m, *key)
            done.duration.observe(now - self._started, exemplar)
            done.responses.value += 1
            done.input.value += usage.input_tokens
            done.cached.value += usage.input_tokens_details.cached_tokens
            done.output.value += usage.output_tokens
            done.reasoning.value += usage.output_tokens_details.reasoning_tokens
        else:
            m.server_duration.labels(OPERATION, self._label, error_type).observe(now - self._started, exemplar)
            m.responses.labels(self._label, self._tenant, response.status).inc()
            for kind, count in (
                ("input", usage.input_tokens),
                ("cached", usage.input_tokens_details.cached_tokens),
                ("output", usage.output_tokens),
                ("reasoning", usage.output_tokens_details.reasoning_tokens),
            ):
                m.tokens.labels(self._label, self._tenant, kind).inc(count)
        if self._streamed and self._first_token is not None:
            m.time_to_first_token.labels(OPERATION, self._label).observe(self._first_token - self._started, exemplar)
            if usage.output_tokens > 1:
                per_token = (now - self._first_token) / (usage.output_tokens - 1)
                m.time_per_output_token.labels(OPERATION, self._label).observe(per_token)


class CreateObserver:
    """Starts the observation of each create."""

    def __init__(self, telemetry: Telemetry | None) -> None:
        self._metrics = telemetry.metrics if telemetry is not None else None
        tracing = telemetry.tracing if telemetry is not None else None
        self._tracer = tracing.tracer if tracing is not None else None
        self._series: dict[tuple[str, str], _Completed] = {}

    def begin(self, req: pb.CreateResponseRequest, ctx: CallContext, *, streamed: bool) -> ObservedCreate:
        """A create that just arrived."""
        span = None
        if self._tracer is not None and not parent_declined():
            # The model name is the client's text: bounded, as everywhere it is recorded.
            model = req.model[:128]
            span = self._tracer.start_span(f"create_response {model}", kind=SpanKind.INTERNAL)
            if span.is_recording():
                span.set_attributes(
                    {
                        gen_ai.GEN_AI_OPERATION_NAME: OPERATION,
                        gen_ai.GEN_AI_REQUEST_MODEL: model,
                        TENANT: ctx.tenant_id,
                        "responses_gateway.stream": streamed,
                    }
                )
            else:
                span = None  # not sampled: nothing to record, and nothing to make current
        return ObservedCreate(self._metrics, span, req.model, ctx.tenant_id, streamed, self._series)
