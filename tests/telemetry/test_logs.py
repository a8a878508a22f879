"""Logs: text for a terminal, JSON lines for a pipeline, one access line per request, never a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from responses_gateway.telemetry.logs import ACCESS, JsonFormatter, configure_logging, log_access
from tests.e2e.conftest import Gateway, gateway  # noqa: F401 - the fixture, both layouts


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, access_level = root.handlers[:], root.level, ACCESS.level
    yield
    root.handlers[:], root.level = handlers, level
    ACCESS.setLevel(access_level)


def _json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_record_has_its_fields_and_the_current_trace(restored_logging: None) -> None:
    configure_logging("json", worker=2)
    stream = io.StringIO()
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        logging.getLogger("responses_gateway.test").warning("hello %s", "world", extra={"route": "/v1/responses"})
    logging.getLogger("responses_gateway.test").info("outside any span")
    inside, outside = _json_lines(stream)
    assert inside["level"] == "warning" and inside["message"] == "hello world" and inside["route"] == "/v1/responses"
    assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x") and inside["worker"] == 2
    assert "trace_id" not in outside and str(outside["time"]).endswith("Z")


def test_an_exception_is_one_json_line(restored_logging: None) -> None:
    formatter = JsonFormatter()
    try:
        raise ValueError("broken")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, exc_info=__import__("sys").exc_info())
    line = formatter.format(record)
    assert "\n" not in line and "ValueError: broken" in json.loads(line)["exception"]


def test_the_access_line_can_be_turned_off(restored_logging: None) -> None:
    configure_logging("text", access_log=False)
    stream = io.StringIO()
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    log_access("GET", "/healthz", 200, 0.001)
    assert stream.getvalue() == ""
    configure_logging("text")
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    log_access("GET", "/healthz", 200, 0.001)
    assert "GET /healthz 200" in stream.getvalue()


async def test_each_request_has_one_access_line_with_model_tenant_and_tokens(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS.name)
    async with gateway.client() as client:
        response = await client.responses.create(model="gpt-5.4", input="A secret prompt text", store=False)
        stream = await client.responses.create(model="gpt-5.4", input="Another one", stream=True)
        async for _ in stream:
            pass
    lines = [r for r in caplog.records if r.name == ACCESS.name and getattr(r, "route", "") == "/v1/responses"]
    assert len(lines) == 2
    for record in lines:
        assert (record.method, record.status, record.model, record.tenant) == ("POST", 200, "gpt-5.4", "default")  # type: ignore[attr-defined]
    assert response.usage is not None
    assert (lines[0].input_tokens, lines[0].output_tokens) == (response.usage.input_tokens, response.usage.output_tokens)  # type: ignore[attr-defined]
    assert lines[1].output_tokens > 0  # type: ignore[attr-defined]
    text = "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str) for r in caplog.records)
    assert "A secret prompt text" not in text and "sk-anything" not in text and "sk-upstream-secret" not in text
