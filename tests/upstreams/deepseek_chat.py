"""A faithful fake of DeepSeek's Chat Completions API, used as an upstream in tests.

A real aiohttp server on 127.0.0.1 speaking DeepSeek's wire protocol:
``POST /chat/completions`` (also under ``/v1``), ``GET /models``, DeepSeek's
error envelopes, the V4 thinking-mode stream order, keep-alive comments and the
``[DONE]`` sentinel. Facts come from ``/work/shared/reference/upstreams.md`` §A
(A.1 endpoint .. A.11 SDK view).

Generation is deterministic so tests can assert on it:

* reply ``You said: <last user text> (turn N)``, N = number of user messages;
  ``Tool said: <content>`` when the last message has role ``tool``;
  ``[<system content>] `` is prepended when there are system messages (joined
  with a newline when there are several);
* thinking mode (``thinking`` absent or ``{"type":"enabled"}``) first reasons
  ``Thinking about: <last user text>``; non-thinking mode has no
  ``reasoning_content`` key anywhere;
* one completion token per word-sized delta (``"You"``, ``" said:"``, ...) and
  per tool-argument fragment; ``reasoning_tokens`` = reasoning deltas;
* non-empty ``tools`` (``tool_choice`` not ``"none"``, last message not a tool
  result) make the model call the first tool (or the one named by
  ``tool_choice``) with arguments ``{"text": "<last user text>"}``; two calls
  to the first two tools when the user text says "both" (parallel calls on);
* usage: ``prompt_cache_miss_tokens`` = words of all message contents + 4 per
  message + 16 per tool + 2; ``prompt_cache_hit_tokens`` = 64 when the request
  has more than 3 messages, else 0; ``prompt_tokens`` = hit + miss.

The V4 reasoning_content rule (A.4) is enforced: in thinking mode every
assistant message with ``tool_calls`` must carry a string ``reasoning_content``
(``""`` is fine), else 400 with DeepSeek's exact body.

Status conventions (DeepSeek's server behaves like an axum/serde service):
a body that does not deserialize (missing ``model``/``messages``, wrong JSON
types, unknown role, ``thinking`` not a ``{"type": "enabled"|"disabled"}``
object) is a 422 "Failed to deserialize the JSON body into the target type:
..."; semantic problems are 400 ``invalid_request_error``.

Fault triggers placed in the last user text (same ``[[...]]`` convention as
the OpenAI fake): ``[[http:NNN]]`` (429 with ``retry-after: 1``, 500, 503, 402,
400 context overflow, any other code gets a generic body), ``[[stream:drop]]``,
``[[reset]]``, ``[[hang]]``, ``[[trickle]]``, ``[[filter]]``, ``[[slow]]`` and
``[[queue]]`` (keep-alive comments / leading blank lines). ``fail_next``
scripts HTTP failures ahead of everything else.

Standalone (benchmarks)::

    python -m tests.upstreams.deepseek_chat --port 9998 --latency-ms 20
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import string
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web

from tests.upstreams._standalone import run

from .openai_responses import RecordedRequest

__all__ = ["MODELS", "FakeDeepSeekChat", "RecordedRequest"]

Json = dict[str, Any]
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MODELS = ("deepseek-v4-pro", "deepseek-v4-flash")
CHAT_PATHS = ("/chat/completions", "/v1/chat/completions")

_ALNUM = string.ascii_letters + string.digits
_WORD = re.compile(r"\s*\S+(?:\s+$)?")
_TRIGGER = re.compile(r"\[\[(http:\d{3}|stream:drop|reset|hang|trickle|filter|slow|queue)\]\]")
_SLOW_DELAY_S = 0.2
_TRICKLE_PAUSE_S = 5.0
_HANG_S = 60.0
_KEEPALIVE_GAP_S = 0.02
_FAULT_AFTER_CHUNKS = 3  # stream:drop / trickle strike after the role chunk + 2 deltas
_FILTER_AFTER_DELTAS = 2  # [[filter]] lets this many content deltas through
_CACHE_HIT_TOKENS = 64  # reported as cached when the prompt has > 3 messages
_MAX_TOKENS_LIMIT = 393216  # 384K output cap (A.1, third-party figure)
_FINGERPRINT = "fp_8f2c5a1e9b_prod0820_fp8_kvcache_20260402"
_ROLES = ("system", "user", "assistant", "tool")
_EFFORT_ALIASES = {
    "minimal": "low",
    "low": "low",
    "medium": "high",
    "high": "high",
    "xhigh": "high",
    "max": "max",
    "ultra": "max",
}
_REASONING_CONTENT_MESSAGE = "The `reasoning_content` in the thinking mode must be passed back to the API."
_TOOL_MESSAGE_ERROR = "Messages with role 'tool' must be a response to a preceding message with 'tool_calls'"

# Per-request storage filled by the middleware.
_BODY = web.RequestKey("body", object)  # parsed JSON (any type), absent when none/invalid
_BAD_JSON = web.RequestKey("bad_json", str)  # parse error text


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """DeepSeek's envelope ``{"error":{message,type,param:null,code}}`` + status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error: Json = {"message": message, "type": type_, "param": None, "code": code}
        self.headers = headers or {}

    def response(self) -> web.Response:
        return _json_response({"error": self.error}, status=self.status, headers=self.headers)


