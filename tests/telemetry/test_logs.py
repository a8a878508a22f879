"""Logs: text for a terminal, JSON lines for a pipeline, one access line per request, never a secret."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from opentelemetry.sdk.trace import TracerProvider

from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.bridge.access import USAGE
from responses_gateway.bridge.errors import openai_errors
from responses_gateway.telemetry.logs import AccessLog, JsonFormatter, configure_logging
from responses_gateway.telemetry.metrics import Metrics
from tests.e2e.conftest import Gateway, gateway  # noqa: F401 - the fixture, both layouts


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


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


async def test_access_lines_have_the_configured_shape_and_are_written_in_batches() -> None:
    stream = io.StringIO()
    text = AccessLog("text", stream=stream, flush_lines=2)
    text.write("GET", "/healthz", 200, 0.001)
    assert stream.getvalue() == ""  # waiting for the batch (or the timer, with a loop running)
    text.write("POST", "/v1/responses", 200, 0.0123, model="gpt-5.4", tenant="acme", input_tokens=5, output_tokens=7)
    first, second = stream.getvalue().splitlines()
    assert " INFO responses_gateway.access: GET /healthz 200 1.0ms model=- tenant=-" in first
    assert second.endswith("POST /v1/responses 200 12.3ms model=gpt-5.4 tenant=acme tokens=5/7")

    stream = io.StringIO()
    as_json = AccessLog("json", stream=stream, worker=1, traced=True)
    with TracerProvider().get_tracer("test").start_as_current_span("request") as span:
        as_json.write("POST", "/v1/responses", 429, 0.002, model="gpt-5.4", tenant="acme")
    as_json.flush()
    (line,) = _json_lines(stream)
    assert line["logger"] == "responses_gateway.access" and line["level"] == "info" and line["worker"] == 1
    assert (line["route"], line["status"], line["tenant"], line["latency_ms"]) == ("/v1/responses", 429, "acme", 2.0)
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x") and "input_tokens" not in line


async def test_each_request_has_one_access_line_with_model_tenant_and_tokens(
    gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    async with gateway.client() as client:
        response = await client.responses.create(model="gpt-5.4", input="A secret prompt text", store=False)
        stream = await client.responses.create(model="gpt-5.4", input="Another one", stream=True)
        async for _ in stream:
            pass
    await asyncio.sleep(0.5)  # the batch's timer
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "responses_gateway.access: POST /v1/responses" in line]
    assert len(lines) == 2
    assert response.usage is not None
    tokens = f"tokens={response.usage.input_tokens}/{response.usage.output_tokens}"
    assert lines[0].endswith(f"POST /v1/responses 200 {lines[0].split(' 200 ')[1].split('ms')[0]}ms model=gpt-5.4 tenant=default {tokens}")
    assert "model=gpt-5.4 tenant=default tokens=" in lines[1]
    assert "A secret prompt text" not in err and "sk-anything" not in err and "sk-upstream-secret" not in err


async def test_a_client_that_hangs_up_after_the_terminal_event_is_logged_and_counted() -> None:
    """As Codex does: it reads up to `response.completed` and closes, and aiohttp cancels the handler.

    The request was answered in full (its terminal event, with the usage, went out): a 200 in the
    metrics and the access line. One cancelled before any answer is a 499.
    """
    metrics, stream = Metrics(process_collectors=False), io.StringIO()
    middleware = openai_errors(metrics=metrics, access_log=AccessLog("text", stream=stream))

    async def answered_then_gone(request: web.Request) -> web.StreamResponse:
        request[USAGE] = pb.Usage(input_tokens=3, output_tokens=4)
        raise asyncio.CancelledError

    async def gone_before_answering(request: web.Request) -> web.StreamResponse:
        raise asyncio.CancelledError

    for handler in (answered_then_gone, gone_before_answering):
        with pytest.raises(asyncio.CancelledError):
            await middleware(make_mocked_request("POST", "/v1/responses"), handler)
    counted = [line for line in metrics.exposition(None)[0].decode().splitlines() if "http_requests_total{" in line]
    assert sorted(line.split("status=")[1] for line in counted) == ['"200"} 1.0', '"499"} 1.0']
    await asyncio.sleep(0.3)
    first, second = stream.getvalue().splitlines()
    assert " 200 " in first and "tokens=3/4" in first and " 499 " in second
