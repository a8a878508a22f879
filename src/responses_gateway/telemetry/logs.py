"""Logging set up for a process: text for a terminal, or one JSON object per line for a log pipeline.

Every record carries the current trace and span ids when a span is current,
so a log line leads to its trace. The access line (`responses_gateway.access`,
one per HTTP request) carries route, status, model, tenant, tokens and
latency as fields; never content, credentials or ids of stored objects.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Literal

import orjson
from opentelemetry import trace

LogFormat = Literal["text", "json"]
ACCESS = logging.getLogger("responses_gateway.access")

# What every LogRecord has; anything else on a record came as `extra` and becomes a field.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, trace ids and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
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
                out["trace_id"] = format(context.trace_id, "032x")
                out["span_id"] = format(context.span_id, "016x")
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def configure_logging(
    log_format: LogFormat = "text", *, access_log: bool = True, worker: int | None = None, level: int = logging.INFO
) -> None:
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
    ACCESS.setLevel(logging.INFO if access_log else logging.WARNING)


class _Worker(logging.Filter):
    """Adds the worker's index to each record (a JSON field)."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self._index = index

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self._index
        return True


def log_access(
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
    """The access line of one HTTP request (nothing when info is off for the access logger)."""
    if not ACCESS.isEnabledFor(logging.INFO):
        return
    fields: dict[str, object] = {"method": method, "route": route, "status": status, "latency_ms": round(seconds * 1000, 2)}
    if model:
        fields["model"] = model
    if tenant:
        fields["tenant"] = tenant
    tokens = ""
    if input_tokens is not None:
        fields["input_tokens"] = input_tokens
        fields["output_tokens"] = output_tokens
        tokens = f" tokens={input_tokens}/{output_tokens}"
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        fields["trace_id"] = format(context.trace_id, "032x")
        fields["span_id"] = format(context.span_id, "016x")
    message = f"{method} {route} {status} {seconds * 1000:.1f}ms model={model or '-'} tenant={tenant or '-'}{tokens}"
    # makeRecord and handle directly: Logger.info would also walk the stack for a caller nobody reads.
    ACCESS.handle(ACCESS.makeRecord(ACCESS.name, logging.INFO, "", 0, message, (), None, extra=fields))