def _deserialize_error(detail: str) -> ApiError:
    return ApiError(422, f"Failed to deserialize the JSON body into the target type: {detail}")


def _format_retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def http_error(status: int, retry_after: float | None = None) -> ApiError:
    """The error a given status carries (bodies from A.9 and the test brief)."""
    headers = {"retry-after": _format_retry_after(retry_after)} if retry_after is not None else None
    if status == 429:
        return ApiError(
            429, "Rate Limit Reached", type_="rate_limit_error", code="rate_limit_exceeded", headers=headers
        )
    if status == 500:
        return ApiError(500, "Server Error", type_="server_error", code="server_error", headers=headers)
    if status == 503:
        return ApiError(503, "Server Overloaded", type_="server_error", code="server_overloaded", headers=headers)
    if status == 402:
        return ApiError(402, "Insufficient Balance", type_="unknown_error", headers=headers)
    if status == 400:
        message = (
            "This model's maximum context length is 1048576 tokens. However, you requested 1100000 tokens. "
            "Please reduce the length of the messages."
        )
        return ApiError(400, message, code="context_length_exceeded", headers=headers)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    type_ = "server_error" if status >= 500 else "invalid_request_error"
    return ApiError(status, phrase, type_=type_, code=type_, headers=headers)


class _DropConnection(Exception):
    """Raised while generating to make the server cut the connection abruptly."""


# --------------------------------------------------------------------------- helpers


def _json_response(payload: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, headers=headers, content_type="application/json")


def _split_words(text: str) -> list[str]:
    """Word-sized deltas keeping the leading spaces: "You", " said:", " hi"."""
    return _WORD.findall(text) or ([text] if text else [])


def _fragments(text: str) -> list[str]:
    """Cut JSON at arbitrary (but deterministic) places: 2, 5, 3, 2, 5, 3, ... chars."""
    sizes = (2, 5, 3)
    out: list[str] = []
    pos = 0
    while pos < len(text):
        size = sizes[len(out) % len(sizes)]
        out.append(text[pos : pos + size])
        pos += size
    return out


def _content_text(content: Any) -> str:
    """Text of a string or of a list of parts (text parts joined by a space)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return " ".join(texts)
    return ""


def _json_kind(value: Any) -> str:
    """serde's name for an unexpected JSON value, e.g. "boolean `true`"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value}"'
    if isinstance(value, list):
        return "a sequence"
    return "a map"


def _call_id(ordinal: int) -> str:
    return f"call_{ordinal:02d}_" + "".join(random.choices(_ALNUM, k=24))


# --------------------------------------------------------------------------- validation


