"""The child process that hosts the model: `python -m responses_gateway.providers.local.worker`.

Reads one JSON line of settings on stdin (the API key travels there, never in
argv), loads the GGUF into `xllamacpp.Server` — llama.cpp's own server, which
listens on 127.0.0.1:<random port> and refuses requests without the key —
writes one JSON line `{"address": …}` on stdout, then waits for
stdin to close: the parent closing it, or dying, ends the process.

Why a child process: `xllamacpp.Server(...)` holds the GIL for the whole load
(measured: 0.85 s with no event-loop tick), and llama.cpp's compute threads
should not share an interpreter with the gateway's event loop. All traffic is
HTTP on the loopback port, so nothing needs to cross the process boundary but
the address.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def build_params(settings: dict[str, Any]) -> Any:
    """xllamacpp.CommonParams from the settings the parent sent."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = settings["model_path"]
    params.n_parallel = int(settings["slots"])
    # One KV cache shared by all slots (the model's window, not slots x window:
    # 4 separate 8k caches measured 940 MB RSS); a request may use all of it.
    params.kv_unified = True
    params.n_ctx = int(settings["context_size"])
    threads = int(settings["threads"])
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    poll = settings.get("poll")
    if poll is not None:  # llama.cpp busy-waits between ops (default 50 of 100); 0 yields the core
        params.cpuparams.poll = int(poll)
        params.cpuparams_batch.poll = int(poll)
    params.api_keys = [settings["api_key"]]
    params.model_alias = settings["alias"]
    params.port = 0
    params.ui = False
    params.verbosity = int(settings.get("verbosity", 0))
    return params


def main() -> int:
    line = sys.stdin.readline()
    if not line:
        return 2
    settings = json.loads(line)
    import xllamacpp

    server = xllamacpp.Server(build_params(settings))  # noqa: F841 - lives until exit
    sys.stdout.write(json.dumps({"address": server.listening_address}) + "\n")
    sys.stdout.flush()
    # Serve until the parent closes our stdin (or dies, which closes it too).
    while sys.stdin.buffer.read(65536):
        pass
    # Skip llama.cpp's destructors: its server threads occasionally deadlock on
    # teardown (seen once in a few runs); the OS reclaims everything anyway.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
