"""Responses tools → Chat Completions functions, and the model's calls back.

Chat Completions knows only function tools. The Responses kinds a coding agent
sends are mapped onto them:

* `function`: unchanged.
* `custom` (free-form input, e.g. Codex's `apply_patch`): a function taking one
  string `input`; its format (a grammar, say) goes into the description. The
  call comes back as a `custom_tool_call` whose `input` is that string.
* `namespace`: each tool inside becomes its own function named
  `<namespace>__<name>`; calls come back as the namespace's tool, with
  `namespace` set.
* hosted tools (`web_search`, `file_search`, `mcp`, …): the upstream cannot run
  them, so they are withheld; the response lists them in `withheld_tools`.
  A `tool_choice` that forces one is a 400 (`ToolMap.chat_tool_choice`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.codec.fields import fragment
from responses_gateway.codec.items import json_value
from responses_gateway.errors import InvalidRequest

# OpenAI-compatible chat APIs accept function names of ^[a-zA-Z0-9_-]{1,64}$.
MAX_NAME = 64
NAMESPACE_SEPARATOR = "__"
_EMPTY_OBJECT_SCHEMA = {"type": "object", "properties": {}}


@dataclass(frozen=True, slots=True)
class ToolRef:
    """The Responses tool an upstream function stands for."""

    name: str
    namespace: str | None = None
    custom: bool = False


@dataclass
class ToolMap:
    """One request's tools as the upstream sees them, and the way back."""

    functions: list[dict[str, Any]] = field(default_factory=list)
    by_upstream: dict[str, ToolRef] = field(default_factory=dict)
    upstream_of: dict[ToolRef, str] = field(default_factory=dict)
    # Hosted tool types the upstream was not offered, in request order, without repeats.
    withheld: list[str] = field(default_factory=list)
    _plain: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, req: pb.CreateResponseRequest) -> ToolMap:
        """Map the request's tools (validated already: JSON objects with a type)."""
        tools = cls()
        # Plain function names are kept as they are, so flattened names must avoid them.
        tools._plain = {t.function.name for t in req.tools if t.WhichOneof("tool") == "function"}
        for index, tool in enumerate(req.tools):
            if tool.WhichOneof("tool") == "function":
                tools._add_function(tool.function, index)
                continue
            spec = json_value(tool.hosted_json)
            kind = spec.get("type") if isinstance(spec, dict) else None
            if kind == "custom":
                tools._add_custom(spec, f"tools[{index}]", namespace=None)
            elif kind == "namespace":
                tools._add_namespace(spec, f"tools[{index}]")
            elif isinstance(kind, str) and kind not in tools.withheld:
                tools.withheld.append(kind)
        return tools

    # --- request side ---------------------------------------------------------

    def _register(self, ref: ToolRef, description: str | None, parameters: Any) -> None:
        upstream = ref.name if ref.namespace is None else self._flat_name(ref.namespace, ref.name)
        self.by_upstream[upstream] = ref
        self.upstream_of[ref] = upstream
        function: dict[str, Any] = {"name": upstream}
        if description:
            function["description"] = description
        function["parameters"] = parameters
        self.functions.append({"type": "function", "function": function})

    def _flat_name(self, namespace: str, name: str) -> str:
        flat = f"{namespace}{NAMESPACE_SEPARATOR}{name}"
        if len(flat) <= MAX_NAME and flat not in self._plain and flat not in self.by_upstream:
            return flat
        # Too long or taken: a stable short form that still reads as the tool's name.
        digest = hashlib.sha256(f"{namespace}\0{name}".encode()).hexdigest()[:10]
        return f"{name[: MAX_NAME - len(digest) - 1]}_{digest}"

    def _add_function(self, fn: pb.FunctionTool, index: int) -> None:
        del index
        parameters = fragment(fn.parameters_json) if fn.HasField("parameters_json") else _EMPTY_OBJECT_SCHEMA
        self._register(ToolRef(fn.name), fn.description if fn.HasField("description") else None, parameters)

    def _add_custom(self, spec: dict[str, Any], path: str, *, namespace: str | None, prefix: str = "") -> None:
        name = _name(spec, path)
        description = _str(spec.get("description"))
        input_description = "The tool's whole input, as free-form text."
        fmt = spec.get("format")
        if isinstance(fmt, dict) and fmt.get("type") == "grammar":
            syntax, definition = _str(fmt.get("syntax")) or "lark", _str(fmt.get("definition")) or ""
            input_description = f"The tool's whole input. It must match this {syntax} grammar exactly:\n{definition}"
        parameters = {
            "type": "object",
            "properties": {"input": {"type": "string", "description": input_description}},
            "required": ["input"],
            "additionalProperties": False,
        }
        self._register(ToolRef(name, namespace, custom=True), prefix + (description or ""), parameters)

    def _add_namespace(self, spec: dict[str, Any], path: str) -> None:
        namespace = _name(spec, path)
        about = _str(spec.get("description"))
        prefix = f"[{namespace}: {about}] " if about else f"[{namespace}] "
        inner = spec.get("tools")
        if not isinstance(inner, list):
            raise InvalidRequest(f"Missing required parameter: '{path}.tools'.", code="missing_required_parameter", param=f"{path}.tools")
        for i, tool in enumerate(inner):
            tool_path = f"{path}.tools[{i}]"
            if not isinstance(tool, dict):
                raise InvalidRequest(f"Invalid type for '{tool_path}': expected an object.", code="invalid_type", param=tool_path)
            kind = tool.get("type")
            if kind == "function":
                name = _name(tool, tool_path)
                parameters = tool.get("parameters")
                self._register(
                    ToolRef(name, namespace),
                    prefix + (_str(tool.get("description")) or ""),
                    parameters if isinstance(parameters, dict) else _EMPTY_OBJECT_SCHEMA,
                )
            elif kind == "custom":
                self._add_custom(tool, tool_path, namespace=namespace, prefix=prefix)
            else:
                raise InvalidRequest(
                    f"Invalid value for '{tool_path}.type': a namespace holds function and custom tools.",
                    code="invalid_value",
                    param=f"{tool_path}.type",
                )

    def chat_tool_choice(self, choice: pb.ToolChoice, model: str) -> Any:
        """The Chat Completions `tool_choice` for a Responses one."""
        kind = choice.WhichOneof("choice")
        if kind == "function_name":
            return {"type": "function", "function": {"name": self.upstream_of.get(ToolRef(choice.function_name), choice.function_name)}}
        if kind == "allowed_tools":
            return choice.allowed_tools.mode
        if kind == "other_json":
            spec = json_value(choice.other_json)
            forced = spec.get("type") if isinstance(spec, dict) else None
            if forced == "custom" and isinstance(spec.get("name"), str):
                ref = ToolRef(spec["name"], _str(spec.get("namespace")), custom=True)
                if ref in self.upstream_of:
                    return {"type": "function", "function": {"name": self.upstream_of[ref]}}
                raise InvalidRequest(
                    f"Tool choice '{spec['name']}' not found in 'tools' parameter.", code="invalid_value", param="tool_choice"
                )
            raise InvalidRequest(
                f"tool_choice forces the hosted tool '{forced}', which model '{model}' cannot run: "
                "its provider offers only function and custom tools.",
                code="unsupported_tool_choice",
                param="tool_choice",
            )
        return choice.mode or "auto"

    def allowed(self, choice: pb.ToolChoice) -> list[dict[str, Any]]:
        """The functions an `allowed_tools` choice leaves the model (all of them otherwise)."""
        if choice.WhichOneof("choice") != "allowed_tools":
            return self.functions
        keep: set[str] = set()
        for text in choice.allowed_tools.tools_json:
            ref = json_value(text)
            if not isinstance(ref, dict):
                continue
            kind, name, namespace = ref.get("type"), _str(ref.get("name")), _str(ref.get("namespace"))
            if kind == "namespace" and name:
                keep.update(up for r, up in self.upstream_of.items() if r.namespace == name)
            elif kind in ("function", "custom") and name:
                upstream = self.upstream_of.get(ToolRef(name, namespace, custom=kind == "custom"))
                if upstream is not None:
                    keep.add(upstream)
        return [f for f in self.functions if f["function"]["name"] in keep]

    def chat_name(self, name: str, namespace: str | None, *, custom: bool) -> str:
        """The upstream function name of a call item sent back as history."""
        return self.upstream_of.get(ToolRef(name, namespace, custom=custom)) or (
            name if namespace is None else f"{namespace}{NAMESPACE_SEPARATOR}{name}"
        )

    # --- response side --------------------------------------------------------

    def call_item(self, upstream_name: str) -> ipb.Item:
        """A new, empty call item for a function the model called, of the kind its tool is."""
        ref = self.by_upstream.get(upstream_name)
        item = ipb.Item()
        if ref is not None and ref.custom:
            item.custom_tool_call.name = ref.name
            if ref.namespace is not None:
                item.custom_tool_call.namespace = ref.namespace
        else:
            item.function_call.name = ref.name if ref is not None else upstream_name
            if ref is not None and ref.namespace is not None:
                item.function_call.namespace = ref.namespace
        return item


def custom_input(arguments: str) -> str:
    """A custom tool's input from the arguments the model wrote for its function form.

    Models sometimes write the bare text instead of `{"input": …}`: then that text is the input.
    """
    try:
        value = orjson.loads(arguments) if arguments.lstrip().startswith("{") else None
    except orjson.JSONDecodeError:
        value = None
    if isinstance(value, dict) and isinstance(value.get("input"), str):
        return str(value["input"])
    return arguments


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _name(spec: dict[str, Any], path: str) -> str:
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"Missing required parameter: '{path}.name'.", code="missing_required_parameter", param=f"{path}.name")
    return name