def _validate(body: Any) -> None:
    """The request checks of the live API that tests rely on (A.1-A.4)."""
    if not isinstance(body, dict):
        raise _deserialize_error(f"invalid type: {_json_kind(body)}, expected struct ChatCompletionRequest")
    _validate_shape(body)
    if body["model"] not in MODELS:
        raise ApiError(400, "Model Not Exist")
    messages: list[Json] = body["messages"]
    if not messages:
        raise ApiError(400, "Empty input messages")
    effort = body.get("reasoning_effort")
    if effort is not None and _EFFORT_ALIASES.get(effort) is None:
        raise ApiError(400, f"Invalid reasoning_effort: `{effort}`. Supported values are: low, high, max")
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and not 1 <= max_tokens <= _MAX_TOKENS_LIMIT:
        raise ApiError(400, f"Invalid max_tokens value, the valid range of max_tokens is [1, {_MAX_TOKENS_LIMIT}]")
    _validate_tools(body)
    _validate_messages(messages, thinking=_thinking_enabled(body))


def _validate_shape(body: Json) -> None:
    """serde-level checks: a failure here is a 422."""
    if "model" not in body:
        raise _deserialize_error("missing field `model`")
    if not isinstance(body["model"], str):
        raise _deserialize_error(f"model: invalid type: {_json_kind(body['model'])}, expected a string")
    if "messages" not in body:
        raise _deserialize_error("missing field `messages`")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise _deserialize_error(f"messages: invalid type: {_json_kind(messages)}, expected a sequence")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise _deserialize_error(f"{where}: invalid type: {_json_kind(message)}, expected internally tagged enum")
        if "role" not in message:
            raise _deserialize_error(f"{where}: missing field `role`")
        role = message["role"]
        if role not in _ROLES:
            raise _deserialize_error(
                f"{where}: unknown variant `{role}`, expected one of `system`, `user`, `assistant`, `tool`"
            )
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise _deserialize_error(f"{where}.content: invalid type: {_json_kind(content)}, expected a string")
    thinking = body.get("thinking")
    if thinking is not None:
        if not isinstance(thinking, dict):
            raise _deserialize_error(f"thinking: invalid type: {_json_kind(thinking)}, expected struct ThinkingOptions")
        kind = thinking.get("type")
        if kind not in ("enabled", "disabled"):
            raise _deserialize_error(
                f"thinking.type: unknown variant `{kind}`, expected `enabled` or `disabled` (struct ThinkingOptions)"
            )
    for name in ("stream", "parallel_tool_calls", "logprobs"):
        value = body.get(name)
        if value is not None and not isinstance(value, bool):
            raise _deserialize_error(f"{name}: invalid type: {_json_kind(value)}, expected a boolean")
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)):
        raise _deserialize_error(f"max_tokens: invalid type: {_json_kind(max_tokens)}, expected u32")
    effort = body.get("reasoning_effort")
    if effort is not None and not isinstance(effort, str):
        raise _deserialize_error(f"reasoning_effort: invalid type: {_json_kind(effort)}, expected a string")


def _validate_tools(body: Json) -> None:
    tools = body.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise ApiError(400, "Invalid tools: expected an array of tools")
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if (
            not isinstance(tool, dict)
            or tool.get("type") != "function"
            or not isinstance(function, dict)
            or not isinstance(function.get("name"), str)
            or not function["name"]
        ):
            raise ApiError(
                400,
                f'Invalid tools[{index}]: expected {{"type": "function", "function": {{"name": ..., '
                '"description": ..., "parameters": ...}}}',
            )
    choice = body.get("tool_choice")
    if choice is None or choice in ("none", "auto", "required"):
        return
    function = choice.get("function") if isinstance(choice, dict) else None
    if not (
        isinstance(choice, dict)
        and choice.get("type") == "function"
        and isinstance(function, dict)
        and isinstance(function.get("name"), str)
    ):
        raise ApiError(400, "Invalid tool_choice: expected none, auto, required or a named function")


