"""Writes of finished responses that run after their client was answered (write-behind).

A finished response's write (one commit, a hop to the writer thread) used to
sit between the last output event and `response.completed`. With write-behind
the client gets its answer first and the write runs beside the next request.
Every read of a response in this process first waits for that response's
write, so a client that follows `response.completed` with a GET, a DELETE or a
`previous_response_id` sees it stored: read-your-writes holds wherever every
read reaches this process (see `Settings.write_behind`). The number of writes
in flight is bounded; past it, answers wait for their writes again, which is
the back-pressure a store slower than its traffic needs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class PendingWrites:
    """The writes answered but not yet committed, by (tenant, response id)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.failed = 0  # writes that raised (tests and operators read it)

    def __len__(self) -> int:
        return len(self._tasks)

    def try_start(self, tenant_id: str, response_id: str, write: Coroutine[Any, Any, None]) -> bool:
        """Run `write` in the background if there is room; False (and `write` untouched) if not."""
        if len(self._tasks) >= self._limit:
            return False
        key = (tenant_id, response_id)
        task = asyncio.get_running_loop().create_task(write, name=f"write {response_id}")
        self._tasks[key] = task
        task.add_done_callback(lambda t: self._done(key, t))
        return True

    async def settled(self, tenant_id: str, response_id: str) -> None:
        """Wait until the write of that response (if one is pending) has committed or failed."""
        task = self._tasks.get((tenant_id, response_id))
        if task is not None:
            # wait(), not await: a reader that goes away must not cancel another request's write.
            await asyncio.wait([task])

    async def drain(self) -> None:
        """Wait for every pending write; on shutdown, before the store closes."""
        while self._tasks:
            await asyncio.wait(list(self._tasks.values()))

    def _done(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if task.cancelled():
            self.failed += 1
            log.error("the write of response %s was cancelled", key[1])
            return
        exc = task.exception()
        if exc is not None:
            self.failed += 1
            log.error("could not store response %s", key[1], exc_info=exc)
