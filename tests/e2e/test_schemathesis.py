"""schemathesis against a live gateway: requests generated from the bridge's OpenAPI document, every answer checked.

The real service and bridge run in front of the fake OpenAI upstream on
127.0.0.1, in both layouts (in-process backend, and bridge → gRPC → service),
in an event loop of their own on a thread: schemathesis sends its cases
synchronously (requests). Per operation it sends the document's examples, its
coverage cases (boundaries and near misses, built when the test is collected)
and a bounded, derandomized fuzzing run, in positive and negative modes. Each
answer must be no 5xx, have a status, content type and body (SSE events
included) that the document declares, and every 4xx must be OpenAI's
`{"error": {message, type, param, code}}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import threading
import zlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from responses_gateway.bridge.openapi import openapi_document
from tests.e2e.conftest import FAKE_KEY_ENV, gateway_settings, serve
from tests.upstreams.openai_responses import FakeOpenAIResponses

# Models the gateway under test routes (tests/e2e/conftest.py).
ROUTED_MODELS = ("gpt-5.4", "gpt-5.4-mini")
# Fuzzing examples per operation and layout; the coverage cases come on top (~1,000 per layout, most on the
# two create bodies). The whole module takes ~25 s on two cores.
MAX_EXAMPLES = 25
SEED = 20261


@dataclass
class LiveGateway:
    """The gateway under test and what it stored for the cases to read."""

    url: str = ""
    mode: str = ""
    # A stored response per operation that reads one (deleting one must not empty another's), and one to continue.
    stored: dict[str, str] = field(default_factory=dict)
    session: requests.Session = field(default_factory=requests.Session)
    # Operation label → the status classes (2, 4) its answers had.
    outcomes: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))


# Module state, since the coverage cases exist before any fixture runs; the fixture fills it.
LIVE = LiveGateway()
_READERS = ("getResponse", "deleteResponse", "listInputItems", "cancelResponse")


@contextlib.contextmanager
def _serving(tmp_path: Path, mode: str) -> Iterator[str]:
    """Run the fake upstream and the gateway on a thread of their own until the block exits; yield the bridge URL."""
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        stop = asyncio.Event()
        upstream = FakeOpenAIResponses(api_key="sk-upstream-secret")
        try:
            settings = gateway_settings(tmp_path, await upstream.start())
            async with serve(settings, mode) as (http_url, _target, _service):
                state.update(url=http_url, loop=asyncio.get_running_loop(), stop=stop)
                ready.set()
                await stop.wait()
        finally:
            await upstream.close()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # the main thread reports it
            state["error"] = exc
        finally:
            ready.set()

    thread = threading.Thread(target=run, name=f"gateway-{mode}", daemon=True)
    thread.start()
    ready.wait(60)
    if "url" not in state:
        raise RuntimeError(f"the gateway ({mode}) did not start") from state.get("error")
    try:
        yield state["url"]
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(30)


@pytest.fixture(scope="module", params=["inprocess", "remote"])
def live_gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv(FAKE_KEY_ENV, "sk-upstream-secret")
        monkeypatch.delenv("E2E_UNSET_KEY", raising=False)
        with _serving(tmp_path_factory.mktemp(f"schemathesis-{request.param}"), request.param) as url:
            LIVE.url, LIVE.mode = url, request.param
            LIVE.session = requests.Session()
            LIVE.session.trust_env = False  # 127.0.0.1 only: no proxy from the environment
            for name in (*_READERS, "previous"):
                created = LIVE.session.post(
                    f"{url}/v1/responses", json={"model": ROUTED_MODELS[0], "input": f"Hello from {name}"}, timeout=30
                )
                assert created.status_code == 200, created.text
                LIVE.stored[name] = created.json()["id"]
            try:
                yield LIVE
            finally:
                LIVE.session.close()
                LIVE.url = LIVE.mode = ""
                LIVE.stored.clear()
                LIVE.outcomes.clear()


def test_the_live_bridge_serves_the_document(live_gateway: LiveGateway) -> None:
    resp = live_gateway.session.get(f"{live_gateway.url}/openapi.json", timeout=10)

    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json() == openapi_document()


# --- the cases ----------------------------------------------------------------

schema = schemathesis.openapi.from_dict(
    copy.deepcopy(openapi_document()),
    config=schemathesis.Config.from_dict({"seed": SEED, "generation": {"deterministic": True}}),
)

_BODIES = ("/v1/responses", "/v1/responses/input_tokens")


def _most(value: str) -> bool:
    """Three values in four, the same ones on every run."""
    return zlib.crc32(value.encode("utf-8", "surrogatepass")) % 4 != 0


def _steer(case: schemathesis.Case[Any]) -> None:
    """Steer positive cases past the lookups a generator cannot guess, so they reach the upstream and the store.

    Done as the case is sent: coverage cases are built when the test is collected, before the gateway runs.
    Most create and count bodies name a routed model and continue a stored response (or none), and most
    response and model ids are ones the gateway has; the rest keep what was generated. Negative cases are left
    alone: they must be refused for what they break.
    """
    if case.meta is None or case.meta.generation.mode is not schemathesis.GenerationMode.POSITIVE:
        return
    operation_id = case.operation.definition.raw.get("operationId")
    path = dict(case.path_parameters or {})
    if isinstance(path.get("response_id"), str) and operation_id in LIVE.stored and _most(path["response_id"]):
        case.path_parameters = {**path, "response_id": LIVE.stored[operation_id]}
    if isinstance(path.get("model_id"), str) and _most(path["model_id"]):
        case.path_parameters = {**path, "model_id": ROUTED_MODELS[len(path["model_id"]) % len(ROUTED_MODELS)]}
    if case.operation.path in _BODIES and case.method.upper() == "POST" and isinstance(case.body, dict):
        body = dict(case.body)
        model = body.get("model")
        if isinstance(model, str) and _most(model):
            body["model"] = ROUTED_MODELS[len(model) % len(ROUTED_MODELS)]
        previous = body.get("previous_response_id")
        if isinstance(previous, str) and _most(previous):
            body["previous_response_id"] = LIVE.stored["previous"] if len(previous) % 2 else None
        case.body = body


def openai_error_shape(ctx: Any, response: schemathesis.Response, case: schemathesis.Case[Any]) -> bool | None:
    """Every 4xx is OpenAI's error object, with the exact keys and types its SDK reads."""
    if not 400 <= response.status_code < 500:
        return None
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, f"not an OpenAI error body: {response.text[:300]}"
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"message", "type", "param", "code"}, f"error keys: {error}"
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["type"], str) and error["type"], error
    assert error["param"] is None or isinstance(error["param"], str), error
    assert error["code"] is None or isinstance(error["code"], str), error
    return True


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance, openai_error_shape]


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_every_answer_conforms_to_the_document(case: schemathesis.Case[Any], live_gateway: LiveGateway) -> None:
    _steer(case)
    response = case.call_and_validate(base_url=live_gateway.url, session=live_gateway.session, checks=CHECKS, timeout=30)
    live_gateway.outcomes[case.operation.label].add(response.status_code // 100)


# Operations whose documented success a generated case cannot reach on this gateway: a cancel needs a
# background response, which the gateway does not run yet.
_NO_SUCCESS = {"POST /v1/responses/{response_id}/cancel"}


def test_the_cases_reached_both_success_and_refusal(live_gateway: LiveGateway) -> None:
    """The steering works: every operation was answered 2xx and 4xx (a 405 at least), not only one of them."""
    if not live_gateway.outcomes:
        pytest.skip("the generated cases did not run (deselected)")
    for label, classes in live_gateway.outcomes.items():
        if label not in _NO_SUCCESS:
            assert 2 in classes, f"{label}: no case was answered 2xx"
        assert 4 in classes, f"{label}: no case was answered 4xx"


@pytest.mark.parametrize("authorization", ["Bearer \u00e9", "Bearer a\tb"])
def test_an_authorization_header_grpc_cannot_carry_is_answered_as_in_process(
    live_gateway: LiveGateway, authorization: str
) -> None:
    # The split layout carries it as binary metadata; this gateway is open (loopback), so any credential passes.
    resp = live_gateway.session.get(f"{live_gateway.url}/v1/models", headers={"Authorization": authorization}, timeout=10)
    assert resp.status_code == 200, resp.text
