"""A faithful fake of the OpenAI Responses API, used as an upstream in tests.

It is a real aiohttp server on 127.0.0.1 that speaks the live wire protocol:
``POST /v1/responses`` (JSON or SSE), ``GET``/``DELETE /v1/responses/{id}``,
OpenAI error envelopes, the usual response headers and the exact event orders
seen in real captures. The facts come from ``/work/shared/reference/
responses-api.md`` (§2 request, §4 response object, §5 streaming, §7 errors)
and ``upstreams.md`` §B (OpenAI as upstream).

Generation is deterministic so tests can assert on it:

* reply text ``You said: <last user text> (turn N)`` where N counts the user
  messages in ``input``; ``Tool said: <output>`` when the last input item is a
  ``function_call_output``; ``[<instructions>] `` is prepended when set;
* one output token per word-sized delta (``"You"``, ``" said:"``, ...);
* ``gpt-5*`` models emit a reasoning item first (with a summary when asked);
* a function tool in ``tools`` makes the model call it instead of answering.

Fault triggers placed in the last user text inject failures through the real
protocol: ``[[http:429]]``, ``[[http:500]]``, ``[[http:503]]``,
``[[http:400]]``, ``[[stream:error]]``, ``[[stream:failed]]``,
``[[stream:drop]]`` and ``[[slow]]``.

Standalone (benchmarks)::

    python -m tests.upstreams.openai_responses --port 9999 --latency-ms 20
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
import secrets
import string
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from tests.upstreams._standalone import run

Json = dict[str, Any]
Event = tuple[str, Json]  # (event type, fields other than type/sequence_number)
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_ALNUM = string.ascii_letters + string.digits
_WORD = re.compile(r"\s*\S+(?:\s+$)?")
_TRIGGER = re.compile(r"\[\[(http:\d{3}|stream:error|stream:failed|stream:drop|slow)\]\]")
_DELTA_EVENTS = frozenset(
    {
        "response.output_text.delta",
        "response.function_call_arguments.delta",
        "response.reasoning_summary_text.delta",
    }
)
_SLOW_DELAY_S = 0.2
_FAULT_AFTER_DELTAS = 2  # stream:failed / stream:drop strike after this many deltas

# Sent on every successful response (B.1); values are plausible constants.
_RATELIMIT_HEADERS = {
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-limit-tokens": "30000000",
    "x-ratelimit-remaining-requests": "9999",
    "x-ratelimit-remaining-tokens": "29999000",
    "x-ratelimit-reset-requests": "6ms",
    "x-ratelimit-reset-tokens": "2ms",
}

# Per-request storage filled by the middleware.
_STARTED = web.RequestKey("started", float)
_BODY = web.RequestKey("body", dict)  # parsed JSON object, absent when none/invalid
_BAD_JSON = web.RequestKey("bad_json", bool)

_CONTEXT_LENGTH_MESSAGE = (
    "Your input exceeds the context window of this model. Please adjust your input and try again."
)


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An OpenAI error envelope ``{"error":{message,type,param,code}}`` + status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error: Json = {"message": message, "type": type_, "param": param, "code": code}
        self.headers = headers or {}

    def response(self) -> web.Response:
        return _json_response({"error": self.error}, status=self.status, headers=self.headers)


def _context_length_error() -> ApiError:
    return ApiError(400, _CONTEXT_LENGTH_MESSAGE, param="input", code="context_length_exceeded")


def _http_fault(status: int, model: str) -> ApiError | None:
    """Pre-stream failures injected with ``[[http:N]]`` (bodies from B.2)."""
    if status == 429:
        message = (
            f"Rate limit reached for {model} in organization org-fake on tokens per min (TPM): "
            "Limit 30000, Used 25265, Requested 8020. Please try again in 6.57s. "
            "Visit https://platform.openai.com/account/rate-limits to learn more."
        )
        return ApiError(429, message, type_="tokens", code="rate_limit_exceeded", headers={"retry-after": "1"})
    if status == 500:
        message = "The server had an error while processing your request. Sorry about that!"
        return ApiError(500, message, type_="server_error", code="server_error")
    if status == 503:
        message = "The server is overloaded or not ready yet."
        return ApiError(503, message, type_="service_unavailable_error", code="server_is_overloaded")
    if status == 400:
        return _context_length_error()
    return None


class _DropConnection(Exception):
    """Raised by the generator to make the server cut the connection abruptly."""


# --------------------------------------------------------------------------- helpers


def _hex_id(prefix: str) -> str:
    return prefix + secrets.token_hex(24)  # 48 hex chars, like real ids


def _call_id() -> str:
    return "call_" + "".join(random.choices(_ALNUM, k=24))


def _json_response(payload: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, headers=headers, content_type="application/json")


def _split_words(text: str) -> list[str]:
    """Word-sized deltas keeping the leading spaces: "You", " said:", " hi"."""
    return _WORD.findall(text) or ([text] if text else [])


def _fragments(text: str, count: int = 4) -> list[str]:
    size = max(1, -(-len(text) // count))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _mask_key(key: str) -> str:
    return f"{key[:5]}***{key[-3:]}"


def _input_items(raw: Any) -> list[Json]:
    """``input`` as a list of items; a plain string is one user message (§2)."""
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    if isinstance(raw, list):
        return [item for item in raw if isinstance(item, dict)]
    return []


def _content_text(content: Any) -> str:
    """Text of a string or of a list of parts (input_text/output_text/...)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return " ".join(texts)
    return ""