def _validate_messages(messages: list[Json], *, thinking: bool) -> None:
    known_call_ids: set[str] = set()
    for message in messages:
        role = message["role"]
        if role == "assistant":
            calls = message.get("tool_calls")
            if calls is None:
                continue
            if not isinstance(calls, list):
                raise _deserialize_error("tool_calls: invalid type, expected a sequence")
            for call in calls:
                if isinstance(call, dict) and isinstance(call.get("id"), str):
                    known_call_ids.add(call["id"])
            # A.4: assistant turns that called tools must replay their reasoning.
            if calls and thinking and not isinstance(message.get("reasoning_content"), str):
                raise ApiError(400, _REASONING_CONTENT_MESSAGE)
        elif role == "tool" and message.get("tool_call_id") not in known_call_ids:
            raise ApiError(400, _TOOL_MESSAGE_ERROR)


def _thinking_enabled(body: Json) -> bool:
    thinking = body.get("thinking")
    return not isinstance(thinking, dict) or thinking.get("type") != "disabled"


# --------------------------------------------------------------------------- the "model"


@dataclass
class _Output:
    """Everything one request produces, computed up front (it is deterministic)."""

    chunks: list[Json]  # deltas in wire order; the first is the role chunk
    final_delta: Json
    reasoning: str | None  # None in non-thinking mode
    content: str
    calls: list[Json]  # assembled tool calls (non-stream shape, with index)
    finish_reason: str
    reasoning_tokens: int
    completion_tokens: int
    triggers: set[str] = field(default_factory=set)


def _plan_calls(body: Json, messages: list[Json], user_text: str) -> list[tuple[str, str]]:
    tools = [t["function"]["name"] for t in body.get("tools") or []]
    choice = body.get("tool_choice", "auto")
    if not tools or choice == "none" or messages[-1]["role"] == "tool":
        return []
    arguments = json.dumps({"text": user_text})
    if isinstance(choice, dict):
        wanted = choice["function"]["name"]
        return [(wanted if wanted in tools else tools[0], arguments)]
    if body.get("parallel_tool_calls") is not False and len(tools) >= 2 and "both" in user_text.lower():
        return [(tools[0], arguments), (tools[1], arguments)]
    return [(tools[0], arguments)]


def _generate(body: Json) -> _Output:
    messages: list[Json] = body["messages"]
    users = [m for m in messages if m["role"] == "user"]
    user_text = _content_text(users[-1].get("content")) if users else ""
    last = messages[-1]
    if last["role"] == "tool":
        reply = f"Tool said: {_content_text(last.get('content'))}"
    else:
        reply = f"You said: {user_text} (turn {len(users)})"
    systems = [_content_text(m.get("content")) for m in messages if m["role"] == "system"]
    if systems:
        reply = f"[{chr(10).join(systems)}] {reply}"
    triggers = set(_TRIGGER.findall(user_text))
    thinking = _thinking_enabled(body)
    budget: int | None = body.get("max_tokens")
    used = 0

    def spend() -> bool:
        nonlocal used
        if budget is not None and used >= budget:
            return False
        used += 1
        return True

    chunks: list[Json] = [
        {"role": "assistant", "content": None, "reasoning_content": ""}
        if thinking
        else {"role": "assistant", "content": ""}
    ]
    reasoning: str | None = None
    finish = "stop"
    if thinking:
        reasoning = ""
        for word in _split_words(f"Thinking about: {user_text}"):
            if not spend():
                finish = "length"
                break
            reasoning += word
            chunks.append({"content": None, "reasoning_content": word})
    reasoning_tokens = used
    content = ""
    calls: list[Json] = []
    planned = _plan_calls(body, messages, user_text)
    if finish != "length" and planned:
        finish = "tool_calls"
        for index, (name, arguments) in enumerate(planned):
            if budget is not None and used >= budget:
                finish = "length"
                break
            function: Json = {"name": name}
            call: Json = {"index": index, "id": _call_id(index), "type": "function", "function": function}
            calls.append(call)
            chunks.append({"tool_calls": [{**call, "function": {"name": name, "arguments": ""}}]})
            sent = ""
            for piece in _fragments(arguments):
                if not spend():
                    finish = "length"
                    break
                sent += piece
                chunks.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            function["arguments"] = sent
            if finish == "length":
                break
    elif finish != "length":
        for count, word in enumerate(_split_words(reply)):
            if "filter" in triggers and count == _FILTER_AFTER_DELTAS:
                finish = "content_filter"
                break
            if not spend():
                finish = "length"
                break
            content += word
            chunks.append({"content": word, "reasoning_content": None} if thinking else {"content": word})
    return _Output(
        chunks=chunks,
        final_delta={"content": "", "reasoning_content": None} if thinking else {"content": ""},
        reasoning=reasoning,
        content=content,
        calls=calls,
        finish_reason=finish,
        reasoning_tokens=reasoning_tokens,
        completion_tokens=used,
        triggers=triggers,
    )


