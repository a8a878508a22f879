"""The child process running llama.cpp's server, started on demand and restarted if it dies."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import secrets
import sys
from pathlib import Path

import orjson

from responses_gateway.config import LocalModelOptions
from responses_gateway.errors import LocalModelUnavailable

log = logging.getLogger(__name__)

_WORKER = "responses_gateway.providers.local.worker"


def default_threads() -> int:
    """One compute thread per core but one (left to the event loop), at most 8.

    Measured on 2 cores (bench/README.md): llama.cpp's threads synchronise at
    every op, so when the gateway's own work preempts one of them all wait; with
    one core left free, 4 streams through the gateway ran at 1.00 of direct
    instead of 0.32-0.69.
    """
    return max(1, min(8, (os.cpu_count() or 1) - 1))


class LocalEngine:
    """Owns the worker process; `address()` starts it (once, concurrently safe) and returns its URL."""

    def __init__(self, options: LocalModelOptions, model_path: Path, *, alias: str) -> None:
        self._options = options
        self._model_path = model_path
        self._alias = alias
        # Protects the loopback port: llama.cpp answers 401 without it.
        self.api_key = secrets.token_urlsafe(32)
        self._process: asyncio.subprocess.Process | None = None
        self._address: str | None = None
        self._lock = asyncio.Lock()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self._stderr_task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None and self._address is not None

    async def address(self) -> str:
        """`http://127.0.0.1:<port>` of the running server, starting it if needed."""
        if self.running:
            assert self._address is not None
            return self._address
        async with self._lock:
            if not self.running:
                await self._stop()
                await self._start()
            assert self._address is not None
            return self._address

    async def _start(self) -> None:
        settings = {
            "model_path": str(self._model_path),
            "slots": self._options.slots,
            "context_size": self._options.context_size,
            "threads": self._options.threads or default_threads(),
            "poll": self._options.poll,
            "api_key": self.api_key,
            "alias": self._alias,
        }
        log.info("starting the local model %s (%s, %d slots)", self._alias, self._model_path.name, self._options.slots)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            _WORKER,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self._process = process
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        self._stderr_tail.clear()
        self._stderr_task = asyncio.create_task(self._drain(process.stderr))
        process.stdin.write(orjson.dumps(settings) + b"\n")
        try:
            await process.stdin.drain()
            async with asyncio.timeout(self._options.load_timeout):
                line = await process.stdout.readline()
            address = orjson.loads(line)["address"] if line else None
        except (OSError, TimeoutError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            address = None
            log.warning("the local model did not start: %r", exc)
        if not isinstance(address, str):
            await self._stop()
            detail = " ".join(self._stderr_tail)[-500:]
            log.error("the local model failed to start: %s", detail or "no output")
            raise LocalModelUnavailable("The local model failed to start on this server.")
        self._address = address
        log.info("local model %s ready at %s", self._alias, address)

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        """Keep the last lines of llama.cpp's log for error messages; never let the pipe fill."""
        while line := await stream.readline():
            self._stderr_tail.append(line.decode(errors="replace").rstrip())

    async def _stop(self) -> None:
        process, self._process, self._address = self._process, None, None
        if process is not None and process.returncode is None:
            if process.stdin is not None:
                process.stdin.close()  # the worker exits when its stdin closes
            try:
                async with asyncio.timeout(5):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._stderr_task is not None:
            self._stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stderr_task
            self._stderr_task = None

    async def aclose(self) -> None:
        """Stop the worker (waits for a start in progress to finish first)."""
        async with self._lock:
            await self._stop()
