"""A stream's bursts arrive as one batch; a lone item is not held back; failures come after what preceded them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from responses_gateway.service.coalesce import coalesced


async def bursts(*sizes: int, pause: float = 0.01) -> AsyncIterator[int]:
    n = 0
    for size in sizes:
        for _ in range(size):
            yield n
            n += 1
        await asyncio.sleep(pause)


async def test_items_produced_together_arrive_together_in_order() -> None:
    batches = [batch async for batch in coalesced(bursts(1, 5, 3))]
    assert [x for batch in batches for x in batch] == list(range(9))
    assert [len(b) for b in batches] == [1, 5, 3]


async def test_an_error_comes_after_the_items_before_it() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        yield 2
        raise ValueError("upstream broke")

    seen: list[int] = []
    with pytest.raises(ValueError, match="upstream broke"):
        async for batch in coalesced(failing()):
            seen += batch
    assert seen == [1, 2]


async def test_closing_early_stops_the_reader_and_closes_nothing_twice() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[int]:
        try:
            while True:
                yield 0
                await asyncio.sleep(0.001)
        finally:
            closed.set()

    async with contextlib.aclosing(coalesced(endless())) as batches:
        async for _ in batches:
            break
    assert closed.is_set()  # the reading task was cancelled and waited for