def _usage(body: Json, output: _Output) -> Json:
    messages: list[Json] = body["messages"]
    words = 0
    for message in messages:
        words += len(_content_text(message.get("content")).split())
        words += len(str(message.get("reasoning_content") or "").split())
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                words += len(str(call["function"].get("arguments", "")).split())
    miss = words + 4 * len(messages) + 16 * len(body.get("tools") or []) + 2
    hit = _CACHE_HIT_TOKENS if len(messages) > 3 else 0
    prompt = hit + miss
    return {
        "prompt_tokens": prompt,
        "completion_tokens": output.completion_tokens,
        "total_tokens": prompt + output.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": hit},
        "completion_tokens_details": {"reasoning_tokens": output.reasoning_tokens},
        "prompt_cache_hit_tokens": hit,
        "prompt_cache_miss_tokens": miss,
    }


# --------------------------------------------------------------------------- server


class FakeDeepSeekChat:
    """The fake upstream. ``await start()`` returns ``http://127.0.0.1:PORT`` (no ``/v1``)."""

    def __init__(
        self, api_key: str = "sk-test-deepseek", *, latency_ms: float = 0.0, token_delay_ms: float = 0.0
    ) -> None:
        self.api_key = api_key
        self.latency_s = latency_ms / 1000
        self.token_delay_s = token_delay_ms / 1000
        self.requests: list[RecordedRequest] = []
        self.cancelled_streams = 0  # generations ended because the client went away
        self.attempts = 0  # POST .../chat/completions received, failed ones included
        self.fail_next: list[tuple[int, float | None]] = []  # (status, retry-after s), one per POST
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self.app = web.Application(middlewares=[self._middleware])
        for path in CHAT_PATHS:
            self.app.router.add_post(path, self._chat)
        for path in ("/models", "/v1/models"):
            self.app.router.add_get(path, self._models)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        # handler_cancellation: a client disconnect cancels the handler at once,
        # like a real upstream stopping generation.
        self._runner = web.AppRunner(self.app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, backlog=1024)  # a real upstream does not drop a burst of connects
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound_port}"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        raw = await request.read()
        body: Any = None
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError as exc:
            request[_BAD_JSON] = str(exc)
        if body is not None:
            request[_BODY] = body
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.requests.append(
            RecordedRequest(request.method, request.path, headers, body if isinstance(body, dict) else None)
        )
        if request.method == "POST" and request.path in CHAT_PATHS:
            self.attempts += 1
        try:
            self._check_auth(headers.get("authorization"))
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
            return ApiError(exc.status, exc.reason).response()

    def _check_auth(self, authorization: str | None) -> None:
        if authorization is None or not authorization.startswith("Bearer "):
            message = "Authentication Fails (auth header format should be Bearer sk-...)"
            raise ApiError(401, message, type_="authentication_error")
        key = authorization.removeprefix("Bearer ").strip()
        if key != self.api_key:
            message = f"Authentication Fails, Your api key: ****{key[-4:]} is invalid"
            raise ApiError(401, message, type_="authentication_error")

    # ---- endpoints

    async def _models(self, request: web.Request) -> web.StreamResponse:
        data = [{"id": model, "object": "model", "owned_by": "deepseek"} for model in MODELS]
        return _json_response({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if self.fail_next:
            status, retry_after = self.fail_next.pop(0)
            raise http_error(status, retry_after)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if _BAD_JSON in request:
            raise ApiError(400, f"Failed to parse the request body as JSON: {request[_BAD_JSON]}")
        body = request.get(_BODY)
        _validate(body)
        assert isinstance(body, dict)
        output = _generate(body)
        for trigger in sorted(output.triggers):
            if trigger.startswith("http:"):
                raise http_error(int(trigger[5:]), 1 if trigger == "http:429" else None)
        if "reset" in output.triggers:
            assert request.transport is not None
            request.transport.close()  # nothing at all was sent: the client sees a reset/EOF
            return web.Response()
        try:
            if "hang" in output.triggers:
                await asyncio.sleep(_HANG_S)  # never answers; cancelled when the client leaves
                assert request.transport is not None
                request.transport.close()
                return web.Response()
            if body.get("stream"):
                return await self._stream(request, body, output)
            return await self._respond_json(request, body, output)
        except _DropConnection:
            assert request.transport is not None
            request.transport.close()  # no [DONE], no clean chunked end
            return web.Response()
        except ConnectionResetError:
            self.cancelled_streams += 1
            return web.Response()
        except asyncio.CancelledError:
            self.cancelled_streams += 1
            raise

    async def _pace(self, output: _Output, sent: int) -> None:
        """Wait before chunk number ``sent`` (0-based); raise at the fault point."""
        if sent == _FAULT_AFTER_CHUNKS:
            if "stream:drop" in output.triggers:
                raise _DropConnection
            if "trickle" in output.triggers:
                await asyncio.sleep(_TRICKLE_PAUSE_S)
        delay = _SLOW_DELAY_S if "slow" in output.triggers else self.token_delay_s
        if sent and delay:
            await asyncio.sleep(delay)

    async def _respond_json(self, request: web.Request, body: Json, output: _Output) -> web.StreamResponse:
        for sent in range(len(output.chunks)):
            await self._pace(output, sent)  # same timing (and faults) as a stream
        message: Json = {"role": "assistant", "content": output.content}
        if output.reasoning is not None:
            message["reasoning_content"] = output.reasoning
        if output.calls:
            message["tool_calls"] = output.calls
        payload = orjson.dumps(
            {
                "id": str(uuid.uuid4()),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": output.finish_reason}],
                "usage": _usage(body, output),
                "system_fingerprint": _FINGERPRINT,
            }
        )
        if "queue" not in output.triggers:
            return web.Response(body=payload, content_type="application/json")
        # Queued non-stream requests get blank lines before the JSON body (A.5).
        response = web.StreamResponse()
        response.content_type = "application/json"
        await response.prepare(request)
        for _ in range(3):
            await response.write(b"\n")
            await asyncio.sleep(_KEEPALIVE_GAP_S)
        await response.write(payload)
        await response.write_eof()
        return response

    async def _stream(self, request: web.Request, body: Json, output: _Output) -> web.StreamResponse:
        response = web.StreamResponse(headers={"cache-control": "no-cache"})
        response.content_type = "text/event-stream"
        response.charset = "utf-8"
        await response.prepare(request)
        if "queue" in output.triggers:
            for _ in range(2):
                await response.write(b": keep-alive\n\n")
                await asyncio.sleep(_KEEPALIVE_GAP_S)
        completion_id = str(uuid.uuid4())
        created = int(time.time())

        def chunk(delta: Json, finish_reason: str | None = None, usage: Json | None = None) -> bytes:
            data = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": body["model"],
                "system_fingerprint": _FINGERPRINT,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
                "usage": usage,
            }
            return b"data: " + orjson.dumps(data) + b"\n\n"

        for sent, delta in enumerate(output.chunks):
            await self._pace(output, sent)
            await response.write(chunk(delta))
        await self._pace(output, len(output.chunks))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        usage = _usage(body, output) if include_usage else None
        await response.write(chunk(output.final_delta, output.finish_reason, usage))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


# --------------------------------------------------------------------------- standalone


def main(argv: list[str] | None = None) -> None:
    """Serve the fake on its own (benchmarks)."""
    run(
        lambda key, latency, delay: FakeDeepSeekChat(key, latency_ms=latency, token_delay_ms=delay),
        "Fake DeepSeek Chat Completions API",
        port=9998,
        api_key="sk-test-deepseek",
        argv=argv,
    )


if __name__ == "__main__":
    main()
