"""The bridge's listening socket under a burst of new connections."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from responses_gateway.config import Settings
from responses_gateway.bridge.server import run_bridge

BURST = 400


class _NoBackend:
    """/healthz never reaches the backend."""

    async def aclose(self) -> None:
        return None


async def _healthz(port: int) -> float:
    """Seconds from connect to the end of the reply, on a fresh connection."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
    await writer.drain()
    reply = await reader.read()
    writer.close()
    assert reply.startswith(b"HTTP/1.1 200"), reply[:80]
    return time.monotonic() - started


async def _serve_burst(backlog: int, tmp_path: Path) -> list[float]:
    settings = Settings(http_port=0, http_backlog=backlog, database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    async with run_bridge(settings, _NoBackend()) as bridge:  # type: ignore[arg-type]
        clients = asyncio.gather(*(_healthz(bridge.http_port) for _ in range(BURST)))
        # The loop is busy (a long request, a full collection) while the clients
        # connect: only the kernel's accept queue holds them meanwhile.
        await asyncio.sleep(0)
        time.sleep(0.3)
        return await asyncio.wait_for(clients, 30)


async def test_a_burst_of_clients_connecting_while_the_loop_is_busy_waits_in_the_queue_not_for_a_syn_retry(
    tmp_path: Path,
) -> None:
    waits = await _serve_burst(Settings().http_backlog, tmp_path)
    # A connection the kernel dropped is retried by its client after a full
    # second (TCP's initial retransmission timeout); a queued one is answered
    # as soon as the loop is free again.
    assert max(waits) < 1.0, f"slowest of {BURST} clients: {max(waits):.2f}s"
