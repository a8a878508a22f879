"""Batches of whatever a stream produced while its consumer was busy writing.

A stream of events is read by a task of its own; the consumer takes, each
time it is ready, everything that piled up meanwhile. A burst (several events
from one upstream read) then costs one socket write or one gRPC message
instead of one each, while a lone event still goes out at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Generic, TypeVar

T = TypeVar("T")

# Past this many items waiting, the reader pauses until the consumer catches up.
MAX_PENDING = 1024


class _Pending(Generic[T]):
    def __init__(self) -> None:
        self.items: list[T] = []
        self.ready = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()
        self.done = False
        self.error: BaseException | None = None


async def _read(source: AsyncIterator[T], pending: _Pending[T]) -> None:
    try:
        async for item in source:
            pending.items.append(item)
            pending.ready.set()
            if len(pending.items) >= MAX_PENDING:
                pending.room.clear()
                await pending.room.wait()
    except Exception as exc:  # handed to the consumer, after what came before it
        pending.error = exc
    finally:
        pending.done = True
        pending.ready.set()


async def coalesced(source: AsyncIterator[T]) -> AsyncGenerator[list[T], None]:
    """Non-empty lists of `source`'s items, in order; its exception is raised after the items before it.

    Closing this generator (or cancelling its consumer) cancels the reading
    task and waits for it, so `source` is never read by two tasks at once.
    """
    pending: _Pending[T] = _Pending()
    reader = asyncio.create_task(_read(source, pending))
    try:
        while True:
            await pending.ready.wait()
            pending.ready.clear()
            if pending.items:
                batch, pending.items = pending.items, []
                pending.room.set()
                yield batch
            if pending.done and not pending.items:
                break
        if pending.error is not None:
            raise pending.error
    finally:
        if not reader.done():
            reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
