"""Logging set up for a process: text for a terminal, or one JSON object per line for a log pipeline.

Every record carries the current trace and span ids when a span is current,
so a log line leads to its trace. The access line (`responses_gateway.access`,
one per HTTP request, AccessLog) carries route, status, model, tenant, tokens
and latency as fields; never content, credentials or ids of stored objects.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Literal, TextIO

import orjson
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN_CONTEXT

LogFormat = Literal["text", "json"]
# The access lines' logger name (AccessLog writes them itself, in the same shapes).
ACCESS = logging.getLogger("responses_gateway.access")

# What every LogRecord has; anything else on a record came as `extra` and becomes a field.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


def _utc(seconds: float) -> str:
    """A JSON line's time: UTC, ISO 8601, milliseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, trace ids and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if "trace_id" not in out:
            context = trace.get_current_span().get_span_context()
            if context.is_valid:
                out["trace_id"] = trace.format_trace_id(context.trace_id)
                out["span_id"] = trace.format_span_id(context.span_id)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def configure_logging(log_format: LogFormat = "text", *, worker: int | None = None, level: int = logging.INFO) -> None:
    """The root logger's one handler, on stderr, in the chosen format; `worker` names a `serve --workers` process."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        if worker is not None:
            handler.addFilter(_Worker(worker))
    else:
        who = f" w{worker}" if worker is not None else ""
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s{who} %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class _Worker(logging.Filter):
    """Adds the worker's index to each record (a JSON field)."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self._index = index

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self._index
        return True


class AccessLog:
    """The access lines: one per HTTP request, formatted here and written to stderr in batches.

    Not through `logging`: a LogRecord, its handler and formatter cost ~96,000 instructions per
    line (callgrind), about 60 µs of CPU per request under load (bench/bench_tracing.py's
    `serve` vs `serve-log`). Lines are written at most `flush_seconds` after they are made, or
    at once `flush_lines` of them wait, and when the bridge stops; a crash loses at most that
    much. They have the shape the configured format gives every other line: text as
    `logging`'s default (local time), JSON with the same keys as JsonFormatter.
    """

    def __init__(
        self,
        log_format: LogFormat = "text",
        *,
        worker: int | None = None,
        traced: bool = False,
        flush_seconds: float = 0.25,
        flush_lines: int = 256,
        stream: TextIO | None = None,
    ) -> None:
        """`traced`: lines carry the current trace's ids (tracing is on); `stream`: where lines go (default: sys.stderr
        as it is at each write)."""
        self._traced = traced
        self._json = log_format == "json"
        self._worker = worker
        self._who = f" w{worker}" if worker is not None else ""
        self._flush_seconds = flush_seconds
        self._flush_lines = flush_lines
        self._stream = stream
        self._pending: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._second = -1
        self._stamp = ""

    def write(
        self,
        method: str,
        route: str,
        status: int,
        seconds: float,
        *,
        model: str = "",
        tenant: str = "",
        input_tokens: int | None = None,
        output_tokens: int | None = None,
    ) -> None:
        """One request's line (trace and span ids from the current span, when there is one)."""
        tokens = f" tokens={input_tokens}/{output_tokens}" if input_tokens is not None else ""
        message = f"{method} {route} {status} {seconds * 1000:.1f}ms model={model or '-'} tenant={tenant or '-'}{tokens}"
        now = time.time()
        context = trace.get_current_span().get_span_context() if self._traced else INVALID_SPAN_CONTEXT
        if self._json:
            fields: dict[str, object] = {
                "time": _utc(now),
                "level": "info",
                "logger": ACCESS.name,
                "message": message,
                "method": method,
                "route": route,
                "status": status,
                "latency_ms": round(seconds * 1000, 2),
            }
            if model:
                fields["model"] = model
            if tenant:
                fields["tenant"] = tenant
            if input_tokens is not None:
                fields["input_tokens"] = input_tokens
                fields["output_tokens"] = output_tokens
            if context.is_valid:
                fields["trace_id"] = trace.format_trace_id(context.trace_id)
                fields["span_id"] = trace.format_span_id(context.span_id)
            if self._worker is not None:
                fields["worker"] = self._worker
            line = orjson.dumps(fields).decode() + "\n"
        else:
            second = int(now)
            if second != self._second:
                self._second, self._stamp = second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            ids = f" trace_id={trace.format_trace_id(context.trace_id)}" if context.is_valid else ""
            line = f"{self._stamp},{int(now % 1 * 1000):03d} INFO{self._who} {ACCESS.name}: {message}{ids}\n"
        self._pending.append(line)
        if len(self._pending) >= self._flush_lines:
            self.flush()
        elif self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(self._flush_seconds, self.flush)
            except RuntimeError:  # no loop: nothing would flush later
                self.flush()

    def flush(self) -> None:
        """Write what waits."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        lines, self._pending = "".join(self._pending), []
        stream = self._stream or sys.stderr
        stream.write(lines)
        stream.flush()
