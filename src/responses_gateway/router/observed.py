"""What the router's attempts look like from outside: model-call spans, GenAI metrics, retry and breaker events.

Without telemetry (unit tests, a router built bare) every hook is a no-op.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.trace import Span

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.errors import GatewayError
from responses_gateway.router.breaker import BreakerState
from responses_gateway.telemetry import Telemetry
from responses_gateway.telemetry.genai import OPERATION, Upstream, end_model_call, fail_model_call, start_model_call
from responses_gateway.telemetry.instruments import HistogramSeries
from responses_gateway.telemetry.metrics import Metrics, exemplar_of
from responses_gateway.telemetry.tracing import parent_declined

_TERMINAL = frozenset({"completed", "incomplete", "failed"})
# Reused: entering a nullcontext changes nothing, so one serves every untraced attempt.
_UNTRACED = contextlib.nullcontext()


@dataclass(slots=True)
class _Answered:
    """The series an answered call to one provider and model records into."""

    duration: HistogramSeries
    input: HistogramSeries
    output: HistogramSeries

    @classmethod
    def of(cls, m: Metrics, provider: str, model: str) -> _Answered:
        return cls(
            m.operation_duration.labels(OPERATION, provider, model, ""),
            m.token_usage.labels(OPERATION, provider, model, "input"),
            m.token_usage.labels(OPERATION, provider, model, "output"),
        )


class ObservedCall:
    """One upstream attempt: its span (when tracing) and its duration and tokens (when metered)."""

    def __init__(
        self,
        metrics: Metrics | None,
        span: Span | None,
        upstream: Upstream,
        model: str,
        capture: bool,
        series: dict[tuple[str, str], _Answered],
    ) -> None:
        self._series = series
        self._metrics = metrics
        self._span = span
        self._upstream = upstream
        self._model = model
        self._capture = capture
        self._started = time.perf_counter()
        self._done = metrics is None and span is None

    def current(self) -> contextlib.AbstractContextManager[object]:
        """The span made current while the attempt runs, so the HTTP client span sits under it."""
        if self._span is None:
            return _UNTRACED
        return trace.use_span(self._span, end_on_exit=False)

    def saw(self, event: epb.ResponseStreamEvent) -> None:
        """A relayed event: the terminal one ends the call with its response."""
        if self._done:
            return
        kind = event.WhichOneof("event")
        if kind in _TERMINAL:
            self.answered(getattr(event, kind).response)

    def answered(self, response: pb.Response) -> None:
        """The upstream's finished response."""
        if self._done:
            return
        self._done = True
        if self._span is not None:
            end_model_call(self._span, response, capture_content=self._capture)
        if self._metrics is not None:
            m = self._metrics
            exemplar = exemplar_of(self._span) if m.exemplars else None
            elapsed = time.perf_counter() - self._started
            key = (self._upstream.provider_name, self._model)
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = _Answered.of(m, *key)
            if response.status == "failed":
                m.operation_duration.labels(OPERATION, *key, response.error.code or "failed").observe(elapsed, exemplar)
            else:
                series.duration.observe(elapsed, exemplar)
            series.input.observe(response.usage.input_tokens)
            series.output.observe(response.usage.output_tokens)

    def failed(self, exc: BaseException) -> None:
        """The attempt failed (before its first event, or mid-stream)."""
        if self._done:
            return
        self._done = True
        if self._span is not None:
            fail_model_call(self._span, exc)
        if self._metrics is not None:
            error_type = type(exc).__name__
            self._record(error_type)
            self._metrics.upstream_errors.labels(self._upstream.provider_name, error_type).inc()

    def left(self) -> None:
        """The stream ended without a terminal event reaching us (its consumer stopped reading)."""
        if self._done:
            return
        self._done = True
        if self._span is not None:
            self._span.end()
        if self._metrics is not None:
            self._record("")

    def _record(self, error_type: str) -> None:
        assert self._metrics is not None
        m = self._metrics
        series = m.operation_duration.labels(OPERATION, self._upstream.provider_name, self._model, error_type)
        series.observe(time.perf_counter() - self._started, exemplar_of(self._span) if m.exemplars else None)


class ModelCallObserver:
    """Starts observed calls and reports the router's retries, fallbacks and breaker changes."""

    def __init__(self, telemetry: Telemetry | None) -> None:
        self._metrics = telemetry.metrics if telemetry is not None else None
        tracing = telemetry.tracing if telemetry is not None else None
        self._tracer = tracing.tracer if tracing is not None else None
        self._capture = tracing.capture_content if tracing is not None else False
        self._series: dict[tuple[str, str], _Answered] = {}

    def start(self, upstream: Upstream, request: pb.CreateResponseRequest, upstream_model: str) -> ObservedCall:
        """An attempt about to be made."""
        span = None
        if self._tracer is not None and not parent_declined():
            span = start_model_call(self._tracer, upstream, request, upstream_model, capture_content=self._capture)
            if not span.is_recording():
                span = None  # not sampled: nothing to record or to make current
        return ObservedCall(self._metrics, span, upstream, upstream_model, self._capture, self._series)

    def retrying(self, deployment: str, exc: GatewayError, delay: float) -> None:
        """The same deployment is tried again after `delay` seconds."""
        if self._metrics is not None:
            self._metrics.retries.labels(deployment).inc()
        _event("gen_ai.retry", {"deployment": deployment, "error.type": type(exc).__name__, "delay_s": delay})

    def falling_back(self, from_model: str, to_model: str) -> None:
        """The next attempts go to a fallback model."""
        if self._metrics is not None:
            self._metrics.fallbacks.labels(from_model, to_model).inc()
        _event("gen_ai.fallback", {"from_model": from_model, "to_model": to_model})

    def breaker_changed(self, deployment: str) -> Callable[[BreakerState], None]:
        """The callback a deployment's breaker calls when it changes state."""

        def changed(state: BreakerState) -> None:
            if self._metrics is not None:
                self._metrics.breaker_transitions.labels(deployment, state.value).inc()
            _event("gen_ai.breaker", {"deployment": deployment, "state": state.value})

        return changed

    def watch(
        self,
        breakers: Callable[[], Iterator[tuple[str, BreakerState]]],
        queues: Callable[[], Iterator[tuple[str, int, int]]],
    ) -> None:
        """Gauges read at each scrape: every breaker's state, every local model's slots and queue."""
        if self._metrics is None:
            return

        def breaker_states() -> Iterator[tuple[tuple[str, ...], float]]:
            for name, now in breakers():
                for state in BreakerState:
                    yield (name, state.value), float(state is now)

        def queue_depths() -> Iterator[tuple[tuple[str, ...], float]]:
            for provider, generating, waiting in queues():
                yield (provider, "generating"), float(generating)
                yield (provider, "waiting"), float(waiting)

        self._metrics.add_gauge(
            "responses_gateway_breaker_state",
            "Each deployment's breaker: 1 for its current state.",
            ("deployment", "state"),
            breaker_states,
        )
        self._metrics.add_gauge(
            "responses_gateway_local_model_queue",
            "Requests the local model is generating and those waiting for a slot.",
            ("provider", "state"),
            queue_depths,
        )


def _event(name: str, attributes: dict[str, str | float]) -> None:
    span = trace.get_current_span()
    if span.is_recording():
        span.add_event(name, attributes)