def _is_user_message(item: Json) -> bool:
    # Short messages have no "type"; full ones have type "message".
    return item.get("type", "message") == "message" and item.get("role") == "user"


def _item_text(item: Json) -> str:
    kind = item.get("type", "message")
    if kind == "message":
        return _content_text(item.get("content"))
    if kind == "function_call":
        return str(item.get("arguments", ""))
    if kind == "function_call_output":
        return _content_text(item.get("output"))
    return ""


# --------------------------------------------------------------------------- the "model"


@dataclass
class _Plan:
    """What the fake model will produce for one request."""

    user_text: str
    reply_text: str
    calls: list[tuple[str, str]]  # (tool name, JSON arguments); replaces the message
    reasoning: bool
    summary_text: str | None
    encrypted: bool
    triggers: set[str]


def _function_tools(body: Json) -> list[Json]:
    tools = body.get("tools") or []
    return [t for t in tools if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("name"), str)]


def _planned_calls(body: Json, items: list[Json], user_text: str) -> list[tuple[str, str]]:
    tools = _function_tools(body)
    choice = body.get("tool_choice", "auto")
    if not tools or choice == "none" or (items and items[-1].get("type") == "function_call_output"):
        return []
    if isinstance(choice, dict) and choice.get("type") == "function":
        tools = [t for t in tools if t["name"] == choice.get("name")] or tools
    elif isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        allowed = {t.get("name") for t in choice.get("tools") or [] if isinstance(t, dict)}
        tools = [t for t in tools if t["name"] in allowed] or tools
    arguments = json.dumps({"text": user_text})
    if body.get("parallel_tool_calls") is not False and len(tools) >= 2 and "both" in user_text.lower():
        return [(t["name"], arguments) for t in tools]
    return [(tools[0]["name"], arguments)]


def _plan(body: Json) -> _Plan:
    items = _input_items(body.get("input"))
    user_items = [item for item in items if _is_user_message(item)]
    user_text = _content_text(user_items[-1].get("content")) if user_items else ""
    last = items[-1] if items else {}
    if last.get("type") == "function_call_output":
        reply = f"Tool said: {_content_text(last.get('output'))}"
    else:
        reply = f"You said: {user_text} (turn {len(user_items)})"
    if body.get("instructions"):
        reply = f"[{body['instructions']}] {reply}"
    reasoning = body.get("reasoning") or {}
    summary = reasoning.get("summary") or reasoning.get("generate_summary")  # deprecated alias (§2)
    thinks = str(body["model"]).startswith("gpt-5") and reasoning.get("effort") != "none"
    return _Plan(
        user_text=user_text,
        reply_text=reply,
        calls=_planned_calls(body, items, user_text),
        reasoning=thinks,
        summary_text=f"Thinking about: {user_text}" if thinks and summary else None,
        encrypted="reasoning.encrypted_content" in (body.get("include") or []),
        triggers=set(_TRIGGER.findall(user_text)),
    )


def _count_input_tokens(body: Json) -> int:
    """Deterministic stand-in for a tokenizer: words + 3 per input item."""
    items = _input_items(body.get("input"))
    words = sum(len(_item_text(item).split()) for item in items)
    words += len(str(body.get("instructions") or "").split())
    return words + 3 * len(items)


class _Generation:
    """One response being generated: yields events in the §5.3 orders.

    Streaming writes the events as they come; JSON mode runs the same generator
    and returns the terminal snapshot, so both modes always agree.
    """

    def __init__(self, body: Json, plan: _Plan, *, token_delay_s: float) -> None:
        self.body = body
        self.plan = plan
        self.id = _hex_id("resp_")
        self.created_at = int(time.time())
        self.output: list[Json] = []
        self.output_tokens = 0
        self.reasoning_tokens = 0
        self.input_tokens = _count_input_tokens(body)
        self.budget: int | None = body.get("max_output_tokens")
        self.truncated = False
        self.failed = False
        self.delay_s = _SLOW_DELAY_S if "slow" in plan.triggers else token_delay_s
        options = body.get("stream_options") or {}
        self.obfuscate = options.get("include_obfuscation", True) is not False

    # ---- response object (§4)

    def snapshot(self, status: str, *, final: bool = False) -> Json:
        body = self.body
        reasoning = body.get("reasoning") or {}
        default_effort = "medium" if str(body["model"]).startswith("gpt-5") else None
        tier = body.get("service_tier") or "auto"
        if final and tier == "auto":
            tier = "default"  # the tier actually used is reported at the end (B.4)
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": bool(body.get("background", False)),
            "completed_at": int(time.time()) if status == "completed" else None,
            "error": (
                {"code": "server_error", "message": "The model failed to generate a response."}
                if status == "failed"
                else None
            ),
            "frequency_penalty": 0.0,
            "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": body.get("max_tool_calls"),
            "model": body["model"],
            "output": self.output if final else [],
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "presence_penalty": 0.0,
            "previous_response_id": body.get("previous_response_id"),
            "prompt_cache_key": body.get("prompt_cache_key"),
            "reasoning": {
                "effort": reasoning.get("effort", default_effort),
                "summary": reasoning.get("summary") or reasoning.get("generate_summary"),
            },
            "safety_identifier": body.get("safety_identifier"),
            "service_tier": tier,
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}, "verbosity": "medium", **(body.get("text") or {})},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": [_echo_tool(t) for t in body.get("tools") or []],
            "top_logprobs": body.get("top_logprobs", 0),
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation", "disabled"),
            "usage": self._usage() if final else None,
            "user": body.get("user"),
            "metadata": body.get("metadata") or {},
        }

    def _usage(self) -> Json:
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.input_tokens + self.output_tokens,
        }

    def _remaining(self) -> int | None:
        return None if self.budget is None else self.budget - self.output_tokens

    def _terminal(self, status: str) -> Event:
        return f"response.{status}", {"response": self.snapshot(status, final=True)}

    def _delta(self, fields: Json) -> Json:
        if self.obfuscate:
            # Padding so payload sizes do not leak token lengths; content is noise.
            fields["obfuscation"] = "".join(random.choices(_ALNUM, k=max(1, 16 - len(fields["delta"]))))
        return fields

    async def _pace(self) -> None:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)

    def _fault_point(self, deltas_sent: int, deltas_total: int) -> str | None:
        """stream:failed / stream:drop strike after the first couple of deltas."""
        if deltas_sent != min(_FAULT_AFTER_DELTAS, deltas_total):
            return None
        if "stream:drop" in self.plan.triggers:
            raise _DropConnection
        return "failed" if "stream:failed" in self.plan.triggers else None

    # ---- event sequence (§5.3)

    async def events(self) -> AsyncIterator[Event]:
        yield "response.created", {"response": self.snapshot("in_progress")}
        yield "response.in_progress", {"response": self.snapshot("in_progress")}
        if "stream:error" in self.plan.triggers:
            # Nested error event as observed live (B.3). We end the stream here
            # without response.failed: whether the live API sends one after an
            # error event is unconfirmed, and the SDK raises on this event anyway.
            yield "error", {"error": {**_context_length_error().error}}
            return
        if self.plan.reasoning:
            async for event in self._reasoning_item():
                yield event
        if not self.truncated:
            blocks = [self._function_call(n, a) for n, a in self.plan.calls] or [self._message()]
            for block in blocks:
                async for event in block:
                    yield event
                if self.failed:
                    return
        yield self._terminal("incomplete" if self.truncated else "completed")

    async def _reasoning_item(self) -> AsyncIterator[Event]:
        index = len(self.output)
        item: Json = {"id": _hex_id("rs_"), "type": "reasoning", "summary": []}  # no status key, as captured
        if self.plan.encrypted:
            item["encrypted_content"] = base64.b64encode(f"fake-reasoning:{item['id']}".encode()).decode()
        self.output.append(item)
        yield "response.output_item.added", {"output_index": index, "item": item}
        deltas = _split_words(self.plan.summary_text or "")
        remaining = self._remaining()
        if remaining is not None and len(deltas) > remaining:
            # Cut off while thinking: no summary is shown, the budget is all reasoning.
            self.reasoning_tokens = self.output_tokens = remaining
            deltas = []
        if deltas:
            async for event in self._summary_part(item, index, deltas):
                yield event
        if self._remaining() == 0:
            self.truncated = True  # nothing left for the answer: rs item only, then incomplete (§5.3)
        yield "response.output_item.done", {"output_index": index, "item": item}

    async def _summary_part(self, item: Json, index: int, deltas: list[str]) -> AsyncIterator[Event]:
        where = {"item_id": item["id"], "output_index": index, "summary_index": 0}
        yield "response.reasoning_summary_part.added", {**where, "part": {"type": "summary_text", "text": ""}}
        for delta in deltas:
            await self._pace()
            self.reasoning_tokens += 1
            self.output_tokens += 1
            yield "response.reasoning_summary_text.delta", self._delta({**where, "delta": delta})
        text = "".join(deltas)
        yield "response.reasoning_summary_text.done", {**where, "text": text}
        part = {"type": "summary_text", "text": text}
        item["summary"] = [part]
        yield "response.reasoning_summary_part.done", {**where, "part": part}

    async def _message(self) -> AsyncIterator[Event]:
        index = len(self.output)
        deltas = _split_words(self.plan.reply_text)
        remaining = self._remaining()
        if remaining is not None and len(deltas) > remaining:
            deltas = deltas[:remaining]
            self.truncated = True
        item: Json = {
            "id": _hex_id("msg_"),
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        self.output.append(item)
        where = {"item_id": item["id"], "output_index": index, "content_index": 0}
        yield "response.output_item.added", {"output_index": index, "item": item}
        yield "response.content_part.added", {**where, "part": _text_part("")}
        text = ""
        for sent, delta in enumerate(deltas, start=1):
            await self._pace()
            text += delta
            self.output_tokens += 1
            yield "response.output_text.delta", self._delta({**where, "delta": delta, "logprobs": []})
            if self._fault_point(sent, len(deltas)) == "failed":
                item.update(status="incomplete", content=[_text_part(text)])
                self.failed = True
                yield self._terminal("failed")
                return
        yield "response.output_text.done", {**where, "text": text, "logprobs": []}
        item["content"] = [_text_part(text)]
        item["status"] = "incomplete" if self.truncated else "completed"
        yield "response.content_part.done", {**where, "part": item["content"][0]}
        yield "response.output_item.done", {"output_index": index, "item": item}

    async def _function_call(self, name: str, arguments: str) -> AsyncIterator[Event]:
        # max_output_tokens is not enforced on arguments: the fake only cuts text.
        index = len(self.output)
        item: Json = {
            "id": _hex_id("fc_"),
            "type": "function_call",
            "status": "in_progress",
            "call_id": _call_id(),
            "name": name,
            "arguments": "",
        }
        self.output.append(item)
        where = {"item_id": item["id"], "output_index": index}
        yield "response.output_item.added", {"output_index": index, "item": item}
        fragments = _fragments(arguments)
        sent_text = ""
        for sent, fragment in enumerate(fragments, start=1):
            await self._pace()
            sent_text += fragment
            self.output_tokens += 1
            yield "response.function_call_arguments.delta", self._delta({**where, "delta": fragment})
            if self._fault_point(sent, len(fragments)) == "failed":
                item.update(status="incomplete", arguments=sent_text)
                self.failed = True
                yield self._terminal("failed")
                return
        # Real 2025-26 captures omit `name` on this event (§5.2).
        yield "response.function_call_arguments.done", {**where, "arguments": arguments}
        item.update(status="completed", arguments=arguments)
        yield "response.output_item.done", {"output_index": index, "item": item}


def _text_part(text: str) -> Json:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _echo_tool(tool: Any) -> Any:
    """Function tools come back with description/parameters present and strict filled."""
    if not isinstance(tool, dict) or tool.get("type") != "function":
        return tool
    return {
        "type": "function",
        "description": tool.get("description"),
        "name": tool.get("name"),
        "parameters": tool.get("parameters"),
        "strict": tool.get("strict", True),
    }


# --------------------------------------------------------------------------- validation


def _validate(body: Json, store: dict[str, Json]) -> None:
    """The subset of the live API's request checks that tests rely on (B.2)."""
    model = body.get("model")
    if model is None or model == "":
        raise ApiError(400, "Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
    if not isinstance(model, str):
        raise ApiError(400, "Invalid type for 'model': expected a string.", param="model", code="invalid_type")
    if not model.startswith("gpt-"):
        raise ApiError(400, f"The requested model '{model}' does not exist.", param="model", code="model_not_found")
    max_tokens = body.get("max_output_tokens")
    if max_tokens is not None:
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            message = "Invalid type for 'max_output_tokens': expected an integer."
            raise ApiError(400, message, param="max_output_tokens", code="invalid_type")
        if max_tokens < 16:
            raise ApiError(
                400,
                "Invalid 'max_output_tokens': integer below minimum value. "
                f"Expected a value >= 16, but got {max_tokens} instead.",
                param="max_output_tokens",
                code="integer_below_min_value",
            )
    _validate_temperature(body.get("temperature"))
    previous = body.get("previous_response_id")
    if previous is not None and previous not in store:
        # Unstored (store:false) responses are never put in the store, so they land here too.
        raise ApiError(
            400,
            f"Previous response with id '{previous}' not found.",
            param="previous_response_id",
            code="previous_response_not_found",
        )


def _validate_temperature(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        message = "Invalid type for 'temperature': expected a number."
        raise ApiError(400, message, param="temperature", code="invalid_type")
    if value < 0:
        message = f"Invalid 'temperature': decimal below minimum value. Expected a value >= 0, but got {value} instead."
        raise ApiError(400, message, param="temperature", code="decimal_below_min_value")
    if value > 2:
        message = f"Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got {value} instead."
        raise ApiError(400, message, param="temperature", code="decimal_above_max_value")


# --------------------------------------------------------------------------- server


@dataclass
class RecordedRequest:
    """One request as received. Header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


class FakeOpenAIResponses:
    """The fake upstream. ``await start()`` returns the ``.../v1`` base URL."""

    def __init__(self, api_key: str = "sk-test-fake", *, latency_ms: float = 0.0, token_delay_ms: float = 0.0) -> None:
        self.api_key = api_key
        self.latency_s = latency_ms / 1000
        self.token_delay_s = token_delay_ms / 1000
        self.requests: list[RecordedRequest] = []
        self.cancelled_streams = 0  # streams ended because the client went away
        self.base_url = ""
        self._store: dict[str, Json] = {}
        self._runner: web.AppRunner | None = None
        self.app = web.Application(middlewares=[self._middleware])
        self.app.on_response_prepare.append(self._add_common_headers)
        self.app.router.add_post("/v1/responses", self._create)
        self.app.router.add_get("/v1/responses/{response_id}", self._retrieve)
        self.app.router.add_delete("/v1/responses/{response_id}", self._delete)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        # handler_cancellation: a client disconnect cancels the handler at once,
        # like a real upstream stopping generation.
        self._runner = web.AppRunner(self.app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, backlog=1024)  # a real upstream does not drop a burst of connects
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound_port}/v1"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        request[_STARTED] = time.perf_counter()
        raw = await request.read()
        body: Any = None
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            request[_BAD_JSON] = True
        if isinstance(body, dict):
            request[_BODY] = body
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.requests.append(RecordedRequest(request.method, request.path, headers, request.get(_BODY)))
        try:
            self._check_auth(headers.get("authorization"))
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
            message = f"Invalid URL ({request.method} {request.path})"
            return ApiError(exc.status, message).response()

    def _check_auth(self, authorization: str | None) -> None:
        if authorization is None or not authorization.startswith("Bearer "):
            message = (
                "You didn't provide an API key. You need to provide your API key in an Authorization "
                "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            raise ApiError(401, message, code="invalid_api_key")
        key = authorization.removeprefix("Bearer ").strip()
        if key != self.api_key:
            message = (
                f"Incorrect API key provided: {_mask_key(key)}. "
                "You can find your API key at https://platform.openai.com/account/api-keys."
            )
            raise ApiError(401, message, code="invalid_api_key")

    async def _add_common_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        elapsed_ms = int((time.perf_counter() - request.get(_STARTED, time.perf_counter())) * 1000)
        response.headers["x-request-id"] = "req_" + secrets.token_hex(16)
        response.headers["openai-processing-ms"] = str(elapsed_ms)
        response.headers["openai-version"] = "2020-10-01"
        response.headers["openai-organization"] = "org-fake"

    # ---- endpoints

    async def _create(self, request: web.Request) -> web.StreamResponse:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        body: Json | None = request.get(_BODY)
        if body is None:
            if request.get(_BAD_JSON):
                raise ApiError(400, "We could not parse the JSON body of your request.")
            raise ApiError(400, "The request body must be a JSON object.")
        _validate(body, self._store)
        plan = _plan(body)
        for trigger in plan.triggers:
            if trigger.startswith("http:") and (fault := _http_fault(int(trigger[5:]), body["model"])):
                raise fault
        generation = _Generation(body, plan, token_delay_s=self.token_delay_s)
        if body.get("stream"):
            return await self._stream(request, generation)
        return await self._respond_json(request, generation)

    async def _respond_json(self, request: web.Request, generation: _Generation) -> web.StreamResponse:
        final: Json | None = None
        try:
            async for kind, fields in generation.events():
                if kind == "error":  # the non-stream form of an in-stream error is a 400 (B.2)
                    raise _context_length_error()
                if "response" in fields:
                    final = fields["response"]
                    self._remember(final)
        except _DropConnection:
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        # A response.failed terminal becomes a 200 carrying status "failed" + error.
        return _json_response(final, headers=_RATELIMIT_HEADERS)

    async def _stream(self, request: web.Request, generation: _Generation) -> web.StreamResponse:
        response = web.StreamResponse(headers=_RATELIMIT_HEADERS)
        response.content_type = "text/event-stream"
        response.charset = "utf-8"
        await response.prepare(request)
        sequence = 0
        try:
            async for kind, fields in generation.events():
                # `event:` always equals data.type; no [DONE] sentinel (§5.1).
                payload = orjson.dumps({"type": kind, "sequence_number": sequence, **fields})
                await response.write(b"event: " + kind.encode() + b"\ndata: " + payload + b"\n\n")
                sequence += 1
                if "response" in fields:
                    self._remember(fields["response"])
        except _DropConnection:
            assert request.transport is not None
            request.transport.close()  # no terminal event, no clean chunked end
        except ConnectionResetError:
            self.cancelled_streams += 1
        except asyncio.CancelledError:
            self.cancelled_streams += 1
            raise
        return response

    def _remember(self, snapshot: Json) -> None:
        if snapshot["store"] is not False:
            self._store[snapshot["id"]] = orjson.loads(orjson.dumps(snapshot))  # detach from live dicts

    async def _retrieve(self, request: web.Request) -> web.StreamResponse:
        return _json_response(self._lookup(request), headers=_RATELIMIT_HEADERS)

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        response_id = self._lookup(request)["id"]
        del self._store[response_id]
        return _json_response({"id": response_id, "object": "response", "deleted": True}, headers=_RATELIMIT_HEADERS)

    def _lookup(self, request: web.Request) -> Json:
        response_id = request.match_info["response_id"]
        stored = self._store.get(response_id)
        if stored is None:
            raise ApiError(404, f"No response found with id '{response_id}'.")
        return stored


# --------------------------------------------------------------------------- standalone


def main(argv: list[str] | None = None) -> None:
    """Serve the fake on its own (benchmarks)."""
    run(
        lambda key, latency, delay: FakeOpenAIResponses(key, latency_ms=latency, token_delay_ms=delay),
        "Fake OpenAI Responses API",
        port=9999,
        api_key="sk-test-fake",
        argv=argv,
    )


if __name__ == "__main__":
    main()
